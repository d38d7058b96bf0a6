"""In-process tests of the LSP layer's pure parts: region tracking and the overlap rule,
the typed answers' wire shape, the editor's capabilities, and argument parsing.

The end-to-end tests in this folder prove the wiring; these pin every branch.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import client_capabilities

from tta_codegen.engine import Attempt, GenerationResult
from tta_codegen.gates.types import GateResult
from tta_codegen.lsp.answers import (
    ChangeAnswer,
    DiagnosticAnswer,
    GenerationAnswer,
    RangeAnswer,
    ReviewRef,
)
from tta_codegen.lsp.client import EditorCapabilities, range_json
from tta_codegen.lsp.documents import TextChange
from tta_codegen.lsp.params import EmptyParams, IdParams, parse_params
from tta_codegen.lsp.regions import follow, overlaps
from tta_codegen.models.base import Usage
from tta_codegen.models.safety import Finding
from tta_codegen.textdiff import common_prefix, unified_diff


def change(start: int, end: int, text: str) -> TextChange:
    return TextChange(start, end, text, None, "")


# -- follow ------------------------------------------------------------------------------


def test_an_edit_before_the_region_shifts_it() -> None:
    assert follow(10, 20, change(2, 4, "abcdef")) == (14, 24)


def test_an_edit_after_the_region_or_at_its_end_leaves_it() -> None:
    assert follow(10, 20, change(25, 26, "")) == (10, 20)
    assert follow(10, 20, change(20, 20, "x")) == (10, 20)  # typed right after it


def test_an_insert_at_the_start_edge_lands_before_the_region() -> None:
    assert follow(10, 20, change(10, 10, "xy")) == (12, 22)


def test_an_edit_inside_keeps_the_users_text_in_the_region() -> None:
    assert follow(10, 20, change(12, 14, "abcd")) == (10, 22)


def test_an_edit_across_an_edge_widens_the_region_to_keep_it() -> None:
    assert follow(10, 20, change(5, 12, "z")) == (5, 14)
    assert follow(10, 20, change(18, 25, "zz")) == (10, 20)


# -- the overlap rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "region", "settled", "growing"),
    [
        ((5, 5), (5, 5), True, True),  # two insertions at one point
        ((5, 5), (6, 6), False, False),
        ((5, 5), (0, 10), True, True),  # a point strictly inside
        ((0, 0), (0, 10), False, True),  # at the start edge: before a settled region
        ((10, 10), (0, 10), False, True),  # at the end edge: after a settled region
        ((0, 10), (5, 5), True, True),  # an empty region strictly inside a range
        ((0, 10), (10, 10), False, False),
        ((0, 10), (9, 20), True, True),  # one shared character
        ((0, 10), (10, 20), False, False),  # adjacent ranges share none
    ],
)
def test_overlaps_counts_edges_only_of_a_region_still_streaming(
    target: tuple[int, int], region: tuple[int, int], settled: bool, growing: bool
) -> None:
    assert overlaps(*target, *region) is settled
    assert overlaps(*target, *region, growing=True) is growing


# -- answers -----------------------------------------------------------------------------


def _result(**kw: Any) -> GenerationResult:
    base = GenerationResult(
        status="completed",
        text="x = 1\n",
        model="m",
        attempts=[Attempt("a", "down"), Attempt("m")],
        usage=Usage(prompt_tokens=3, completion_tokens=4),
        cost_usd=0.123456789,
        iterations=1,
        gates=[GateResult("ruff", True)],
    )
    return dataclasses.replace(base, **kw)


def test_a_generation_answer_is_the_engines_answer_object_byte_for_byte() -> None:
    result = _result()
    wire = GenerationAnswer.of(result).wire()
    assert wire == result.to_answer()
    assert list(wire) == list(result.to_answer())  # same keys, same order
    assert wire["attempts"] == [{"model": "a", "error": "down"}, {"model": "m"}]
    assert "estimated" not in wire["usage"] and "error" not in wire


def test_optional_fields_appear_only_when_set_and_model_is_always_sent() -> None:
    failed = GenerationAnswer.failed("no").wire()
    assert failed["model"] is None and failed["error"] == "no"
    assert not {"range", "diagnostics", "review", "tests", "uri", "created", "agent"} & set(failed)
    region = types.Range(types.Position(1, 0), types.Position(3, 2))
    answer = GenerationAnswer.of(
        _result(warnings=[Finding(check="safety", message="eval", line=0)]),
        range=RangeAnswer.of(region),
        diagnostics=[DiagnosticAnswer(line=1, message="m", source=None)],
        review=ReviewRef(id="chg-1", range=RangeAnswer.of(region)),
        tests=GenerationAnswer.failed("later"),
    ).wire()
    as_json = {"start": {"line": 1, "character": 0}, "end": {"line": 3, "character": 2}}
    assert answer["range"] == as_json == range_json(region)
    assert answer["review"] == {"id": "chg-1", "range": as_json}
    assert answer["diagnostics"] == [{"line": 1, "message": "m", "source": None}]
    assert answer["warnings"] == [{"line": 0, "message": "eval", "check": "safety"}]
    assert answer["tests"]["status"] == "failed"


def test_a_change_answer_leaves_out_what_it_does_not_say() -> None:
    assert ChangeAnswer(status="accepted", id="c").wire() == {"status": "accepted", "id": "c"}
    refused = ChangeAnswer(status="refused", id="c", message="busy").wire()
    assert refused == {"status": "refused", "id": "c", "message": "busy"}


# -- the editor's capabilities ------------------------------------------------------------


def test_capabilities_of_vscode() -> None:
    caps = EditorCapabilities.of(client_capabilities("visual-studio-code"))
    assert caps.versioned_edits and caps.create_files and caps.delete_files
    assert caps.code_lens_refresh and caps.work_done_progress and caps.configuration


def test_neovim_takes_versioned_edits_without_saying_document_changes() -> None:
    nvim = client_capabilities("neovim")
    assert nvim.workspace is not None and nvim.workspace.workspace_edit is not None
    assert not nvim.workspace.workspace_edit.document_changes
    assert EditorCapabilities.of(nvim).versioned_edits


def test_a_client_that_says_nothing_gets_plain_edits_only() -> None:
    caps = EditorCapabilities.of(types.ClientCapabilities())
    assert caps == EditorCapabilities() and not caps.versioned_edits


# -- arguments -----------------------------------------------------------------------------


def test_no_argument_reads_as_an_empty_object_only_where_allowed() -> None:
    assert parse_params(EmptyParams, (), "tta.stats", optional=True) == EmptyParams()
    with pytest.raises(JsonRpcInvalidParams, match="exactly one object argument"):
        parse_params(IdParams, (), "tta.accept")
    with pytest.raises(JsonRpcInvalidParams, match="id"):
        parse_params(IdParams, ({"id": ""},), "tta.accept")


# -- text helpers --------------------------------------------------------------------------


def test_common_prefix_across_chunks() -> None:
    a = "x" * 40_000 + "abc"
    assert common_prefix(a, "x" * 40_000 + "abd") == 40_002
    assert common_prefix("", "abc") == 0


def test_unified_diff_marks_a_last_line_without_newline() -> None:
    diff = unified_diff("m.py", "a = 1\n", "a = 2")
    assert diff.startswith("--- a/m.py\n+++ b/m.py\n")
    assert diff.endswith("+a = 2\n\\ No newline at end of file\n")
    assert unified_diff("n.py", "", "x\n", new_file=True).startswith("--- /dev/null\n")
