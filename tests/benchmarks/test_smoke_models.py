"""``python -m benchmarks --quick`` keeps working: the sections that run the embedded model or
start processes to time them (tests/benchmarks/smoke.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.benchmarks.smoke import MAX_TOKENS, PROBLEMS, RUNS, positive, run_quick, summary

pytestmark = pytest.mark.slow

SECTIONS = ("quality", "completion-editor", "startup", "embedded")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data, printed = run_quick(tmp_path_factory.mktemp("bench") / "quick.json", SECTIONS)
    assert "HumanEval pass@1" in printed
    return data


def test_quality_figures(report: dict[str, Any]) -> None:
    quality = report["quality"]
    assert quality["problems"] == PROBLEMS and quality["n_threads"] == 1
    assert quality["max_tokens"] == MAX_TOKENS
    models = quality["models"]
    assert "smollm2-135m-instruct" in models
    for modes in models.values():
        for mode in ("single_shot", "refine"):
            m = modes[mode]
            assert m["problems"] == PROBLEMS
            assert len(m["per_problem"]) == PROBLEMS
            assert 0 <= m["pass_at_1"] <= 1 and 0 <= m["syntax_valid_rate"] <= 1
            positive(m, "mean_iterations")
            positive(m, "tokens_total")
            positive(m, "completion_tokens_total")
        assert modes["single_shot"]["mean_iterations"] == 1


def test_completion_editor_figure(report: dict[str, Any]) -> None:
    editor = report["completion-editor"]
    if "skipped" in editor:  # no local extra: said so, not zeros
        return
    summary(editor, "pause_to_ghost_text")
    assert editor["runs"] == RUNS


def test_startup_figures(report: dict[str, Any]) -> None:
    start = report["startup"]
    for line in ("python_pass", "help", "bare_pygls_initialize", "cold_initialize",
                 "warm_initialize", "warm_ready"):  # fmt: skip
        summary(start, line)
    positive(start, "ratios_p50", "warm_initialize_over_bare_pygls")


def test_embedded_figures(report: dict[str, Any]) -> None:
    emb = report["embedded"]
    for line in ("bare", "ours", "bare_all_cpus"):
        positive(emb, line, "tokens_per_s_p50")
    positive(emb, "ours_over_bare")
    assert emb["threads"]["ours"] == emb["threads"]["default_threads"]
