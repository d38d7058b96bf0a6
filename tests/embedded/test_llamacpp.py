"""The embedded provider on the REAL shipped model (SmolLM2-135M-Instruct via llama.cpp)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models import llamacpp
from tta_codegen.models.base import ChatMessage, ModelRequest, Stop, TextDelta, Usage
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.llamacpp import LlamaCppProvider

pytestmark = pytest.mark.slow

MODEL = ModelConfig(id="smollm2-135m-instruct", provider="embedded")


def provider() -> LlamaCppProvider:
    return LlamaCppProvider("embedded", ProviderConfig(kind="llamacpp"))


def ask(text: str, max_tokens: int) -> ModelRequest:
    return ModelRequest(
        [ChatMessage("system", "You write Python."), ChatMessage("user", text)],
        max_tokens=max_tokens,
        temperature=0.2,
    )


async def collect(p: LlamaCppProvider, request: ModelRequest) -> tuple[list[str], list[Usage]]:
    deltas: list[str] = []
    usages: list[Usage] = []
    async for item in p.stream(MODEL, request):
        if isinstance(item, TextDelta):
            deltas.append(item.text)
        elif isinstance(item, Usage):
            usages.append(item)
    return deltas, usages


async def test_a_reply_cut_by_max_tokens_ends_with_a_length_stop() -> None:
    p = provider()
    items = [item async for item in p.stream(MODEL, ask("Write a long Python module.", 6))]
    stops = [item.reason for item in items if isinstance(item, Stop)]
    assert p.last_run is not None and p.last_run.stopped == "length"
    assert stops == ["length"]
    assert isinstance(items[-1], Usage)


async def test_generates_tokens_with_usage_from_the_shipped_model() -> None:
    p = provider()
    deltas, usages = await collect(p, ask("Write a function that adds two numbers.", 12))
    assert deltas and "".join(deltas).strip()
    assert len(usages) == 1  # exactly one Usage, after the text
    usage = usages[0]
    assert usage.prompt_tokens > 10  # the chat template wraps the two messages
    assert 0 < usage.completion_tokens <= 13  # max_tokens (+ the sample that hit the cap)
    assert usage.cost_usd == 0.0
    assert p.last_run is not None and p.last_run.stopped in ("length", "eos", "fence")


async def test_closing_aclose_mid_stream_stops_generation_within_a_token() -> None:
    p = provider()
    stream = p.stream(MODEL, ask("Write a very long story about a dragon and a city.", 2000))
    seen = 0
    async for item in stream:
        if isinstance(item, TextDelta):
            seen += 1
            if seen == 3:
                break
    started = time.perf_counter()
    await stream.aclose()
    assert time.perf_counter() - started < 5  # loose: 2 shared cores
    run = p.last_run
    assert run is not None and run.stopped == "cancelled"
    assert run.completion_tokens < 15  # stopped at once, not after 2000 tokens


async def test_cancelling_the_consumer_task_stops_generation() -> None:
    p = provider()
    first = asyncio.Event()

    async def consume() -> None:
        async for item in p.stream(MODEL, ask("Count from one to one thousand in words.", 2000)):
            if isinstance(item, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run = p.last_run
    assert run is not None and run.stopped == "cancelled" and run.completion_tokens < 100
    # The model is free again at once: the next request gets its first token quickly.
    deltas, _ = await asyncio.wait_for(collect(p, ask("Say hi.", 4)), 30)
    assert deltas


async def test_model_loads_once_per_process_and_off_the_event_loop() -> None:
    llamacpp.unload_all()
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    first = await provider().load()
    stop.set()
    await ticking
    assert ticks >= 3, "the event loop was blocked while the model loaded"
    assert first.load_s > 0
    # A second provider (a config reload builds new ones) reuses the same model.
    again = await LlamaCppProvider("other", ProviderConfig(kind="llamacpp")).load()
    assert again is first


async def test_two_requests_at_once_take_turns_and_both_finish() -> None:
    p = provider()
    a, b = await asyncio.gather(
        collect(p, ask("Write a function that doubles a number.", 8)),
        collect(p, ask("Write a function that halves a number.", 8)),
    )
    assert a[0] and b[0] and a[1] and b[1]


async def test_missing_model_file_is_an_actionable_error(tmp_path: Path) -> None:
    p = LlamaCppProvider(
        "mine", ProviderConfig(kind="llamacpp", model_path=str(tmp_path / "nope.gguf"))
    )
    with pytest.raises(ProviderError) as info:
        await collect(p, ask("hi", 4))
    message = str(info.value)
    assert "nope.gguf" in message and "providers.mine.model_path" in message
    assert info.value.retryable is False


async def test_a_file_that_is_not_gguf_is_an_actionable_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    p = LlamaCppProvider("mine", ProviderConfig(kind="llamacpp", model_path=str(bad)))
    with pytest.raises(ProviderError) as info:
        await collect(p, ask("hi", 4))
    assert "cannot load" in str(info.value) and "broken.gguf" in str(info.value)


def test_missing_runtime_says_how_to_install() -> None:
    # A real interpreter in which llama_cpp cannot be imported.
    code = (
        "import sys, asyncio\n"
        "sys.modules['llama_cpp'] = None\n"
        "from tta_codegen.config import ModelConfig, ProviderConfig\n"
        "from tta_codegen.models.base import ChatMessage, ModelRequest\n"
        "from tta_codegen.models.errors import ProviderError\n"
        "from tta_codegen.models.llamacpp import LlamaCppProvider\n"
        "async def main():\n"
        "    p = LlamaCppProvider('embedded', ProviderConfig(kind='llamacpp'))\n"
        "    m = ModelConfig(id='x', provider='embedded')\n"
        "    try:\n"
        "        async for _ in p.stream(m, ModelRequest([ChatMessage('user', 'hi')])):\n"
        "            pass\n"
        "    except ProviderError as exc:\n"
        "        print(exc)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "pip install 'tta-codegen[local]'" in out.stdout
    assert "llama-cpp-python" in out.stdout


async def test_prompt_longer_than_the_context_is_a_context_length_error() -> None:
    p = LlamaCppProvider("small", ProviderConfig(kind="llamacpp", n_ctx=256))
    with pytest.raises(ProviderError) as info:
        await collect(p, ask("word " * 600, 4))
    assert info.value.kind == "context_length"
