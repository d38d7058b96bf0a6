"""The benchmark script runs and reports every number, on a tiny generated tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.context_bench import make_tree

from tests.guards import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_runs_on_a_tiny_tree(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree", 60)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.context_bench",
            "--root",
            str(tmp_path / "tree"),
            "--queries",
            "20",
            "--workers",
            "0",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    report = json.loads(out.stdout)["root"]
    assert report["indexed_files"] == 60
    assert report["rescan_parsed"] == 0
    assert report["retrieval"]["queries"] == 20
    assert report["recall_at_5"] >= 0.8
    for key in ("full_index_s", "incremental_update", "gather", "peak_rss_mb"):
        assert report[key] is not None
