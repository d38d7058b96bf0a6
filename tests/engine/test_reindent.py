"""Re-indentation of streamed code to the depth of the cursor or the selection."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen.reindent import Reindenter, common_indent, reindent


def test_reindent_to_selection_depth() -> None:
    code = "def f(x):\n    if x:\n        return 1\n\n    return 2\n"
    assert reindent(code, "    ") == (
        "    def f(x):\n        if x:\n            return 1\n\n        return 2\n"
    )


def test_first_line_after_cursor_indentation() -> None:
    code = "x = 1\ny = 2\n"
    assert reindent(code, "        ", first_line_prefixed=True) == "x = 1\n        y = 2\n"


def test_model_already_at_depth_is_unchanged() -> None:
    code = "    a = 1\n    b = 2\n"
    assert reindent(code, "    ") == code


def test_common_indent() -> None:
    assert common_indent("    a\n\n      b\n") == "    "
    assert common_indent("\ta\n b\n") == ""


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab \n", max_size=12), max_size=6), st.integers(1, 9))
def test_reindent_is_chunking_invariant(parts: list[str], size: int) -> None:
    text = "".join(parts)
    whole = reindent(text, "  ")
    r = Reindenter("  ")
    streamed = "".join(r.feed(text[i : i + size]) for i in range(0, len(text), size)) + r.finish()
    assert streamed == whole
