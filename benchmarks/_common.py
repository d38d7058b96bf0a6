"""Shared pieces of the benchmarks: statistics, machine facts, timing of the fake provider.

The fake provider (``tests/fakes/provider.py``) runs in this process; to know exactly when
it put each token on the wire, :class:`ChunkClock` wraps the module's ``_chunk`` writer
(the one function every SSE line goes through) and records the time after each write.
That turns "model time" into a measured quantity rather than an assumed one, so what is
left of a latency is the server's own.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes import provider as fake_module

ROOT = Path(__file__).resolve().parents[1]


class BenchmarkError(RuntimeError):
    """A component the benchmark needs is missing or misbehaved: the run must stop."""


def summary_ms(samples: Iterable[float]) -> dict[str, float | int]:
    """p50/p90/p95/max/mean in milliseconds of samples given in seconds."""
    xs = sorted(samples)
    if not xs:
        raise BenchmarkError("no samples were collected")
    return {
        "n": len(xs),
        "p50_ms": round(statistics.median(xs) * 1000, 2),
        "p90_ms": round(_pct(xs, 0.90) * 1000, 2),
        "p95_ms": round(_pct(xs, 0.95) * 1000, 2),
        "max_ms": round(xs[-1] * 1000, 2),
        "mean_ms": round(statistics.fmean(xs) * 1000, 2),
    }


def _pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    rank = max(1, int(-(-q * len(xs) // 1)))  # ceil(q * n)
    return xs[min(len(xs), rank) - 1]


def check_clocks() -> None:
    """The fake stamps with perf_counter, pytest-lsp edit records with loop.time (monotonic).

    On Linux both read CLOCK_MONOTONIC; anywhere they differ the subtraction is meaningless.
    """
    a, b = time.perf_counter(), time.monotonic()
    if abs(a - b) > 0.005:
        raise BenchmarkError(
            f"perf_counter and monotonic differ by {a - b:.3f} s on this platform; the "
            "latency benchmarks compare the two clocks and cannot run here"
        )


def machine() -> dict[str, Any]:
    """What the numbers were taken on, including how busy the machine was."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    commit = None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        commit = out.stdout.strip() or None
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a live process, in kB, from /proc."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        raise BenchmarkError(f"cannot read /proc/{pid}/status: {exc}") from exc
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    if "VmRSS" not in out:
        raise BenchmarkError(f"/proc/{pid}/status has no VmRSS line")
    return out


@dataclass
class Sent:
    at: float
    text: str  # the content delta, "" for the closing events


@dataclass
class ChunkClock:
    """Records when the in-process fake wrote each content delta to the socket."""

    sent: list[Sent] = field(default_factory=list)
    _orig: Callable[[Any, str], Awaitable[None]] | None = None

    def install(self) -> None:
        if self._orig is not None:
            return
        orig = fake_module._chunk
        self._orig = orig

        async def timed(w: Any, text: str) -> None:
            await orig(w, text)
            # Chat deltas carry "content"; FIM (/completions) chunks carry "text".
            if text.startswith("data: {") and ('"content"' in text or '"text"' in text):
                try:
                    choice = json.loads(text[6:])["choices"][0]
                    delta = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
                except (ValueError, KeyError, IndexError):
                    delta = ""
                self.sent.append(Sent(time.perf_counter(), delta))

        fake_module._chunk = timed

    def uninstall(self) -> None:
        if self._orig is not None:
            fake_module._chunk = self._orig  # type: ignore[assignment]
            self._orig = None

    def clear(self) -> None:
        self.sent.clear()

    def first(self) -> float:
        if not self.sent:
            raise BenchmarkError("the fake provider sent no content: the server never asked")
        return self.sent[0].at

    def last(self) -> float:
        if not self.sent:
            raise BenchmarkError("the fake provider sent no content: the server never asked")
        return self.sent[-1].at
