"""Shared by the benchmark smoke tests: run ``python -m benchmarks --quick`` on some sections.

Benchmarks are not timed tests: nothing here compares a latency with a target. The tests
check the JSON's shape and that every figure that must be measured is there and non-zero,
so a benchmark that silently stopped measuring (a zero, a missing key) fails.

The sections are split over two test files (test_smoke_server.py, test_smoke_models.py) of
about the same length (~50 s of CPU each), so the suite's two workers run them side by side
instead of one worker running the whole ~100 s benchmark alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.__main__ import SECTIONS

from tests.guards import SLOW_HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[2]

PROBLEMS = 1  # HumanEval problems the quality section runs here
MAX_TOKENS = 40  # its replies: a function's first lines, under half of --quick's 96
# Samples per figure (lsp, outcomes, completion, startup): one proves a figure is measured
# and non-zero as well as --quick's 3-5 do, at a fraction of the generations and starts.
RUNS = 1


def run_quick(out: Path, sections: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The report and the printed table of ``--quick`` on ``sections`` only."""
    # As little as proves every section still measures: one short HumanEval problem, one
    # sample per figure, and one llama.cpp thread (several wait on each other at every
    # token on busy cores).
    args = ["--quick", "--no-remote", "--problems", str(PROBLEMS), "--threads", "1",
            "--max-tokens", str(MAX_TOKENS), "--runs", str(RUNS), *sections]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SLOW_HANG_GUARD_S * 2,  # a hang guard: ~1 min idle
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(out.read_text())
    assert report["mode"] == "quick"
    assert report["machine"]["cpus"] >= 1 and report["machine"]["python"]
    for section in SECTIONS:
        if section in sections:
            assert isinstance(report[section], dict), section
        else:
            assert "skipped" in report[section], section
    return report, done.stdout


def positive(report: dict[str, Any], *path: str) -> float:
    node: Any = report
    for key in path:
        assert isinstance(node, dict) and key in node, f"missing {'.'.join(path)}"
        node = node[key]
    assert isinstance(node, int | float) and node > 0, f"{'.'.join(path)} = {node!r}"
    return float(node)


def summary(report: dict[str, Any], *path: str) -> None:
    for key in ("p50_ms", "p95_ms", "max_ms"):
        positive(report, *path, key)
    assert positive(report, *path, "n") >= 1
