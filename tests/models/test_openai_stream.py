"""The OpenAI-compatible client against real SSE on loopback, with each server's quirks."""

from __future__ import annotations

import json

import pytest

from tests.fakes.provider import FakeProvider, Reply
from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models.base import ChatMessage, ModelRequest, TextDelta, Usage
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.openai import OpenAIProvider

MODEL = ModelConfig(id="m", provider="p")
REQ = ModelRequest([ChatMessage("user", "hi")], max_tokens=10)


def chunk(text: str | None = None, **extra: object) -> str:
    choice: dict[str, object] = {"index": 0, "delta": {"content": text} if text else {}}
    return "data: " + json.dumps({"choices": [choice], **extra})


async def collect(fake: FakeProvider, **pconf: object) -> tuple[str, Usage | None]:
    provider = OpenAIProvider("p", ProviderConfig(base_url=fake.base_url, **pconf))  # type: ignore[arg-type]
    text, usage = [], None
    try:
        async for item in provider.stream(MODEL, REQ):
            if isinstance(item, TextDelta):
                text.append(item.text)
            elif isinstance(item, Usage):
                usage = item
    finally:
        await provider.aclose()
    return "".join(text), usage


async def test_openrouter_comments_null_choices_and_reported_cost(fake: FakeProvider) -> None:
    fake.add(
        Reply(
            raw=[
                ": OPENROUTER PROCESSING",
                "",
                chunk("Hel"),
                "",
                'data: {"choices": null}',
                "",
                chunk("lo"),
                "",
                'data: {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2, "cost": 0.00042}}',
                "",
                "data: [DONE]",
                "",
            ]
        )
    )
    text, usage = await collect(fake)
    assert text == "Hello"
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (7, 2)
    assert usage.cost_usd == pytest.approx(0.00042)


async def test_json_split_over_data_lines_and_event_fields(fake: FakeProvider) -> None:
    fake.add(
        Reply(
            raw=[
                "event: message",
                'data: {"choices": [{"delta":',
                'data: {"content": "ok"}}]}',
                "",
                "data: [DONE]",
                "",
            ]
        )
    )
    text, _ = await collect(fake)
    assert text == "ok"


async def test_error_inside_200_stream_and_finish_reason_error(fake: FakeProvider) -> None:
    fake.add(
        Reply(
            raw=[
                chunk("a"),
                "",
                'data: {"error": {"message": "Rate limit exceeded", "code": 429}}',
                "",
            ]
        )
    )
    with pytest.raises(ProviderError) as info:
        await collect(fake)
    assert info.value.kind == "rate_limit" and info.value.retryable
    fake.rules.clear()
    fake.add(
        Reply(
            raw=[
                json.dumps({}) and 'data: {"choices": [{"delta": {}, "finish_reason": "error"}]}',
                "",
            ]
        )
    )
    with pytest.raises(ProviderError):
        await collect(fake)


async def test_malformed_json_is_a_stream_error(fake: FakeProvider) -> None:
    fake.add(Reply(raw=["data: {not json", "", "data: [DONE]", ""]))
    with pytest.raises(ProviderError) as info:
        await collect(fake)
    assert "malformed" in str(info.value)


async def test_http_errors_are_typed_with_retry_after(fake: FakeProvider) -> None:
    fake.add(
        Reply(status=429, error={"error": {"message": "slow down"}}, headers={"retry-after": "7"}),
        times=1,
    )
    fake.add(Reply(status=401, error={"error": {"message": "bad key"}}), times=1)
    fake.add(
        Reply(status=400, error={"error": {"message": "maximum context length is 4096 tokens"}}),
        times=1,
    )
    with pytest.raises(ProviderError) as e1:
        await collect(fake)
    assert (e1.value.status, e1.value.kind, e1.value.retry_after, e1.value.retryable) == (
        429,
        "rate_limit",
        7.0,
        True,
    )
    with pytest.raises(ProviderError) as e2:
        await collect(fake)
    assert (e2.value.kind, e2.value.retryable) == ("auth", False) and "bad key" in str(e2.value)
    with pytest.raises(ProviderError) as e3:
        await collect(fake)
    assert e3.value.kind == "context_length"


async def test_key_sent_as_bearer_from_env_and_never_in_errors(
    fake: FakeProvider, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    key = "sk-test-abcdefghijklmnopqrstuvwxyz012345"
    monkeypatch.setenv("MY_KEY", key)
    fake.add(Reply(status=401, error={"error": {"message": f"Incorrect API key provided: {key}"}}))
    with pytest.raises(ProviderError) as info:
        await collect(fake, api_key_env="MY_KEY")
    assert fake.requests[0].headers["authorization"] == f"Bearer {key}"
    assert key not in str(info.value) and "[REDACTED]" in str(info.value)
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(ProviderError) as missing:
        await collect(fake, api_key_env="MY_KEY")
    assert "MY_KEY is not set" in str(missing.value)


async def test_one_connection_serves_consecutive_streams(fake: FakeProvider) -> None:
    """The body's end after ``[DONE]`` is read, so the pooled connection is reused (a new
    one per request would cost a TCP, and for a real provider a TLS, handshake)."""
    fake.add(Reply.text("```python\nx = 1\n```\n"))
    provider = OpenAIProvider("p", ProviderConfig(base_url=fake.base_url))
    try:
        for _ in range(3):
            text = [i.text async for i in provider.stream(MODEL, REQ) if isinstance(i, TextDelta)]
            assert "".join(text) == "```python\nx = 1\n```\n"
    finally:
        await provider.aclose()
    assert len(fake.requests) == 3
    assert fake.connections == 1
