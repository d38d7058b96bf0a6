"""The embedded provider on the REAL shipped model (SmolLM2-135M-Instruct via llama.cpp)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guards import HANG_GUARD_S, SLOW_HANG_GUARD_S
from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models import llamacpp
from tta_codegen.models.base import ChatMessage, ModelRequest, Stop, TextDelta, Usage
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.llamacpp import LlamaCppProvider

pytestmark = pytest.mark.slow

MODEL = ModelConfig(id="smollm2-135m-instruct", provider="embedded")
# One llama.cpp thread: on cores busy with other work, several threads wait on each other at
# every token (a generation measured 1 tok/s with 2 threads at load 9, 7 tok/s with one).
# Every provider here uses the same settings, so the process loads the model once.
ONE_THREAD = {"kind": "llamacpp", "n_threads": 1}


def provider() -> LlamaCppProvider:
    return LlamaCppProvider("embedded", ProviderConfig(**ONE_THREAD))


def ask(text: str, max_tokens: int) -> ModelRequest:
    return ModelRequest(
        [ChatMessage("system", "You write Python."), ChatMessage("user", text)],
        max_tokens=max_tokens,
        temperature=0.2,
    )


async def collect(p: LlamaCppProvider, request: ModelRequest) -> tuple[list[str], list[Usage]]:
    """The text deltas and the Usage items of one stream (its Stop is checked on its own)."""
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
    items = [
        item async for item in p.stream(MODEL, ask("Write a function that adds two numbers.", 12))
    ]
    deltas = [i.text for i in items if isinstance(i, TextDelta)]
    assert deltas and "".join(deltas).strip()
    # The text, then why it ended (cut off at max_tokens, or ended on its own), then one Usage.
    *text, stop, usage = items
    assert all(isinstance(i, TextDelta) for i in text)
    assert isinstance(stop, Stop) and stop.reason in ("length", "stop")
    assert isinstance(usage, Usage)
    assert usage.prompt_tokens > 10  # the chat template wraps the two messages
    assert 0 < usage.completion_tokens <= 13  # max_tokens (+ the sample that hit the cap)
    assert usage.cost_usd == 0.0
    assert p.last_run is not None and p.last_run.stopped in ("length", "eos", "fence")
    assert p.last_run.threads == 1  # the configured count, whatever the load


async def test_closing_aclose_mid_stream_stops_generation_within_a_token() -> None:
    p = provider()
    stream = p.stream(MODEL, ask("Write a very long story about a dragon and a city.", 2000))
    seen = 0
    async for item in stream:
        if isinstance(item, TextDelta):
            seen += 1
            if seen == 3:
                break
    await stream.aclose()
    run = p.last_run
    assert run is not None and run.stopped == "cancelled"
    # Stopped early, not after 2000 tokens. How many tokens the worker sampled before the
    # flag was seen depends on how far it ran ahead while this loop was busy (a loaded
    # machine), so the bound is loose; it is a count, never a time.
    assert run.completion_tokens < 100


async def test_cancelling_the_consumer_task_stops_generation() -> None:
    p = provider()
    first = asyncio.Event()

    async def consume() -> None:
        async for item in p.stream(MODEL, ask("Count from one to one thousand in words.", 2000)):
            if isinstance(item, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), SLOW_HANG_GUARD_S)  # may include loading the model
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run = p.last_run
    assert run is not None and run.stopped == "cancelled" and run.completion_tokens < 100
    # The model is free again: the next request runs (the guard only catches a model
    # left locked by the cancelled run, which would hang here).
    deltas, _ = await asyncio.wait_for(collect(p, ask("Say hi.", 4)), HANG_GUARD_S)
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
    again = await LlamaCppProvider("other", ProviderConfig(**ONE_THREAD)).load()
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
        "mine", ProviderConfig(**ONE_THREAD, model_path=str(tmp_path / "nope.gguf"))
    )
    with pytest.raises(ProviderError) as info:
        await collect(p, ask("hi", 4))
    message = str(info.value)
    assert "nope.gguf" in message and "providers.mine.model_path" in message
    assert info.value.retryable is False


async def test_a_file_that_is_not_gguf_is_an_actionable_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    p = LlamaCppProvider("mine", ProviderConfig(**ONE_THREAD, model_path=str(bad)))
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
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=True,
    )
    assert "pip install 'tta-codegen[local]'" in out.stdout
    assert "llama-cpp-python" in out.stdout


async def test_prompt_longer_than_the_context_is_a_context_length_error() -> None:
    p = LlamaCppProvider("small", ProviderConfig(**ONE_THREAD, n_ctx=256))
    with pytest.raises(ProviderError) as info:
        await collect(p, ask("word " * 600, 4))
    assert info.value.kind == "context_length"
