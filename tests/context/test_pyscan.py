"""The outline scanner against ``ast``: it must give the chunker exactly the same facts."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tta_codegen.context.chunker import chunk_file
from tta_codegen.context.pyscan import Outline, Stmt, outline_from_ast, scan_outline

TRICKY = [
    # decorators, multi-line ones, decorated first members
    '''
    import os, sys as system
    from . import (a,  # a comment
        b as bee,
    )
    @decorator
    @other(
        1,
    )
    def f(x,
          y=(1, 2)) -> "int":
        """Doc with def inside:
    def not_a_function():
        pass
        """
        return x  # trailing ' quote in a comment

    class C(Base, metaclass=M):
        """Doc."""
        attr = {
    "key": 1,
        }
        @property
        def p(self): return 1

        @staticmethod
        async def s(): ...
        class Inner: pass
    ''',
    # strings of every kind, backslash continuations, semicolons
    "\n".join(
        [
            "x = 'a # not a comment'; y = \"b\"",
            'z = rb\'\\\'\' + f"{x!r}" + r"\\\\"',
            "long = 1 + \\",
            "2",
            's = """line',
            "# still a string",
            "'''\"\"\"",
            "def g(): return '''x",
            "y'''",
            "w = [",
            "1,",
            "2]",
            "",
        ]
    ),
    # imports through if/try; not through with/for/def; try/finally
    """
    import a; import b.c
    if cond:
        import d
    elif other: import e
    else:
        from .f import *
        try:
            from ..g import h
        except ImportError:
            import i
        else:
            import j
        finally:
            import not_walked
    with ctx:
        import not_walked_either
    for x in y: import nor_this
    def k():
        import inside_function
    try: import one_liner
    except Exception: pass
    """,
    # a class whose header spans lines, a def whose first statement is decorated
    """
    class Long(
        Base,
    ):
        x = 1

        def m(self):
            @wraps(f)
            def inner():
                pass
            return inner
    def outer(): pass
    """,
    # try/except* (ast's TryStar) is not walked for imports; a plain try is
    """
    try:
        import in_try_star
    except* ValueError:
        pass
    try:
        import in_try
    except (ImportError,
            OSError):
        pass
    """,
    # compound statements at the top: their end lines include every clause
    """
    if a:
        pass
    else:
        b = [
            1,
        ]
    while x:
        x -= 1
    match command:
        case [a]:
            pass
    """,
]


def _flat(outline: Outline) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []

    def walk(body: list[Stmt], depth: int) -> None:
        for s in body:
            out.append((depth, s.kind, s.first, s.lineno, s.end, s.name, s.body_line))
            walk(s.members, depth + 1)

    walk(outline.body, 0)
    return out


def _agree(text: str) -> None:
    scanned = scan_outline(text)
    assert scanned is not None
    parsed = outline_from_ast(ast.parse(text))
    assert _flat(scanned) == _flat(parsed)
    assert scanned.imports == parsed.imports


@pytest.mark.parametrize("source", TRICKY)
def test_scanner_agrees_with_ast(source: str) -> None:
    _agree(textwrap.dedent(source))


def test_scanner_agrees_with_ast_on_the_project_itself() -> None:
    server = Path(__file__).resolve().parents[2] / "server"
    files = sorted(server.rglob("*.py"))
    assert len(files) > 50
    for path in files:
        _agree(path.read_text(encoding="utf-8"))


def test_imports_follow_if_and_try_only() -> None:
    outline = scan_outline(textwrap.dedent(TRICKY[2]))
    assert outline is not None
    names = [module or "." * level for _, level, module, _ in outline.imports]
    assert names == ["a", "b.c", "d", "e", "f", "g", "i", "j", "one_liner"]


@pytest.mark.parametrize(
    "text",
    [
        "x = 'unterminated\n",
        "def f(:\n    pass\n)\n)\n",
        "x = 1\r\ny = 2\r\n",
        "@decorator\n",
        'print "python 2"\n',
        "\ufeffx = 1\n",
        "x = `y`\n",
    ],
)
def test_scanner_gives_up_on_what_it_cannot_read(text: str) -> None:
    assert scan_outline(text) is None


def test_a_file_the_scanner_gives_up_on_is_parsed_with_ast() -> None:
    text = "def f():\r\n    return 1\r\n\r\nclass C:\r\n    pass\r\n"
    assert scan_outline(text) is None
    rec = chunk_file("/w/m.py", "m.py", text)
    assert [(c.kind, c.name) for c in rec.chunks] == [("function", "f"), ("class", "C")]
    assert rec.defines == ["f", "C"]


def test_python_2_is_left_to_ast_and_gets_text_blocks() -> None:
    text = 'def f():\n    print "hello"\n'
    rec = chunk_file("/w/old.py", "old.py", text)
    assert [c.kind for c in rec.chunks] == ["block"]
