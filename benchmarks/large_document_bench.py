"""A very large document (issue 19, item 19): the server's CPU and memory per generation.

    python -m benchmarks.large_document_bench              # 23 MB, 3 generations, full sync
    python -m benchmarks.large_document_bench --mb 5 --sync incremental

The real server over stdio, driven by the test suite's bare JSON-RPC client
(``tests/reliability/rpc.py``), which echoes every applied edit back as ``didChange`` the
way an editor does: with the whole text (``--sync full``, as full-sync clients do) or with
the edit alone. The fake provider (``tests/fakes/provider.py``) holds each reply's stream
open while ``tta.listPrompts`` is timed a few times, so those figures are taken while the
generation runs. Per generation: the server's CPU seconds (``/proc/<pid>/stat``, so the
client's own work is not counted) and its RSS; then the RSS once the document is closed.
Gates are on (syntax and definition): for such a document they are skipped, and the
figure says what that skip costs. Prints one JSON object (``large`` in ``python -m
benchmarks``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.provider import FakeProvider, Reply
from tests.reliability.rpc import RawServer

from benchmarks._common import BenchmarkError, machine, rss_kb, summary_ms

LINE = "value_{0:07d} = compute({0}, 'some padding to make an ordinary line of code')\n"
CODE = "".join(f"def adder_{k}(a, b):\n    return a + b * {k}\n\n\n" for k in range(6))


@dataclass
class LargeDocConfig:
    mb: float = 23.0
    generations: int = 3
    sync: str = "full"  # or "incremental"
    list_samples: int = 5  # tta.listPrompts timed while each generation's stream is held


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _command(server: RawServer, command: str, argument: dict[str, Any]) -> Any:
    answer = await server.request(
        "workspace/executeCommand", {"command": command, "arguments": [argument]}
    )
    if "result" not in answer:
        raise BenchmarkError(f"{command} failed: {answer}")
    return answer["result"]


async def run(cfg: LargeDocConfig, log: Any = print) -> dict[str, Any]:
    fake = FakeProvider()
    await fake.start()
    holds = [asyncio.Event() for _ in range(cfg.generations)]
    for i, hold in enumerate(holds):
        # No closing fence until the stream is released: the server stops reading at the
        # fence, so the generation (and its edits) run while tta.listPrompts is timed.
        reply = Reply.text(f"```python\n{CODE}", size=24, delay=0.005, hold=hold)
        fake.add(reply, match=f"task-{i}:")
    with tempfile.TemporaryDirectory(prefix="tta-bench-large-") as tmp:
        home = Path(tmp)
        ws = home / "ws"
        ws.mkdir()
        server = await RawServer.start(home, log_level="warning")
        server.full_sync = cfg.sync == "full"
        try:
            return await _measure(server, fake, ws, holds, cfg, log)
        finally:
            for hold in holds:
                hold.set()
            await server.close()
            await fake.stop()


async def _measure(
    server: RawServer,
    fake: FakeProvider,
    ws: Path,
    holds: list[asyncio.Event],
    cfg: LargeDocConfig,
    log: Any,
) -> dict[str, Any]:
    await server.initialize(ws, {
        "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
        "models": [{"id": "m", "provider": "fake"}], "routing": {"default": "m"},
        "review": {"mode": "auto"}, "gates": {"enabled": ["syntax", "definition"]},
    })  # fmt: skip
    pid = server.proc.pid
    await _command(server, "tta.listPrompts", {})
    idle = rss_kb(pid)
    lines = int(cfg.mb * (1 << 20)) // len(LINE.format(0))
    text = "".join(LINE.format(i) for i in range(lines))
    size = len(text)
    uri = (ws / "big.py").as_uri()
    cpu0 = cpu_seconds(pid)
    server.open(uri, text)
    del text
    await _command(server, "tta.listPrompts", {})
    opened = {"rss_mb": round(rss_kb(pid)["VmRSS"] / 1024, 1),
              "cpu_s": round(cpu_seconds(pid) - cpu0, 2)}  # fmt: skip
    log(f"large document: {size / (1 << 20):.1f} MB open ({cfg.sync} sync)")
    generations: list[dict[str, Any]] = []
    waits: list[float] = []
    for i in range(cfg.generations):
        cpu0, asked = cpu_seconds(pid), len(fake.requests)
        t0 = time.perf_counter()
        gen = asyncio.ensure_future(_command(server, "tta.generate", {
            "textDocument": {"uri": uri}, "position": {"line": lines // 2 + i, "character": 0},
            "description": f"task-{i}: adders",
        }))  # fmt: skip
        while len(fake.requests) == asked and not gen.done():
            await asyncio.sleep(0.005)
        to_model = time.perf_counter() - t0
        for _ in range(cfg.list_samples):
            t1 = time.perf_counter()
            await _command(server, "tta.listPrompts", {})
            waits.append(time.perf_counter() - t1)
        holds[i].set()
        answer = await gen
        if answer.get("status") != "completed":
            raise BenchmarkError(f"generation {i} ended {answer.get('status')}: {answer}")
        mem = rss_kb(pid)
        generations.append({
            "cpu_s": round(cpu_seconds(pid) - cpu0, 2),
            "request_to_model_ms": round(to_model * 1000, 1),
            "rss_mb": round(mem["VmRSS"] / 1024, 1),
            "peak_rss_mb": round(mem["VmHWM"] / 1024, 1),
        })  # fmt: skip
        log(f"  generation {i}: {generations[-1]}")
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    server.docs.pop(uri, None)
    await _command(server, "tta.listPrompts", {})
    await asyncio.sleep(0.5)
    closed = rss_kb(pid)
    return {
        "document_mb": round(size / (1 << 20), 1),
        "lines": lines,
        "sync": cfg.sync,
        "idle_rss_mb": round(idle["VmRSS"] / 1024, 1),
        "opened": opened,
        "generations": generations,
        "list_prompts_during_generation": summary_ms(waits),
        "rss_after_close_mb": round(closed["VmRSS"] / 1024, 1),
        "peak_rss_mb": round(closed["VmHWM"] / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--mb", type=float, default=23.0, help="document size in MB (default 23)")
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--sync", choices=["full", "incremental"], default="full")
    args = ap.parse_args(argv)
    cfg = LargeDocConfig(mb=args.mb, generations=args.generations, sync=args.sync)
    try:
        result = asyncio.run(run(cfg, lambda m: print(m, file=sys.stderr, flush=True)))
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    result["machine"] = machine()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
