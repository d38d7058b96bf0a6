"""minimal_replacement skips equal stretches a chunk at a time and answers exactly as the
character-by-character definition does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen.textdiff import minimal_replacement


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
