"""Side by side with tabby-agent: the same edit, the same fake model, one run, interleaved.

tabby-agent (TabbyML/tabby's ``clients/tabby-agent``, the one peer that streams an edit
into the editor's document) is never shipped or built by the benchmark: the user builds it
from a TabbyML/tabby checkout with ``scripts/build-tabby-agent.sh`` (docs/performance.md)
and names its bundle in ``TTA_BENCH_TABBY_AGENT``. Without it only our
side runs and the report says tabby-agent was skipped.

Three language servers run at once over stdio, each driven by the test suite's editor
(``tests/lsp/harness.py``'s :class:`Editor`, which applies edits to its own copy of the
document and answers at once): tabby-agent's chat edit (``tabby/chat/edit``), our
``tta.generate`` with the default config (review lenses, default gates) and with the fast
config (gates and refinement off). Each run asks each of them in turn (the order rotates) for
the same code from the same loopback fake provider, which streams 7-character chunks every
5 ms. The fake stamps every chunk as it writes it (:class:`benchmarks._common.ChunkClock`),
so each figure is what the client adds to the model:

- first code line: when the editor's document first holds the reply's first code line, whole,
  minus when the fake wrote the chunk that completed it (``first_line_after_model``); and
  the same counted from the request (``first_line_added``: our side's time to ask the model
  is in it);
- answer: when the request is answered minus when the fake wrote its last chunk
  (``last_token_to_answer``), and counted from the request (``answer_added``). The fake
  writes the finish, usage and ``[DONE]`` events right behind the last chunk, in the same
  step without a pause, so this is the ``[DONE]`` time; it is not stamped on ``[DONE]``
  itself because our client hangs up at the closing fence, and then ``[DONE]`` is
  sometimes never written;
- traffic: applyEdit requests and the bytes of their new text, per run.

Each client gets the reply in the format its prompt asks for (a fenced block for us,
``<GENERATEDCODE>`` tags for tabby-agent) around the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import JsonRPCRequestMessage
from pytest_lsp import LanguageClient
from tests.fakes.provider import FakeProvider, Reply, Rule
from tests.lsp.harness import (
    Editor,
    provider_settings,
    serve_command,
    server_env,
    start_editor,
    stop_editor,
)

from benchmarks._common import BenchmarkError, ChunkClock, summary_ms
from benchmarks.lsp_bench import FAST, wait_for_index

ENV_VAR = "TTA_BENCH_TABBY_AGENT"
TABBY_APPLY_EDIT = "tabby/workspace/applyEdit"
TABBY_CHAT_EDIT = "tabby/chat/edit"
# tabby-agent's chat-edit prompts ask for this (and only they do): the fake's rule for it.
TABBY_PROMPT_MARK = "<GENERATEDCODE></GENERATEDCODE>"
PREFIX = '"""Geometry helpers."""\n\n'
CODE = (
    "def area(width, height):\n"
    "    return width * height\n"
    "\n\n"
    "def perimeter(width, height):\n"
    '    """Perimeter of a width x height rectangle."""\n'
    "    return 2 * (width + height)\n"
    "\n\n"
    "def is_square(width, height):\n"
    '    """Whether the rectangle is a square."""\n'
    "    return width == height\n"
)
FIRST_LINE = CODE.splitlines()[0]
# What each client's prompt asks the model to wrap the code in.
TTA_REPLY = "```python\n" + CODE + "```\n"
TABBY_REPLY = "<GENERATEDCODE>" + CODE + "</GENERATEDCODE>"
# Hang guards only (nothing compares a duration with them): a generation here takes ~0.2 s.
STEP_TIMEOUT = 60.0
START_TIMEOUT = 120.0


@dataclass
class TabbyBenchConfig:
    agent: Path | None = None  # tabby-agent's dist/node/index.js; None: our side only
    runs: int = 30
    warmup: int = 3
    chunk_chars: int = 7
    chunk_delay: float = 0.005
    first_delay: float = 0.0  # the fake's time to the first chunk
    gap: float = 0.05  # pause between two generations, so one's tail never overlaps the next


def agent_from_env() -> Path | None:
    """The tabby-agent bundle named in ``TTA_BENCH_TABBY_AGENT``, checked; None when unset.

    A set but unusable value is an error (the user asked for the comparison), not a skip.
    """
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise BenchmarkError(
            f"{ENV_VAR}={raw}: no such file; point it at the tabby-agent bundle "
            "(dist/node/index.js) that scripts/build-tabby-agent.sh builds (docs/performance.md), "
            "or unset it"
        )
    if not (path.parent / "wasm").is_dir():
        raise BenchmarkError(
            f"{ENV_VAR}={raw}: no wasm/ folder beside the bundle; copy tabby-agent's wasm/ "
            "there, as scripts/build-tabby-agent.sh does (docs/performance.md)"
        )
    if shutil.which("node") is None:
        raise BenchmarkError(f"{ENV_VAR} is set but `node` is not on PATH (tabby-agent needs it)")
    return path


@dataclass
class Probe:
    """What one generation did to its document, as the editor saw it."""

    uri: str
    first_line_at: float | None = None
    edits: int = 0
    edit_bytes: int = 0


def _edit_bytes(edit: types.WorkspaceEdit) -> int:
    total = 0
    for dc in edit.document_changes or []:
        if isinstance(dc, types.TextDocumentEdit):
            total += sum(
                len(e.new_text.encode()) for e in dc.edits if isinstance(e, types.TextEdit)
            )
    for changes in (edit.changes or {}).values():
        total += sum(len(e.new_text.encode()) for e in changes)
    return total


@dataclass
class Side:
    """One language server under test and the editor that drives it."""

    name: str
    editor: Editor
    ask: Callable[[Side, str], Any]  # sends the request for a document; returns the answer
    check: Callable[[Side, str, Any], str | None]  # what is wrong with the outcome, if anything
    probe: Probe | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    edits: list[int] = field(default_factory=list)
    edit_bytes: list[int] = field(default_factory=list)

    def apply(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        """The editor applies the edit at once; the probe notes when the first line is whole."""
        result = self.editor.apply_edit(params)
        probe = self.probe
        if probe is not None and result.applied:
            probe.edits += 1
            probe.edit_bytes += _edit_bytes(params.edit)
            if probe.first_line_at is None and (
                f"\n{FIRST_LINE}\n" in "\n" + self.editor.text(probe.uri)
            ):
                probe.first_line_at = time.perf_counter()
        return result

    def add(self, key: str, value: float) -> None:
        self.samples.setdefault(key, []).append(value)


def _structure_tabby_apply_edit(client: LanguageClient) -> None:
    """Decode ``tabby/workspace/applyEdit`` params as ``workspace/applyEdit``'s.

    pygls decodes the params of a method it does not know into namedtuples, which lose the
    document URIs that key ``WorkspaceEdit.changes``; this hook gives the handler the real
    :class:`types.ApplyWorkspaceEditParams` (tabby's extra ``options`` are undo stops).
    """
    converter = client.protocol._converter
    default = converter.get_structure_hook(JsonRPCRequestMessage)

    def hook(obj: dict[str, Any], cls: type) -> Any:
        if obj.get("method") == TABBY_APPLY_EDIT:
            params = obj.get("params") or {}
            obj = dict(obj)
            obj["params"] = converter.structure(
                {"edit": params.get("edit") or {}, "label": params.get("label")},
                types.ApplyWorkspaceEditParams,
            )
            return cls(**obj)
        return default(obj, cls)

    converter.register_structure_hook(JsonRPCRequestMessage, hook)


async def _start(
    name: str,
    command: list[str],
    root: Path,
    init_options: dict[str, Any],
    env: dict[str, str],
    ask: Callable[[Side, str], Any],
    check: Callable[[Side, str, Any], str | None],
) -> Side:
    """Start a server with the harness's ``start_editor`` (VS Code capabilities), its edits
    applied through :meth:`Side.apply`, which also times them, for both servers alike."""
    root.mkdir(parents=True, exist_ok=True)
    side: Side | None = None

    def apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        # Edits come only from a generation, so after ``side`` is set below.
        assert side is not None
        return side.apply(params)

    try:
        editor = await start_editor(
            root,
            init_options,
            env=env,
            server_command=command,
            apply=apply,
            client_info=types.ClientInfo(name="tta-benchmark", version="1"),
            timeout=START_TIMEOUT,
        )
    except Exception as exc:
        raise BenchmarkError(f"{name} ({' '.join(command)}) did not initialise: {exc}") from exc
    side = Side(name, editor, ask, check)
    _structure_tabby_apply_edit(editor.client)

    @editor.client.feature(TABBY_APPLY_EDIT)
    def _tabby_apply(params: types.ApplyWorkspaceEditParams) -> bool:
        # What the Tabby VS Code extension answers: applied or not, in one round trip.
        return apply(params).applied

    return side


def _location(uri: str) -> dict[str, Any]:
    pos = {"line": PREFIX.count("\n"), "character": 0}
    return {"uri": uri, "range": {"start": pos, "end": pos}}


async def _ask_tta(side: Side, uri: str) -> Any:
    args = {
        "textDocument": {"uri": uri},
        "position": _location(uri)["range"]["start"],
        "description": "rectangle helpers: area, perimeter, is_square",
    }
    return await side.editor.execute("tta.generate", args)


def _check_tta(side: Side, uri: str, answer: Any) -> str | None:
    if not isinstance(answer, dict) or answer.get("status") != "completed":
        return f"answered {answer!r}"
    # Equal but for blank lines: the server frames inserted definitions the PEP 8 way.
    if side.editor.text(uri).split() != (PREFIX + CODE).split():
        return f"left {side.editor.text(uri)!r}"
    return None


async def _ask_tabby(side: Side, uri: str) -> Any:
    params = {
        "location": _location(uri),
        "command": "rectangle helpers: area, perimeter, is_square",
        "format": "previewChanges",
    }
    return await side.editor.client.protocol.send_request_async(TABBY_CHAT_EDIT, params)


def _check_tabby(side: Side, uri: str, answer: Any) -> str | None:
    if not isinstance(answer, str) or not answer.startswith("tabby-"):
        return f"answered {answer!r}"
    text = side.editor.text(uri)
    # The preview keeps the code between tabby's header and footer marker lines.
    if CODE not in text or f">>>>>>> {answer} " not in text:
        return f"left {text!r}"
    return None


def _line_written_at(clock: ChunkClock, needle: str) -> float:
    """When the fake wrote the chunk that completed ``needle`` (its newline included)."""
    text = ""
    for sent in clock.sent:
        text += sent.text
        if needle in text:
            return sent.at
    raise BenchmarkError(f"the fake never sent {needle!r}")


def _check_chunking(cfg: TabbyBenchConfig) -> None:
    """The first line's newline must not open a chunk: its text would be whole one chunk
    early, and a client showing partial lines (tabby-agent does) would show it before the
    model "produced" it."""
    for reply in (TTA_REPLY, TABBY_REPLY):
        newline = reply.index(FIRST_LINE + "\n") + len(FIRST_LINE)
        if newline % cfg.chunk_chars == 0:
            raise BenchmarkError(
                f"chunk size {cfg.chunk_chars} splits the first code line right before its "
                "newline; pick another size"
            )


async def _one(side: Side, fake: FakeProvider, clock: ChunkClock, i: int, keep: bool) -> None:
    uri = side.editor.open(f"{side.name}-{i}.py", PREFIX)
    side.probe = probe = Probe(uri)
    asked = len(fake.requests)
    clock.clear()
    t_sent = time.perf_counter()
    try:
        answer = await asyncio.wait_for(side.ask(side, uri), STEP_TIMEOUT)
    except TimeoutError as exc:
        raise BenchmarkError(f"{side.name}: run {i} was not answered") from exc
    except Exception as exc:
        raise BenchmarkError(f"{side.name}: run {i} failed: {exc!r}") from exc
    t_answer = time.perf_counter()
    side.probe = None
    problem = side.check(side, uri, answer)
    if problem:
        raise BenchmarkError(f"{side.name}: run {i} {problem}")
    chats = [r for r in fake.requests[asked:] if r.path.rstrip("/").endswith("/chat/completions")]
    if len(chats) != 1:
        raise BenchmarkError(f"{side.name}: run {i} made {len(chats)} model requests, not 1")
    if probe.first_line_at is None:
        raise BenchmarkError(
            f"{side.name}: run {i} never showed the first code line whole "
            f"({probe.edits} edits seen, {len(clock.sent)} chunks sent)"
        )
    arrival = chats[0].at
    line_at = _line_written_at(clock, FIRST_LINE + "\n")
    side.editor.close(uri)
    if not keep:
        return
    side.add("first_line_after_model", probe.first_line_at - line_at)
    side.add("first_line_added", (probe.first_line_at - t_sent) - (line_at - arrival))
    side.add("last_token_to_answer", t_answer - clock.last())
    side.add("answer_added", (t_answer - t_sent) - (clock.last() - arrival))
    side.add("request_to_model", arrival - t_sent)
    side.add("model_first_line", line_at - arrival)
    side.add("model_last_token", clock.last() - arrival)
    side.edits.append(probe.edits)
    side.edit_bytes.append(probe.edit_bytes)


def _report(side: Side) -> dict[str, Any]:
    s = side.samples
    return {
        "first_line_after_model": summary_ms(s["first_line_after_model"]),
        "first_line_added": summary_ms(s["first_line_added"]),
        "last_token_to_answer": summary_ms(s["last_token_to_answer"]),
        "answer_added": summary_ms(s["answer_added"]),
        "request_to_model": summary_ms(s["request_to_model"]),
        "model_first_line": summary_ms(s["model_first_line"]),
        "model_last_token": summary_ms(s["model_last_token"]),
        "apply_edits_per_run": statistics.median_low(side.edits),
        "edit_bytes_per_run": statistics.median_low(side.edit_bytes),
        "code_bytes": len(CODE.encode()),
        "bytes_ratio_to_code": round(
            statistics.median_low(side.edit_bytes) / len(CODE.encode()), 2
        ),
    }


async def _wait_for_health(fake: FakeProvider) -> None:
    """tabby-agent enables chat edit once its health check named a chat model."""
    deadline = time.perf_counter() + START_TIMEOUT
    while not any(r.path.rstrip("/").endswith("/v1/health") for r in fake.requests):
        if time.perf_counter() > deadline:
            raise BenchmarkError("tabby-agent never asked the fake's /v1/health")
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # its answer reaches the chat feature through an event


async def _sides(cfg: TabbyBenchConfig, fake: FakeProvider, home: Path) -> list[Side]:
    sides: list[Side] = []
    tta = serve_command()
    try:
        for name, extra in (("tta-default", {}), ("tta-fast", FAST)):
            h = home / name
            side = await _start(
                name,
                tta,
                h / "ws",
                provider_settings(fake.base_url, ["fake-a"], **extra),
                server_env(home=h),
                _ask_tta,
                _check_tta,
            )
            sides.append(side)
            await wait_for_index(side.editor, START_TIMEOUT)
        if cfg.agent is not None:
            h = home / "tabby-agent"
            env = server_env(home=h) | {"HOME": str(h), "NO_PROXY": "127.0.0.1,localhost"}
            options = {
                "config": {
                    "server": {"endpoint": f"http://127.0.0.1:{fake.port}"},
                    "anonymousUsageTracking": {"disable": True},
                }
            }
            command = ["node", str(cfg.agent), "--stdio"]
            side = await _start(
                "tabby-agent", command, h / "ws", options, env, _ask_tabby, _check_tabby
            )
            sides.insert(0, side)
            await _wait_for_health(fake)
    except BaseException:
        for side in sides:
            await _stop(side)
        raise
    return sides


async def _stop(side: Side) -> None:
    # A server that already died has nothing left to stop.
    with contextlib.suppress(Exception):
        await stop_editor(side.editor)


async def run(cfg: TabbyBenchConfig, log: Any = print) -> dict[str, Any]:
    _check_chunking(cfg)
    fake = FakeProvider()
    size = cfg.chunk_chars
    fake.rules = [
        Rule(
            Reply.text(TABBY_REPLY, size=size, delay=cfg.chunk_delay, first_delay=cfg.first_delay),
            match=TABBY_PROMPT_MARK,
        ),
        Rule(Reply.text(TTA_REPLY, size=size, delay=cfg.chunk_delay, first_delay=cfg.first_delay)),
    ]
    clock = ChunkClock()
    clock.install()
    await fake.start()
    home = Path(tempfile.mkdtemp(prefix="tta-bench-tabby-"))
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        log("side by side: starting " + ("tabby-agent and " if cfg.agent else "") + "tta…")
        sides = await _sides(cfg, fake, home)
        try:
            for i in range(cfg.warmup + cfg.runs):
                k = i % len(sides)
                for side in sides[k:] + sides[:k]:
                    await _one(side, fake, clock, i, keep=i >= cfg.warmup)
                    await asyncio.sleep(cfg.gap)
        finally:
            for side in sides:
                await _stop(side)
    finally:
        clock.uninstall()
        await fake.stop()
        await asyncio.to_thread(shutil.rmtree, home, True)
    report: dict[str, Any] = {
        "runs": cfg.runs,
        "warmup": cfg.warmup,
        "fake": {
            "chunk_chars": cfg.chunk_chars,
            "chunk_interval_ms": round(cfg.chunk_delay * 1000, 2),
            "first_delay_ms": round(cfg.first_delay * 1000, 2),
            "code_bytes": len(CODE.encode()),
        },
        "clients": {side.name: _report(side) for side in sides},
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    if cfg.agent is None:
        report["tabby_agent"] = f"skipped: {ENV_VAR} is not set (docs/performance.md)"
    else:
        report["tabby_agent"] = str(cfg.agent)
    return report
