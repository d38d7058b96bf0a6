"""Re-indentation of streamed code and the line plan of a streamed rewrite."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen.reindent import Reindenter, common_indent, reindent
from tta_codegen.textdiff import plan_lines


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


def test_implement_renames_the_parameters_a_model_renamed_in_the_body() -> None:
    from tta_codegen.stubs import find_stub, implement

    text = 'def truncate_number(number: float) -> float:\n    """Doc."""\n'
    stub = find_stub(text, symbol="truncate_number")
    assert stub is not None
    reply = (
        "def truncate_number(num: float) -> float:\n"
        '    s = "num"  # num\n'
        "    return num - int(num) + obj.num * 0\n"
    )
    assert implement(stub, reply) == (
        'def truncate_number(number: float) -> float:\n    """Doc."""\n'
        '    s = "num"  # num\n'
        "    return number - int(number) + obj.num * 0\n"
    )
