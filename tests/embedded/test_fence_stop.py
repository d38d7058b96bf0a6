"""Stopping at the closing fence of the first code block, across any chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tta_codegen.models.llamacpp import FenceStop

REPLY = "Here you go:\n```python\ndef f():\n    return 1\n```\nThis function returns one.\n```"
UP_TO_CLOSE = "Here you go:\n```python\ndef f():\n    return 1\n```"


def run(chunks: list[str]) -> tuple[str, bool]:
    fence = FenceStop()
    out: list[str] = []
    for chunk in chunks:
        text, closed = fence.feed(chunk)
        out.append(text)
        if closed:
            return "".join(out), True
    return "".join(out), False


@given(st.lists(st.integers(min_value=1, max_value=len(REPLY)), max_size=12))
def test_cuts_right_after_the_closing_fence_whatever_the_chunking(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [REPLY[a:b] for a, b in zip([0, *points], [*points, len(REPLY)], strict=True)]
    chunks = [c for c in chunks if c]
    assert run(chunks) == (UP_TO_CLOSE, True)


def test_no_fence_means_no_stop() -> None:
    assert run(["def f():\n", "    return 1\n"]) == ("def f():\n    return 1\n", False)


def test_an_open_block_does_not_stop() -> None:
    assert run(["```python\n", "x = '``'\n", "y = 2\n"]) == ("```python\nx = '``'\ny = 2\n", False)


def test_backticks_inside_a_line_do_not_close() -> None:
    text, closed = run(["```\n", "s = 'a ``` b'\n", "```", "\nmore"])
    assert closed and text == "```\ns = 'a ``` b'\n```"
