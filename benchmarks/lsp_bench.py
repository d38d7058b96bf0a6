"""The server's own costs, measured over stdio like an editor sees them.

The real server (``python -m tta_codegen serve``) runs as a subprocess driven by the
pytest-lsp client of ``tests/lsp/harness.py``; the model is the loopback fake provider in
this process, streaming a fixed reply at a fixed token rate. Every figure subtracts the
model's part, measured at the fake (see :class:`benchmarks._common.ChunkClock`), so what
is reported is what the server adds:

- overhead: executeCommand -> first applyEdit minus the provider's time to first token,
  and last token -> final answer (gates off, then with the default gates);
- edit traffic: applyEdit count and bytes for 50/500/5,000-token replies;
- cancel: ``$/cancelRequest`` -> document restored, and -> answer received;
- responsiveness: codeAction latency while 8 generations stream;
- startup: process start -> ``initialize`` answered, RSS idle and after indexing the stdlib.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import sysconfig
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from tests.fakes.provider import FakeProvider, Reply, Rule
from tests.lsp.harness import Editor, provider_settings, server_env, start_editor, stop_editor

from benchmarks._common import BenchmarkError, ChunkClock, rss_kb, summary_ms
from tta_codegen.models.ledger import CostLedger
from tta_codegen.outcomes.events import OutcomeDraft

FAST = {"gates": {"enabled": []}, "refine": {"enabled": False}}


@dataclass
class LspBenchConfig:
    runs: int = 50  # overhead samples per line
    warmup: int = 3
    cancel_runs: int = 30
    sizes: tuple[int, ...] = (50, 500, 5000)
    first_delay: float = 0.1  # the fake's time to first token
    token_delay: float = 0.005  # seconds per token (200 tokens/s) for the overhead runs
    traffic_token_delay: float = 0.002  # 500 tokens/s for the edit-traffic replies
    overhead_tokens: int = 20
    outcome_runs: int = 40  # per server (on, off), interleaved
    outcome_settle_s: float = 0.2  # pause after each generation (both servers alike)
    concurrent: int = 8
    load_tokens: int = 300
    code_action_interval: float = 0.02
    idle_code_actions: int = 50
    startup_runs: int = 5
    stdlib: bool = True
    index_timeout: float = 900.0


def _server_pid(editor: Editor) -> int:
    proc = getattr(editor.client, "_server", None)
    pid = getattr(proc, "pid", None)
    if not isinstance(pid, int):
        raise BenchmarkError("cannot find the server process id in the pytest-lsp client")
    return pid


async def wait_for_index(editor: Editor, timeout: float) -> float:
    """Wait for the server's indexing progress to end; returns when it ended (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for token, reports in list(editor.client.progress_reports.items()):
            if (
                str(token).startswith("tta-index-")
                and reports
                and getattr(reports[-1], "kind", "") == "end"
            ):
                return time.perf_counter()
        await asyncio.sleep(0.02)
    raise BenchmarkError(
        f"the server did not finish indexing the workspace within {timeout:.0f} s "
        "(no 'tta-index-' progress end)"
    )


@contextlib.asynccontextmanager
async def session(
    home: Path, settings: dict[str, Any], root: Path | None = None, index_timeout: float = 120.0
) -> AsyncIterator[Editor]:
    """A started, initialised server whose first indexing has finished."""
    ws = root or home / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    editor = await start_editor(ws, settings, env=server_env(home=home))
    try:
        await wait_for_index(editor, index_timeout)
        yield editor
    finally:
        await stop_editor(editor)


def _code_reply(n_tokens: int, *, first_delay: float, delay: float) -> tuple[Reply, str]:
    """A fenced reply whose first chunk already carries a whole line of code."""
    lines = [f"v{i} = {i}\n" for i in range(n_tokens)]
    chunks = ["```python\n" + lines[0], *lines[1:], "```\n"]
    return Reply(chunks=chunks, first_delay=first_delay, delay=delay), "".join(lines)


def _gen_args(uri: str, line: int, description: str = "benchmark") -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": 0},
        "description": description,
    }


def _first_edit(editor: Editor, uri: str, since: int) -> float:
    for rec in editor.edits[since:]:
        if rec.uri == uri and rec.applied:
            return rec.at
    raise BenchmarkError(f"no applyEdit reached {uri}")


@dataclass
class Timed:
    """One generation's times (seconds), the model's own part taken out where it counts."""

    pre: float  # executeCommand -> the request reaches the provider
    post: float  # first token written by the fake -> first applyEdit at the client
    added: float  # executeCommand -> first applyEdit, minus the provider's time to first token
    tail: float  # last token -> final answer
    ttft: float  # the provider's measured time to first token


async def _timed_generation(
    editor: Editor, fake: FakeProvider, clock: ChunkClock, name: str, body: str
) -> Timed:
    """``tta.generate`` into a fresh document ``name``; closes it afterwards."""
    uri = editor.open(name, "import os\n\n")
    since, asked = len(editor.edits), len(fake.requests)
    clock.clear()
    t_sent = time.perf_counter()
    answer = await editor.execute("tta.generate", _gen_args(uri, 2))
    t_answer = time.perf_counter()
    if answer["status"] != "completed" or editor.text(uri) != "import os\n\n" + body:
        raise BenchmarkError(f"generation into {name} did not complete cleanly: {answer}")
    if len(fake.requests) != asked + 1:
        raise BenchmarkError("expected exactly one provider request per generation")
    arrival = fake.requests[asked].at
    first_token, last_token = clock.first(), clock.last()
    first_edit = _first_edit(editor, uri, since)
    editor.close(uri)
    return Timed(
        pre=arrival - t_sent,
        post=first_edit - first_token,
        added=(first_edit - t_sent) - (first_token - arrival),
        tail=t_answer - last_token,
        ttft=first_token - arrival,
    )


async def bench_overhead(
    fake: FakeProvider, clock: ChunkClock, home: Path, cfg: LspBenchConfig, *, gates: bool
) -> dict[str, Any]:
    reply, body = _code_reply(
        cfg.overhead_tokens, first_delay=cfg.first_delay, delay=cfg.token_delay
    )
    fake.rules = [Rule(reply)]
    settings = provider_settings(fake.base_url, ["fake-a"], **({} if gates else FAST))
    pre: list[float] = []
    post: list[float] = []
    added: list[float] = []
    tail: list[float] = []
    ttft: list[float] = []
    first_run_ms = None
    async with session(home / ("gates" if gates else "fast"), settings) as editor:
        for i in range(cfg.warmup + cfg.runs):
            t = await _timed_generation(editor, fake, clock, f"o{i}.py", body)
            if i == 0:
                first_run_ms = round(t.added * 1000, 2)
            if i < cfg.warmup:
                continue
            pre.append(t.pre)
            post.append(t.post)
            added.append(t.added)
            tail.append(t.tail)
            ttft.append(t.ttft)
    return {
        "runs": cfg.runs,
        "gates": "default (syntax, ruff, tests)" if gates else "off",
        "reply_tokens": cfg.overhead_tokens,
        "model_time_s": round(cfg.first_delay + cfg.token_delay * (cfg.overhead_tokens - 1), 3),
        "first_edit_added": summary_ms(added),
        "command_to_provider_request": summary_ms(pre),
        "first_token_to_first_edit": summary_ms(post),
        "last_token_to_answer": summary_ms(tail),
        "provider_ttft_measured": summary_ms(ttft),
        "first_generation_added_ms": first_run_ms,
        "target_first_edit_p50_ms": 5,
    }


async def bench_outcomes(
    fake: FakeProvider, clock: ChunkClock, home: Path, cfg: LspBenchConfig
) -> dict[str, Any]:
    """Outcome tracking on against off, interleaved in one run: what it adds to the first edit.

    Two servers, identical but for ``[outcomes] enabled``, take turns (the order flips every
    run, so drift in the machine's load falls on both alike). Review mode is ``auto``: every
    generation is accepted as it completes, so the "on" server does all of it — the draft
    before the request, the outcome row, the retention watch, its measurement when the
    document closes. Each server's ledger is checked afterwards: the "on" one holds a row
    per generation, the "off" one none.
    """
    reply, body = _code_reply(
        cfg.overhead_tokens, first_delay=cfg.first_delay, delay=cfg.token_delay
    )
    fake.rules = [Rule(reply)]
    added: dict[str, list[float]] = {"on": [], "off": []}
    homes = {label: home / f"outcomes-{label}" for label in added}
    async with contextlib.AsyncExitStack() as stack:
        editors = {
            label: await stack.enter_async_context(
                session(
                    homes[label],
                    provider_settings(
                        fake.base_url,
                        ["fake-a"],
                        **FAST,
                        review={"mode": "auto"},
                        outcomes={"enabled": label == "on"},
                    ),
                )
            )
            for label in added
        }
        for i in range(cfg.warmup + cfg.outcome_runs):
            for label in ("on", "off") if i % 2 == 0 else ("off", "on"):
                t = await _timed_generation(editors[label], fake, clock, f"g{i}.py", body)
                if i >= cfg.warmup:
                    added[label].append(t.added)
                # The decision's bookkeeping (row and retention writes, in worker threads)
                # ends before the next command, as it does between a person's generations:
                # measured is the path to the first edit, not two runs overlapping.
                await asyncio.sleep(cfg.outcome_settle_s)
        for editor in editors.values():
            await editor.execute("tta.stats", {})  # flushes rows still being written
    rows = {
        label: len(
            CostLedger(h / ".local" / "share" / "tta-codegen" / "ledger.sqlite3").outcomes_sync()
        )
        for label, h in homes.items()
    }
    generations = cfg.warmup + cfg.outcome_runs
    if rows != {"on": generations, "off": 0}:
        raise BenchmarkError(
            f"outcome rows {rows}: expected {generations} with tracking, 0 without"
        )
    on, off = summary_ms(added["on"]), summary_ms(added["off"])
    paired = [a - b for a, b in zip(added["on"], added["off"], strict=True)]
    # How finely this run can tell: a 95% bootstrap interval of the paired median.
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(paired, k=len(paired))) for _ in range(2000))
    interval = [round(medians[49] * 1000, 2), round(medians[1949] * 1000, 2)]
    # The only outcome work before the first edit is creating the draft: timed directly,
    # since it is far below what the end-to-end figure can resolve on a shared machine.
    per_call = []
    for _ in range(200):
        t0 = time.perf_counter()
        for _ in range(100):
            OutcomeDraft.start("tta.generate", "lsp", None, "python")
        per_call.append((time.perf_counter() - t0) / 100)
    return {
        "runs": cfg.outcome_runs,
        "review_mode": "auto (each generation accepted: outcome row + retention watch)",
        "settle_s_between_runs": cfg.outcome_settle_s,
        "first_edit_added_on": on,
        "first_edit_added_off": off,
        "p50_difference_ms": round(on["p50_ms"] - off["p50_ms"], 2),
        "paired_difference": summary_ms(paired),
        "paired_p50_95ci_ms": interval,
        "outcome_rows": rows,
        "draft_start_us_p50": round(statistics.median(per_call) * 1e6, 2),
        "target_p50_difference_ms": 0.2,
    }


def _body_of(n_tokens: int) -> str:
    """About 4 characters a token: the reply's code, whole lines."""
    out: list[str] = []
    size = 0
    i = 0
    while size < 4 * n_tokens:
        line = f"value_{i} = {i}\n"
        out.append(line)
        size += len(line)
        i += 1
    return "".join(out)


def _whole_preview_bytes(body: str) -> int:
    """What a client gets if the whole preview is resent at every new line (the peer)."""
    total = 0
    pos = body.find("\n")
    while pos != -1:
        total += len(body[: pos + 1].encode())
        pos = body.find("\n", pos + 1)
    return total


async def bench_traffic(fake: FakeProvider, home: Path, cfg: LspBenchConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"token_rate_per_s": round(1 / cfg.traffic_token_delay), "replies": []}
    settings = provider_settings(fake.base_url, ["fake-a"], **FAST)
    async with session(home / "traffic", settings) as editor:
        for n in cfg.sizes:
            body = _body_of(n)
            reply = Reply.text(
                "```python\n" + body + "```\n", size=4, delay=cfg.traffic_token_delay
            )
            fake.rules = [Rule(reply)]
            uri = editor.open(f"t{n}.py", "")
            since = len(editor.edits)
            t0 = time.perf_counter()
            answer = await editor.execute("tta.generate", _gen_args(uri, 0))
            took = time.perf_counter() - t0
            if answer["status"] != "completed" or editor.text(uri) != body:
                raise BenchmarkError(f"the {n}-token reply did not arrive intact: {answer}")
            edits = [e for e in editor.edits[since:] if e.uri == uri and e.applied]
            sent = sum(e.bytes for e in edits)
            reply_bytes = len(body.encode())
            tokens = len(reply.chunks)
            peer = _whole_preview_bytes(body)
            out["replies"].append(
                {
                    "tokens": tokens,
                    "reply_bytes": reply_bytes,
                    "apply_edits": len(edits),
                    "edit_bytes": sent,
                    "bytes_per_token": round(sent / tokens, 2),
                    "bytes_ratio_to_reply": round(sent / reply_bytes, 3),
                    "edits_per_100_tokens": round(100 * len(edits) / tokens, 2),
                    "whole_preview_per_line_bytes": peer,
                    "seconds": round(took, 2),
                }
            )
            editor.close(uri)
    sizes = out["replies"]
    out["bytes_per_token_growth"] = round(
        sizes[-1]["bytes_per_token"] / sizes[0]["bytes_per_token"], 3
    )
    return out


async def bench_cancel(fake: FakeProvider, home: Path, cfg: LspBenchConfig) -> dict[str, Any]:
    lines = "".join(f"w{i} = {i}\n" for i in range(2000))
    fake.rules = [Rule(Reply.text("```python\n" + lines + "```\n", size=6, delay=0.01))]
    settings = provider_settings(fake.base_url, ["fake-a"], **FAST)
    restored: list[float] = []
    answered: list[float] = []
    kinds: dict[str, int] = {}
    original = "def keep():\n    pass\n"
    async with session(home / "cancel", settings) as editor:
        for i in range(cfg.cancel_runs):
            uri = editor.open(f"c{i}.py", original)
            since = len(editor.edits)
            marks: dict[str, float] = {}

            def on_edit(
                ed: Editor, u: str, uri: str = uri, marks: dict[str, float] = marks
            ) -> None:
                if u == uri and "cancel" in marks and ed.text(u) == original:
                    marks.setdefault("restored", time.perf_counter())

            editor.on_edit = on_edit
            msg_id, fut = editor.start("tta.generate", _gen_args(uri, 2, "slow"))
            await editor.wait_for(
                lambda uri=uri, since=since: (
                    sum(1 for e in editor.edits[since:] if e.uri == uri and e.applied) >= 2
                ),
                timeout=30,
            )

            def answered_at(_f: object, m: dict[str, float] = marks) -> None:
                m.setdefault("answer", time.perf_counter())

            fut.add_done_callback(answered_at)
            marks["cancel"] = time.perf_counter()
            editor.cancel(msg_id)
            try:
                result = await asyncio.wait_for(fut, 10)
                kind = str(result.get("status")) if isinstance(result, dict) else repr(result)
            except TimeoutError as exc:
                raise BenchmarkError("a cancelled generation was never answered") from exc
            except Exception as exc:  # RequestCancelled (-32800) is an allowed answer
                if "cancel" not in str(exc).lower():
                    raise BenchmarkError(f"cancel answered with an error: {exc}") from exc
                kind = "RequestCancelled"
            kinds[kind] = kinds.get(kind, 0) + 1
            await editor.wait_for(lambda m=marks: "restored" in m, timeout=10)
            restored.append(marks["restored"] - marks["cancel"])
            answered.append(marks["answer"] - marks["cancel"])
            editor.on_edit = None
            editor.close(uri)
            await asyncio.sleep(0.05)  # let the server drop the stream before the next run
    return {
        "runs": cfg.cancel_runs,
        "to_document_restored": summary_ms(restored),
        "to_answer": summary_ms(answered),
        "answers": kinds,
        "target_p95_ms": 50,
    }


async def _code_action_latencies(
    editor: Editor, uri: str, until: Any, n: int | None, interval: float
) -> tuple[list[float], int]:
    rng = types.Range(types.Position(0, 0), types.Position(3, 0))
    out: list[float] = []
    offered = 0
    while (n is not None and len(out) < n) or (n is None and not until()):
        t0 = time.perf_counter()
        actions = await editor.code_actions(uri, rng)
        took = time.perf_counter() - t0
        out.append(took)
        offered = max(offered, len(actions))
        await asyncio.sleep(max(0.0, interval - took))
    return out, offered


async def bench_responsiveness(
    fake: FakeProvider, home: Path, cfg: LspBenchConfig
) -> dict[str, Any]:
    body = "".join(f"r{i} = {i}\n" for i in range(cfg.load_tokens))
    reply = Reply(
        chunks=["```python\n", *body.splitlines(keepends=True), "```\n"], delay=cfg.token_delay * 2
    )
    fake.rules = [Rule(reply)]
    settings = provider_settings(fake.base_url, ["fake-a"], **FAST)
    source = "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"
    async with session(home / "load", settings) as editor:
        q = editor.open("q.py", source)
        idle, offered = await _code_action_latencies(
            editor, q, None, cfg.idle_code_actions, cfg.code_action_interval
        )
        if offered == 0:
            raise BenchmarkError("the server offered no code action on a selection")
        futs = []
        uris = []
        for i in range(cfg.concurrent):
            uri = editor.open(f"g{i}.py", "")
            uris.append(uri)
            futs.append(editor.start("tta.generate", _gen_args(uri, 0, f"gen {i}"))[1])
        t0 = time.perf_counter()
        loaded, _ = await _code_action_latencies(
            editor, q, lambda: all(f.done() for f in futs), None, cfg.code_action_interval
        )
        took = time.perf_counter() - t0
        answers = await asyncio.gather(*futs)
        bad = [a for a in answers if a.get("status") != "completed"]
        if bad:
            raise BenchmarkError(f"{len(bad)} concurrent generations failed: {bad[0]}")
        if any(editor.text(u) != body for u in uris):
            raise BenchmarkError("a concurrent generation left the wrong text")
    return {
        "concurrent_generations": cfg.concurrent,
        "tokens_each": cfg.load_tokens,
        "generation_wall_s": round(took, 2),
        "interval_ms": round(cfg.code_action_interval * 1000),
        "idle": summary_ms(idle),
        "under_load": summary_ms(loaded),
        "actions_offered": offered,
        "target_p95_ms": 20,
    }


async def bench_startup(fake: FakeProvider, home: Path, cfg: LspBenchConfig) -> dict[str, Any]:
    settings = provider_settings(fake.base_url, ["fake-a"], **FAST)
    times: list[float] = []
    idle_rss: dict[str, int] = {}
    # One cache for every run, filled by an unmeasured first start: an editor's second
    # start gets the early initialize answer (lsp/fastinit.py); the startup section
    # measures the empty-cache start too.
    cache = {"XDG_CACHE_HOME": str(home / "startup-cache")}
    for i in range(-1, cfg.startup_runs):
        h = home / f"start{i}"
        ws = h / "ws"
        ws.mkdir(parents=True)
        (ws / "app.py").write_text("def main():\n    return 0\n")
        t0 = time.perf_counter()
        editor = await start_editor(ws, settings, env=server_env(cache, home=h))
        if i < 0:
            await stop_editor(editor)
            continue
        times.append(time.perf_counter() - t0)
        try:
            await wait_for_index(editor, 120)
            await asyncio.sleep(0.5)
            idle_rss = rss_kb(_server_pid(editor))
        finally:
            await stop_editor(editor)
    out: dict[str, Any] = {
        "runs": cfg.startup_runs,
        "process_start_to_initialize": summary_ms(times),
        "idle_rss_mb": round(idle_rss["VmRSS"] / 1024, 1),
    }
    if cfg.stdlib:
        out["stdlib"] = await _stdlib_rss(fake, home / "stdlib", cfg)
    return out


async def _stdlib_rss(fake: FakeProvider, home: Path, cfg: LspBenchConfig) -> dict[str, Any]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    settings = provider_settings(
        fake.base_url,
        ["fake-a"],
        **FAST,
        context={"ignore": ["site-packages/", "dist-packages/"]},
    )
    home.mkdir(parents=True)
    t0 = time.perf_counter()
    editor = await start_editor(stdlib, settings, env=server_env(home=home))
    try:
        ended = await wait_for_index(editor, cfg.index_timeout)
        rss = rss_kb(_server_pid(editor))
        reports = [
            r
            for token, rs in editor.client.progress_reports.items()
            if str(token).startswith("tta-index-")
            for r in rs
        ]
        message = getattr(reports[-1], "message", None) if reports else None
    finally:
        await stop_editor(editor)
    return {
        "root": str(stdlib),
        "index_wall_s": round(ended - t0, 2),
        "index_message": message,
        "rss_after_index_mb": round(rss["VmRSS"] / 1024, 1),
        "peak_rss_mb": round(rss.get("VmHWM", 0) / 1024, 1),
        "note": "server process only; parse workers (context.index_workers) are separate processes",
    }


@contextlib.asynccontextmanager
async def _bench_env(prefix: str) -> AsyncIterator[tuple[FakeProvider, ChunkClock, Path]]:
    """The fake model with its chunk clock and a scratch home, torn down after a section."""
    fake = FakeProvider()
    clock = ChunkClock()
    clock.install()
    await fake.start()
    home = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield fake, clock, home
    finally:
        clock.uninstall()
        await fake.stop()
        await asyncio.to_thread(_rmtree, home)


async def run_outcomes(cfg: LspBenchConfig, log: Any = print) -> dict[str, Any]:
    """Only the outcome-tracking comparison (``python -m benchmarks outcomes``)."""
    async with _bench_env("tta-bench-outcomes-") as (fake, clock, home):
        log("outcome tracking on vs off…")
        report = await bench_outcomes(fake, clock, home, cfg)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


async def run(cfg: LspBenchConfig, log: Any = print) -> dict[str, Any]:
    report: dict[str, Any] = {}
    async with _bench_env("tta-bench-lsp-") as (fake, clock, home):
        log("server overhead (gates off)…")
        report["overhead"] = await bench_overhead(fake, clock, home, cfg, gates=False)
        log("server overhead (default gates)…")
        report["overhead_default_gates"] = await bench_overhead(fake, clock, home, cfg, gates=True)
        log("edit traffic…")
        report["edit_traffic"] = await bench_traffic(fake, home, cfg)
        log("cancel latency…")
        report["cancel"] = await bench_cancel(fake, home, cfg)
        log("responsiveness under load…")
        report["responsiveness"] = await bench_responsiveness(fake, home, cfg)
        log("startup and memory…")
        report["startup"] = await bench_startup(fake, home, cfg)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
