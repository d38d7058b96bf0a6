"""``python -m benchmarks --quick`` keeps working: the server-side sections (tests/benchmarks/smoke.py)."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.__main__ import table

from tests.benchmarks.smoke import positive, run_quick, summary

pytestmark = pytest.mark.slow

SECTIONS = ("lsp", "outcomes", "e2e", "context", "completion")  # tabby: test_tabby_bench.py


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data, printed = run_quick(tmp_path_factory.mktemp("bench") / "quick.json", SECTIONS)
    assert "added to first edit" in printed
    assert table(data).count("\n") > 5
    return data


def test_server_figures(report: dict[str, Any]) -> None:
    lsp = report["lsp"]
    for line in ("overhead", "overhead_default_gates"):
        for part in (
            "first_edit_added",
            "command_to_provider_request",
            "first_token_to_first_edit",
            "last_token_to_answer",
            "provider_ttft_measured",
        ):
            summary(lsp, line, part)
        # The fake's time to first token (0.1 s) is measured, not assumed. A lower bound
        # only: a busy machine makes every figure larger, and speed is not tested here.
        assert lsp[line]["provider_ttft_measured"]["p50_ms"] >= 90
    replies = lsp["edit_traffic"]["replies"]
    assert len(replies) >= 2
    for r in replies:
        assert r["apply_edits"] >= 1 and r["edit_bytes"] > 0
        # Linear traffic: the edits carry the reply's code once.
        assert r["bytes_ratio_to_reply"] == 1.0
        assert r["whole_preview_per_line_bytes"] > r["edit_bytes"]
    summary(lsp, "cancel", "to_document_restored")
    summary(lsp, "cancel", "to_answer")
    summary(lsp, "responsiveness", "idle")
    summary(lsp, "responsiveness", "under_load")
    positive(lsp, "responsiveness", "actions_offered")
    summary(lsp, "startup", "process_start_to_initialize")
    positive(lsp, "startup", "idle_rss_mb")


def test_outcome_tracking_figures(report: dict[str, Any]) -> None:
    oc = report["outcomes"]
    summary(oc, "first_edit_added_on")
    summary(oc, "first_edit_added_off")
    # Both servers really differed: rows with tracking on, none with it off.
    assert oc["outcome_rows"]["on"] > 0 and oc["outcome_rows"]["off"] == 0
    assert oc["draft_start_us_p50"] > 0
    low, high = oc["paired_p50_95ci_ms"]
    assert low <= high


def test_end_to_end_figures(report: dict[str, Any]) -> None:
    e2e = report["e2e"]
    summary(e2e, "cli", "command_to_edited_file")
    summary(e2e, "cli_warm", "command_to_edited_file")  # every run a fork of the warm process
    assert e2e["cli_warm"]["warm_process"] is True and e2e["cli"]["warm_process"] is False
    summary(e2e, "server", "warm_command_to_edited_document")
    summary(e2e, "server", "cold_process_start_to_edited_document")
    # Aider is opt-in (--with-aider): the report says so instead of showing zeros.
    assert "--with-aider" in e2e["aider"]


def test_context_figures(report: dict[str, Any]) -> None:
    tree = report["context"]["root"]
    assert tree["indexed_files"] == 60
    positive(tree, "full_index_s")
    summary({"r": tree["retrieval"] | {"n": tree["retrieval"]["queries"]}}, "r")


def test_completion_figures(report: dict[str, Any]) -> None:
    comp = report["completion"]
    summary(comp, "overhead", "request_to_item_minus_ttft")
    summary(comp, "supersede", "new_request_to_old_stream_closed")
    summary(comp, "cache", "request_to_item")
    assert comp["debounce"]["model_calls"] >= 1
    # --quick leaves the embedded model out, and says so.
    assert "skipped" in comp["embedded"]
