"""minimal_replacement skips equal stretches a chunk at a time and answers exactly as the
character-by-character definition does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen.textdiff import common_prefix, minimal_replacement


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
