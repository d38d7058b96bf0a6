"""The Anthropic and Ollama providers against loopback fakes speaking their wire formats."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.ollama import FakeOllama
from tests.fakes.provider import Reply
from tests.models.conftest import request
from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models.anthropic import AnthropicProvider
from tta_codegen.models.base import Stop, TextDelta, Usage
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.ollama import OllamaProvider


async def _run(
    provider: AnthropicProvider | OllamaProvider, model: str
) -> tuple[str, Usage | None]:
    text, usage = "", None
    try:
        async for item in provider.stream(ModelConfig(id=model, provider="p"), request("hi")):
            if isinstance(item, TextDelta):
                text += item.text
            elif isinstance(item, Usage):
                usage = item
    finally:
        await provider.aclose()
    return text, usage


async def test_anthropic_streams_text_and_cumulative_usage(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTH_KEY", "sk-ant-test-key-0123456789")
    fake_anthropic.add(
        Reply.text("```python\nx = 1\n```\n", usage={"input_tokens": 42, "output_tokens": 7})
    )
    provider = AnthropicProvider(
        "anth",
        ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url, api_key_env="ANTH_KEY"),
    )
    text, usage = await _run(provider, "claude-x")
    assert text == "```python\nx = 1\n```\n"  # ping and the unknown event were ignored
    assert usage == Usage(prompt_tokens=42, completion_tokens=7)  # last cumulative value
    sent = fake_anthropic.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test-key-0123456789"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body["system"] == "You write code."
    assert [m["role"] for m in sent.body["messages"]] == ["user"]
    assert sent.body["stream"] is True and sent.body["max_tokens"] == 1024


async def test_anthropic_base_url_with_v1_suffix(fake_anthropic: FakeAnthropic) -> None:
    provider = AnthropicProvider(
        "anth", ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url + "/v1")
    )
    text, _ = await _run(provider, "claude-x")
    assert "hello" in text and fake_anthropic.requests[0].path == "/v1/messages"


async def test_anthropic_529_is_retryable_overloaded(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.add(Reply(status=529))
    provider = AnthropicProvider(
        "anth", ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url)
    )
    with pytest.raises(ProviderError) as info:
        await _run(provider, "claude-x")
    assert info.value.status == 529 and info.value.kind == "overloaded" and info.value.retryable


async def test_anthropic_overloaded_inside_200_stream(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.add(
        Reply.text(
            "```python\n", stream_error={"type": "overloaded_error", "message": "Overloaded"}
        )
    )
    provider = AnthropicProvider(
        "anth", ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url)
    )
    with pytest.raises(ProviderError) as info:
        await _run(provider, "claude-x")
    assert info.value.kind == "overloaded" and info.value.retryable and info.value.status == 529
    assert "Overloaded" in str(info.value)


async def test_anthropic_invalid_request_in_stream_is_not_retryable(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.add(
        Reply.text("a", stream_error={"type": "invalid_request_error", "message": "bad"})
    )
    provider = AnthropicProvider(
        "anth", ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url)
    )
    with pytest.raises(ProviderError) as info:
        await _run(provider, "claude-x")
    assert not info.value.retryable


async def test_anthropic_stream_cut_before_message_stop(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.add(
        Reply(raw=["event: message_start", 'data: {"type":"message_start","message":{}}', ""])
    )
    provider = AnthropicProvider(
        "anth", ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url)
    )
    with pytest.raises(ProviderError) as info:
        await _run(provider, "claude-x")
    assert info.value.kind == "stream" and "message_stop" in str(info.value)


async def test_anthropic_missing_key_names_the_variable(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    provider = AnthropicProvider(
        "anth",
        ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url, api_key_env="NOPE_KEY"),
    )
    with pytest.raises(ProviderError, match="NOPE_KEY") as info:
        await _run(provider, "claude-x")
    assert not info.value.retryable and fake_anthropic.requests == []


async def test_ollama_streams_ndjson_with_eval_counts(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(
        Reply.text("```python\ny = 2\n```\n", usage={"prompt_eval_count": 11, "eval_count": 5})
    )
    provider = OllamaProvider("ol", ProviderConfig(kind="ollama", base_url=fake_ollama.base_url))
    text, usage = await _run(provider, "qwen:0.5b")
    assert text == "```python\ny = 2\n```\n"
    assert usage == Usage(prompt_tokens=11, completion_tokens=5)
    sent = fake_ollama.requests[0]
    assert sent.path == "/api/chat"
    assert sent.body["stream"] is True and sent.body["options"]["num_predict"] == 1024
    assert sent.body["messages"][0] == {"role": "system", "content": "You write code."}


async def test_ollama_error_line_mid_stream(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(Reply.text("abc", stream_error={"message": "model runner crashed"}))
    provider = OllamaProvider(
        "ol", ProviderConfig(kind="ollama", base_url=fake_ollama.base_url + "/v1")
    )
    with pytest.raises(ProviderError, match="model runner crashed") as info:
        await _run(provider, "m")
    assert info.value.retryable


async def test_ollama_unknown_model_is_not_retryable(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(Reply(status=404, error={"error": "model 'nope' not found"}))
    provider = OllamaProvider("ol", ProviderConfig(kind="ollama", base_url=fake_ollama.base_url))
    with pytest.raises(ProviderError, match="not found") as info:
        await _run(provider, "nope")
    assert not info.value.retryable and info.value.status == 404


async def test_ollama_dropped_stream(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(Reply.text("abcdefgh", size=2, drop_after=2))
    provider = OllamaProvider("ol", ProviderConfig(kind="ollama", base_url=fake_ollama.base_url))
    with pytest.raises(ProviderError) as info:
        await _run(provider, "m")
    assert info.value.kind == "stream" and info.value.retryable


async def _stops(provider: AnthropicProvider | OllamaProvider, model: str) -> list[str]:
    try:
        return [
            item.reason
            async for item in provider.stream(ModelConfig(id=model, provider="p"), request("hi"))
            if isinstance(item, Stop)
        ]
    finally:
        await provider.aclose()


@pytest.mark.parametrize(("finish", "expected"), [("length", "length"), ("stop", "stop")])
async def test_anthropic_max_tokens_stop_reason_is_a_length_stop(
    fake_anthropic: FakeAnthropic, finish: str, expected: str
) -> None:
    fake_anthropic.add(Reply.text("```python\nx = ", finish_reason=finish))
    provider = AnthropicProvider(
        "anth", ProviderConfig(kind="anthropic", base_url=fake_anthropic.base_url)
    )
    assert set(await _stops(provider, "claude-x")) == {expected}


@pytest.mark.parametrize(("finish", "expected"), [("length", "length"), ("stop", "stop")])
async def test_ollama_done_reason_length_is_a_length_stop(
    fake_ollama: FakeOllama, finish: str, expected: str
) -> None:
    fake_ollama.add(Reply.text("```python\nx = ", finish_reason=finish))
    provider = OllamaProvider("oll", ProviderConfig(kind="ollama", base_url=fake_ollama.base_url))
    assert await _stops(provider, "qwen") == [expected]


@pytest.mark.parametrize("kind", ["anthropic", "ollama"])
async def test_one_connection_serves_consecutive_streams(
    kind: str, fake_anthropic: FakeAnthropic, fake_ollama: FakeOllama
) -> None:
    """Read to the body's end after the stream's last event: the connection is pooled."""
    fake = fake_anthropic if kind == "anthropic" else fake_ollama
    provider: AnthropicProvider | OllamaProvider = (
        AnthropicProvider("p", ProviderConfig(kind="anthropic", base_url=fake.base_url))
        if kind == "anthropic"
        else OllamaProvider("p", ProviderConfig(kind="ollama", base_url=fake.base_url))
    )
    model = ModelConfig(id="m", provider="p")
    try:
        for _ in range(3):
            text = [
                i.text
                async for i in provider.stream(model, request("hi"))
                if isinstance(i, TextDelta)
            ]
            assert "hello" in "".join(text)
    finally:
        await provider.aclose()
    assert len(fake.requests) == 3
    assert fake.connections == 1
