"""Work on a long document stays near the edit (issue 19, item 19), with the same answers.

The stub at a line is found by parsing the top-level statements around it instead of
the whole text, and a full-sync echo is recognised by the span the edit covers. Each is
checked against the whole-text computation it replaces, and the stub search is checked
never to hand the parser more than its window.
"""

from __future__ import annotations

import ast
import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen import stubs
from tta_codegen.lsp.documents import TextChange
from tta_codegen.lsp.edit_session import _InFlight, _same_result
from tta_codegen.stubs import find_stub
from tta_codegen.textdiff import minimal_replacement

# Everything that can put a column-0 line inside a statement, or a stub near a window's edge.
TRICKY = '''import x


@decorator(
    arg=1,
)
def f(a,
      b):
    """Doc.

text at column 0
"""
    ...

class A:
    """A class."""

    @property
    def size(self) -> int:
        raise NotImplementedError

    def done(self):
        return 1

    async def later(self): ...

x = """
def fake(): pass
"""
if x:
    def g(): pass
else:
    def h(): ...
try:
    pass
except E:
    def k(): ...
values = [
1, 2,
]
def last(
    q,
) -> None:
    pass
'''


def line_starts(text: str) -> list[int]:
    return [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]


def test_the_stub_near_a_line_is_the_one_a_whole_parse_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts = line_starts(TRICKY)
    whole = [find_stub(TRICKY, line=n) for n in range(len(starts))]
    assert sum(s is not None for s in whole) >= 8  # the sample exercises stubs at all
    monkeypatch.setattr(stubs, "WHOLE_PARSE_CHARS", 0)  # every text counts as long now
    for n in range(len(starts)):
        assert find_stub(TRICKY, line=n, line_start=starts[n]) == whole[n], n
        assert find_stub(TRICKY, line=n) == whole[n], n  # the walk to the line, no index


def test_a_long_document_is_never_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    filler = "".join(f"value_{i} = compute({i})\n" for i in range(60_000))  # ~1.5 MB
    text = filler + TRICKY + filler
    assert len(text) > stubs.WHOLE_PARSE_CHARS
    parsed: list[int] = []
    real_parse = ast.parse

    def parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(len(source))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", parse)
    first = filler.count("\n")
    offset = len(filler) + TRICKY.index("    def size")
    line = first + TRICKY[: TRICKY.index("    def size")].count("\n")
    stub = find_stub(text, line=line, line_start=text.rfind("\n", 0, offset) + 1)
    assert stub is not None and stub.name == "size"
    assert text[stub.start : stub.end].startswith("    @property\n    def size(self)")
    assert parsed and max(parsed) < len(TRICKY)  # the class around it, not 3 MB


ALPHABET = st.sampled_from(["a", "b", "\n", " ", "é"])
TEXT = st.text(ALPHABET, max_size=30)


@settings(max_examples=500, deadline=None)
@given(
    before=TEXT,
    ours=st.tuples(st.integers(0, 30), st.integers(0, 30), TEXT),
    theirs=st.tuples(st.integers(0, 30), st.integers(0, 30), TEXT),
    full_sync=st.booleans(),
)
def test_an_echo_is_recognised_by_its_span_exactly_as_by_the_whole_text(
    before: str, ours: tuple[int, int, str], theirs: tuple[int, int, str], full_sync: bool
) -> None:
    def clip(edit: tuple[int, int, str]) -> tuple[int, int, str]:
        s, e, t = edit
        s, e = sorted((min(s, len(before)), min(e, len(before))))
        return s, e, t

    (ps, pe, pt), (cs, ce, ct) = clip(ours), clip(theirs)
    after = before[:cs] + ct + before[ce:]
    if full_sync:  # what the server sees of a full-sync client's change
        cs, ce, ct = minimal_replacement(before, after)
    pending = _InFlight(ps, pe, pt, before, asyncio.Event(), (0, 0, 0))
    change = TextChange(cs, ce, ct, 1, after, before)
    assert _same_result(pending, change) == (after == before[:ps] + pt + before[pe:])
    # The last of several changes (made against an intermediate text): the whole result
    # decides, as it did before.
    split = TextChange(cs, ce, ct, 1, after, before + "x")
    assert _same_result(pending, split) == (after == before[:ps] + pt + before[pe:])


def test_the_code_around_a_diagnostic_is_the_one_a_whole_parse_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tta_codegen.lsp.features import actions

    starts = line_starts(TRICKY)
    whole = [actions.enclosing_lines(TRICKY, n) for n in range(len(starts))]
    monkeypatch.setattr(actions, "WHOLE_PARSE_CHARS", 0)
    for n in range(len(starts)):
        assert actions.enclosing_lines(TRICKY, n, starts[n]) == whole[n], n
