"""The pure diffs of textdiff.py, in-process: minimal_replacement and common_prefix answer
exactly as the character-by-character definition does (while skipping equal stretches a
chunk at a time), and the line plan of a streamed rewrite (the edit session's core)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen.textdiff import common_prefix, minimal_replacement, plan_lines


def reference(old: str, new: str) -> tuple[int, int, str]:
    n = min(len(old), len(new))
    pre = 0
    while pre < n and old[pre] == new[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and old[len(old) - 1 - suf] == new[len(new) - 1 - suf]:
        suf += 1
    return pre, len(old) - suf, new[pre : len(new) - suf]


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab\n", max_size=40_000),
    st.integers(0, 40_000),
    st.integers(0, 50),
    st.text(alphabet="abc\n", max_size=30),
)
def test_same_answer_as_the_definition(old: str, at: int, cut: int, insert: str) -> None:
    at = min(at, len(old))
    new = old[:at] + insert + old[at + cut :]
    assert minimal_replacement(old, new) == reference(old, new)
    assert minimal_replacement(new, old) == reference(new, old)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab", max_size=40_000), st.text(alphabet="ab", max_size=20))
def test_common_prefix_is_the_length_both_start_with(shared: str, rest: str) -> None:
    a, b = shared + "x" + rest, shared + "y"
    assert common_prefix(a, b) == common_prefix(b, a) == len(shared)
    assert common_prefix(shared, shared + rest) == len(shared)


def apply_plan(new: list[str], tail: list[str]) -> tuple[str, str]:
    lead, span, text, skip = plan_lines(new, tail)
    t = "".join(tail)
    result = t[:lead] + text + t[lead + span :]
    cursor = lead + len(text) + skip
    return result[:cursor], result[cursor:]


def test_plan_keeps_unchanged_lines_out_of_the_edit() -> None:
    tail = ["a\n", "b\n", "c\n", "d\n"]
    lead, span, text, skip = plan_lines(["a\n", "B\n", "c\n", "d\n"], tail)
    assert (lead, span, text, skip) == (2, 2, "B\n", 4)


def test_plan_deletes_skipped_lines() -> None:
    tail = ["one\n", "two\n", "three\n", "four\n"]
    done, rest = apply_plan(["one\n", "four\n"], tail)
    assert done == "one\nfour\n" and rest == ""


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["x = 1\n", "y = 2\n", "return z\n", "\n", "pass\n"]), max_size=8),
    st.lists(
        st.sampled_from(["x = 1\n", "y = 2\n", "return z\n", "\n", "pass\n", "w\n"]), max_size=8
    ),
)
def test_plan_always_produces_the_new_lines(new: list[str], tail: list[str]) -> None:
    done, _rest = apply_plan(new, tail)
    assert done == "".join(new)
