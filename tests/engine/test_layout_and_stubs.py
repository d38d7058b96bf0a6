"""Pure cores of issue 17: where inserted code meets the text, stubs, cut-off fences."""

from __future__ import annotations

import pytest

from tta_codegen.extract import CodeExtractor
from tta_codegen.layout import lead, starts_top_level_def, trail
from tta_codegen.stubs import ImplementError, find_stub, implement

CODE = "def add(a, b):\n    return a + b\n"


def framed(text: str, offset: int, code: str = CODE) -> str:
    before = lead(text, offset, language="python", top_level_def=code.startswith("def "))
    body = before + code
    return text[:offset] + body + trail(text, offset, body, language="python") + text[offset:]


@pytest.mark.parametrize(
    ("text", "offset", "expected"),
    [
        ("x = 1", 5, f"x = 1\n\n\n{CODE}"),  # end of a line without a newline
        ("x = 1\n", 6, f"x = 1\n\n\n{CODE}"),
        ("x = 1\n\n\n", 8, f"x = 1\n\n\n{CODE}"),  # blank lines already there count
        ("", 0, CODE),
        ("y = 2\n", 0, f"{CODE}\n\ny = 2\n"),
        ("x = 1\ny = 2\n", 5, f"x = 1\n\n\n{CODE}\n\ny = 2\n"),
    ],
)
def test_inserted_definitions_get_their_own_lines_and_pep8_blank_lines(
    text: str, offset: int, expected: str
) -> None:
    assert framed(text, offset) == expected


def test_inline_and_indented_insertions_are_left_alone() -> None:
    assert framed("x = (1)", 5, "2 + ") == "x = (2 + 1)"  # between text on one line
    assert lead("class A:\n    ", 13, language="python", top_level_def=False) == ""
    assert framed("x = 1", 5, "y = 2\n") == "x = 1\ny = 2\n"  # not a definition: no blanks


def test_a_definition_is_recognised_from_its_first_characters() -> None:
    assert starts_top_level_def("de") is None  # could still become "def "
    assert starts_top_level_def("def f") is True
    assert starts_top_level_def("@dataclass") is True
    assert starts_top_level_def("x = 1") is False
    assert starts_top_level_def("    def f") is False


def test_an_unclosed_fence_is_detectable() -> None:
    ex = CodeExtractor()
    ex.feed("```python\ndef f():\n    return 1")
    assert ex.open_fence
    ex.finish()
    assert ex.unclosed
    closed = CodeExtractor()
    closed.feed("```python\nx = 1\n```\n")
    closed.finish()
    assert not closed.unclosed


STUBS = '''class A:
    @property
    def size(self) -> int:
        """How big."""
        raise NotImplementedError()

    def done(self) -> int:
        return 1


async def fetch(url: str) -> bytes: ...
'''


def test_find_stub_by_line_and_symbol_and_not_a_real_function() -> None:
    by_line = find_stub(STUBS, line=4)
    assert by_line is not None and by_line.name == "size"
    assert by_line.head.startswith("    @property\n") and by_line.body_indent == "        "
    assert find_stub(STUBS, symbol="A.size") == by_line
    assert find_stub(STUBS, line=7) is None  # `done` has a real body
    one_line = find_stub(STUBS, symbol="fetch")
    assert one_line is not None and one_line.head == "async def fetch(url: str) -> bytes:\n"
    assert find_stub("def f(:\n", line=0) is None  # does not parse


def test_implement_fits_each_reply_shape_into_the_stub() -> None:
    stub = find_stub(STUBS, symbol="A.size")
    assert stub is not None
    head = '    @property\n    def size(self) -> int:\n        """How big."""\n'
    whole = "import math\n\ndef size(self):\n    '''Other doc.'''\n    return 3\n\nprint(1)\n"
    assert implement(stub, whole) == head + "        import math\n        return 3\n"
    assert implement(stub, "return 4") == head + "        return 4\n"
    assert implement(stub, "def big(self):\n    return 5\n") == head + "        return 5\n"
    with pytest.raises(ImplementError, match=r"defines big\(x\), not size\(self\)"):
        implement(stub, "def big(x):\n    return 5\n")
    with pytest.raises(ImplementError, match="defines f\\(\\), g\\(\\) but not size"):
        implement(stub, "def f():\n    pass\n\ndef g():\n    pass\n")


def test_a_method_answered_inside_its_class_gives_its_body() -> None:
    stub = find_stub(STUBS, symbol="A.size")
    assert stub is not None
    reply = "import os\n\nclass A:\n    @property\n    def size(self) -> int:\n        return 7\n"
    assert implement(stub, reply).endswith('"""How big."""\n        import os\n        return 7\n')


def test_implement_renames_the_parameters_a_model_renamed_in_the_body() -> None:
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
