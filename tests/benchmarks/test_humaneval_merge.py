"""``python -m benchmarks.humaneval_bench --merge``: the shards of a split run make one report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from benchmarks._common import BenchmarkError
from benchmarks.humaneval_bench import main, merge


def row(n: int, passed: bool, seconds: float, status: str = "gates_failed") -> dict[str, Any]:
    return {
        "task_id": f"HumanEval/{n}",
        "status": status,
        "seconds": seconds,
        "syntax_ok": True,
        "passed": passed,
        "completed_not_parsing": False,
        "candidates": 1,
        "candidates_passing": int(passed),
        "any_candidate_passes": passed,
    }


def shard(commit: str, numbers: list[int], *, extra_single: int | None = None) -> dict[str, Any]:
    single = [row(n, n == 2, 10.0) for n in numbers]
    pipeline = [row(n, n in (2, 5), 20.0) for n in numbers]
    if extra_single is not None:  # stopped between the two modes of a problem
        single.append(row(extra_single, True, 10.0))
    return {"commit": commit, "per_problem": {"single_shot": single, "pipeline": pipeline}}


def test_shards_join_in_problem_order_and_are_summarised_afresh() -> None:
    later = shard("abc", [5, 6], extra_single=7)
    later["done"] = 2  # a .partial.json
    report = merge([later, shard("abc", [1, 2])])
    assert report["problems"] == 4 and report["commit"] == "abc"
    for mode in ("single_shot", "pipeline"):
        assert [r["task_id"] for r in report["per_problem"][mode]] == [
            f"HumanEval/{n}" for n in (1, 2, 5, 6)
        ]
    single, pipe = report["summary"]["single_shot"], report["summary"]["pipeline"]
    assert (single["solved"], pipe["solved"]) == (1, 2)  # problem 7's lone single shot is out
    assert pipe["pass_at_k_ceiling"] == 0.5
    assert report["pipeline_vs_single"] == {"pass_ratio": 2.0, "wall_ratio": 2.0}
    assert [s["stopped_early"] for s in report["shards"]] == [True, False]


def test_overlapping_shards_or_different_commits_are_refused() -> None:
    with pytest.raises(BenchmarkError, match="more than one shard"):
        merge([shard("abc", [1, 2]), shard("abc", [2, 3])])
    with pytest.raises(BenchmarkError, match="different commits"):
        merge([shard("abc", [1]), shard("def", [2])])


def test_the_command_writes_the_merged_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for i, numbers in enumerate(([1, 2], [3])):
        paths.append(tmp_path / f"s{i}.json")
        paths[-1].write_text(json.dumps(shard("abc", numbers)), encoding="utf-8")
    out = tmp_path / "all.json"
    assert main(["--merge", *map(str, paths), "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["problems"] == 3
    assert "| pass@1 | 33.3% | 33.3% |" in capsys.readouterr().out


def test_a_missing_or_foreign_report_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.json"
    other.write_text("[1, 2]", encoding="utf-8")
    for path in (tmp_path / "missing.json", other):
        assert main(["--merge", str(path), "--out", str(tmp_path / "all.json")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"benchmark error: {path}: not a benchmark report")
    assert not (tmp_path / "all.json").exists()
