"""Implementing a stub in place: find the function to fill, and fit a model's reply into it.

A stub is a Python function or method whose body is only a docstring, ``pass``, ``...``
or ``raise NotImplementedError``. "Write the body" keeps the stub's decorators, signature
and docstring exactly as the user wrote them and replaces the rest; a model usually
answers with the whole function (or only a body, or with helpers and imports around it),
so :func:`implement` takes the body out of whatever it sent. Pure functions over text,
using :mod:`ast`; no editor, no model.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import textwrap
import tokenize
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def parse_quietly(text: str) -> ast.Module | None:
    """``ast.parse`` that answers None for code that does not parse, and keeps the
    SyntaxWarnings of model output (invalid escapes...) off the server's stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError):
            return None


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

# Above this many characters a text is not parsed whole to find the stub at a line:
# parsing 20 MB of Python takes seconds of CPU and gigabytes for the tree, on every
# request. The top-level statements around the line are parsed instead (a function and
# whatever class holds it sit inside one of them), widened while that is in doubt.
WHOLE_PARSE_CHARS = 1_000_000
WINDOW_CHARS = 1_000_000  # the most parsed around a line; beyond it: no stub found
_WIDEN_TRIES = 8
# A line at column 0 that starts a top-level statement (not a continuation of one).
_CONTINUES = re.compile(r"[\s#)\]}]|(?:else|elif|except|finally)\b|$")


@dataclass(frozen=True)
class Stub:
    name: str
    params: tuple[str, ...]
    start: int  # offset of the first decorator's (or the def's) line
    end: int  # offset just past the function's last line (its newline included)
    head: str  # decorators, signature and docstring: kept as they are
    body_indent: str  # indentation of the body's statements


class ImplementError(Exception):
    """The reply cannot be fitted into the stub; the message says why, in one line."""


def _params(fn: FunctionNode) -> tuple[str, ...]:
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    if a.vararg:
        names.append("*" + a.vararg.arg)
    if a.kwarg:
        names.append("**" + a.kwarg.arg)
    return tuple(names)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_placeholder(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return stmt.value.value is Ellipsis
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def is_stub(fn: FunctionNode) -> bool:
    body = fn.body[1:] if fn.body and _is_docstring(fn.body[0]) else fn.body
    return all(_is_placeholder(s) for s in body)


def _line_offsets(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _functions(tree: ast.AST) -> list[FunctionNode]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def find_stub(
    text: str,
    *,
    line: int | None = None,
    symbol: str | None = None,
    line_start: int | None = None,
) -> Stub | None:
    """The innermost stub whose decorators, ``def`` line or body hold 0-based ``line``, or
    the stub named ``symbol`` (``name`` or ``Class.name``); None when there is none or the
    text does not parse. ``line_start`` (the offset of ``line``, when the caller has a line
    index) spares a walk to it in a long text."""
    if line is not None and symbol is None and len(text) > WHOLE_PARSE_CHARS:
        return _find_near(text, line, line_start)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    found: FunctionNode | None = None
    if symbol is not None:
        found = _by_symbol(tree, symbol)
    elif line is not None:
        found = _innermost(tree, line + 1)
    if found is None or not is_stub(found):
        return None
    return _stub(text, found)


def _find_near(text: str, line: int, line_start: int | None) -> Stub | None:
    """:func:`find_stub` by line in a long text: parse only the statements around it."""

    def at_top(tree: ast.Module, lineno: int) -> bool:
        found = _innermost(tree, lineno)
        return found is not None and _first_line(found) == 1

    parsed = parse_around(text, line, line_start, at_top)
    if parsed is None:
        return None
    tree, lo, hi, lineno = parsed
    found = _innermost(tree, lineno)
    if found is None or not is_stub(found):
        return None
    stub = _stub(text[lo:hi], found)
    return dataclasses.replace(stub, start=stub.start + lo, end=stub.end + lo)


def parse_around(
    text: str, line: int, line_start: int | None, at_top: Callable[[ast.Module, int], bool]
) -> tuple[ast.Module, int, int, int] | None:
    """The top-level statements around 0-based ``line`` of a long ``text``, parsed.

    ``(tree, lo, hi, lineno)``: ``tree`` parsed from ``text[lo:hi]``, cut at statement
    boundaries, ``lineno`` the 1-based line of ``line`` in it. The window is widened while
    it does not parse (a cut inside a string or brackets spanning a column-0 line) and while
    ``at_top(tree, lineno)`` says that what the caller looks for begins on the window's
    first line (decorators may sit above). None past :data:`WINDOW_CHARS` or when the
    text around the line does not parse.
    """
    if line_start is None:
        line_start = 0
        for _ in range(line):
            nl = text.find("\n", line_start)
            if nl < 0:
                return None
            line_start = nl + 1
    lo = _statement_at_or_before(text, line_start)
    hi = _statement_after(text, line_start)
    for _ in range(_WIDEN_TRIES):
        if lo is None or hi is None or hi - lo > WINDOW_CHARS:
            return None
        try:
            tree = ast.parse(text[lo:hi])
        except (SyntaxError, ValueError):
            wider = (
                _statement_at_or_before(text, _line_before(text, lo)) if lo else 0,
                _statement_after(text, hi) if hi < len(text) else hi,
            )
            if wider == (lo, hi):
                return None  # the whole text around the line does not parse
            lo, hi = wider
            continue
        lineno = text.count("\n", lo, line_start) + 1
        if lo > 0 and at_top(tree, lineno):
            lo = _statement_at_or_before(text, _line_before(text, lo))
            continue
        return tree, lo, hi, lineno
    return None


def _line_before(text: str, start: int) -> int:
    return text.rfind("\n", 0, max(0, start - 1)) + 1


def _statement_at_or_before(text: str, start: int) -> int | None:
    """The start of the top-level statement holding the line at ``start``."""
    pos = start
    while pos > 0 and _CONTINUES.match(text, pos):
        if start - pos > WINDOW_CHARS:
            return None
        pos = _line_before(text, pos)
    return pos


def _statement_after(text: str, start: int) -> int | None:
    """The start of the next top-level statement after the line at ``start`` (or the end)."""
    pos = start
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
        if pos >= len(text) or not _CONTINUES.match(text, pos):
            return pos
        if pos - start > WINDOW_CHARS:
            return None


def _first_line(fn: FunctionNode) -> int:
    return min([fn.lineno, *(d.lineno for d in fn.decorator_list)])


def _innermost(tree: ast.AST, lineno: int) -> FunctionNode | None:
    """The innermost function whose decorators, ``def`` line or body hold 1-based ``lineno``."""
    found: FunctionNode | None = None
    for fn in _functions(tree):
        first = _first_line(fn)
        last = fn.end_lineno or fn.lineno
        if first <= lineno <= last and (found is None or fn.lineno > found.lineno):
            found = fn
    return found


def _by_symbol(tree: ast.Module, symbol: str) -> FunctionNode | None:
    owner, _, name = symbol.rpartition(".")
    scopes: list[ast.AST] = [tree]
    if owner:
        scopes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == owner]
    for scope in scopes:
        for node in ast.iter_child_nodes(scope):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                return node
    return None


def _stub(text: str, fn: FunctionNode) -> Stub:
    offsets = _line_offsets(text)
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    start = offsets[first - 1]
    last = fn.end_lineno or fn.lineno
    end = offsets[last] if last < len(offsets) else len(text)
    keep = fn.body[0] if _is_docstring(fn.body[0]) else None
    if keep is not None:
        head_end_line = keep.end_lineno or keep.lineno
    else:
        # The signature may span lines: it ends on the line before the first statement.
        head_end_line = fn.body[0].lineno - 1
        if head_end_line < fn.lineno:
            head_end_line = fn.lineno  # `def f(): pass` on one line
    head_end = offsets[head_end_line] if head_end_line < len(offsets) else len(text)
    head = text[start:head_end]
    if not head.endswith("\n"):
        head += "\n"
    body_line = text[offsets[fn.body[0].lineno - 1] :].split("\n", 1)[0]
    indent = body_line[: len(body_line) - len(body_line.lstrip())]
    if fn.body[0].lineno == fn.lineno:  # one-line stub: indent one level past the def
        def_line = text[offsets[fn.lineno - 1] :].split("\n", 1)[0]
        indent = def_line[: len(def_line) - len(def_line.lstrip())] + "    "
        head = _one_line_head(text, fn, offsets)
    return Stub(fn.name, _params(fn), start, end, head, indent)


def _one_line_head(text: str, fn: FunctionNode, offsets: list[int]) -> str:
    """``def f(x): ...`` → ``def f(x):`` plus a newline (its body goes on its own lines)."""
    first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
    stmt = fn.body[0]
    line_start = offsets[stmt.lineno - 1]
    cut = line_start + len(
        text[line_start:].encode("utf-8")[: stmt.col_offset].decode("utf-8", "replace")
    )
    return text[offsets[first - 1] : cut].rstrip() + "\n"


def implement(stub: Stub, reply: str) -> str:
    """The stub with its body replaced by the code in ``reply``: the whole new function.

    ``reply`` may be the whole function (its body is taken, its docstring dropped: the
    stub's is kept), only a body, or a function with helpers and imports around it (those
    go at the top of the body, where they work). A reply defining one function with
    another name is used when its parameters match the stub's; otherwise
    :class:`ImplementError`.
    """
    code = textwrap.dedent(reply.replace("\r\n", "\n")).strip("\n")
    if not code.strip():
        raise ImplementError("the reply has no code for the body")
    body = _body_of(stub, code)
    if not body.strip():
        raise ImplementError(f"the reply has no body for {stub.name}()")
    lines = [(stub.body_indent + line) if line.strip() else "" for line in body.split("\n")]
    return stub.head + "\n".join(lines).rstrip("\n") + "\n"


def _body_of(stub: Stub, code: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return _body_by_text(stub, code)
    top = list(tree.body)
    defs = [n for n in top if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    target = next((d for d in defs if d.name == stub.name), None)
    if target is None:
        # A method answered inside its class (``class A:\n    def area(...)``): take the
        # method, and of what surrounds it only the imports.
        nested = [n for n in _functions(tree) if n.name == stub.name and n not in defs]
        if nested:
            imports: list[ast.stmt] = [n for n in top if isinstance(n, ast.Import | ast.ImportFrom)]
            parts = [_segment(code, imports)] if imports else []
            parts.append(textwrap.dedent(_segment(code, _without_docstring(nested[0].body))))
            return "\n".join(p for p in parts if p.strip())
    if target is None and len(defs) > 1:
        names = ", ".join(f"{d.name}()" for d in defs)
        raise ImplementError(
            f"the reply defines {names} but not {stub.name}(); nothing was changed"
        )
    if target is None and defs:
        other = defs[0]
        if _params(other) != stub.params:
            raise ImplementError(
                f"the reply defines {other.name}({', '.join(_params(other))}), not "
                f"{stub.name}({', '.join(stub.params)}); nothing was changed"
            )
        target = other
    if target is None:
        # Only statements: they are the body (a leading docstring is the stub's to keep).
        stmts = top[1:] if top and _is_docstring(top[0]) else top
        return _segment(code, stmts)
    inner = _without_docstring(target.body)
    extra = [
        n for n in top if n is not target and not _is_usage_example(n) and not _is_docstring(n)
    ]
    parts = [_segment(code, extra)] if extra else []
    body = textwrap.dedent(_segment(code, inner))
    renames = {
        old.lstrip("*"): new.lstrip("*")
        for old, new in zip(_params(target), stub.params, strict=False)
        if old != new
    }
    if renames and len(_params(target)) == len(stub.params):
        # The stub's own name with its parameters renamed (small models often do that):
        # the stub's signature stays, so its body must use the stub's names.
        body = _rename(body, renames)
    parts.append(body)
    return "\n".join(p for p in parts if p.strip())


def _rename(code: str, renames: dict[str, str]) -> str:
    """``code`` with the names in ``renames`` replaced, as names only: not attributes
    (``x.num``), not inside strings or comments."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return code
    lines = code.split("\n")
    edits: list[tuple[int, int, int, str]] = []
    previous: tokenize.TokenInfo | None = None
    for tok in tokens:
        if (
            tok.type == tokenize.NAME
            and tok.string in renames
            and not (previous is not None and previous.string == ".")
        ):
            edits.append((tok.start[0] - 1, tok.start[1], tok.end[1], renames[tok.string]))
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok
    for row, start, end, new in reversed(edits):
        lines[row] = lines[row][:start] + new + lines[row][end:]
    return "\n".join(lines)


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    """The stub keeps its own docstring: drop the reply's (unless it is the whole body)."""
    return body[1:] if _is_docstring(body[0]) and len(body) > 1 else body


def _is_usage_example(node: ast.stmt) -> bool:
    """Prints, asserts and ``if __name__ == "__main__":`` blocks around a reply's function."""
    if isinstance(node, ast.Expr | ast.Assert):
        return True
    if isinstance(node, ast.If):
        test = node.test
        return (
            isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and test.left.id == "__name__"
        )
    return False


def _segment(code: str, stmts: Sequence[ast.stmt]) -> str:
    """Source lines of ``stmts`` (whole lines, decorators and comments between included)."""
    if not stmts:
        return ""
    lines = code.split("\n")
    out: list[str] = []
    for stmt in stmts:
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
        out.extend(lines[first - 1 : stmt.end_lineno or stmt.lineno])
    return textwrap.dedent("\n".join(out))


def _body_by_text(stub: Stub, code: str) -> str:
    """A reply that does not parse: drop a leading ``def`` line of the stub's name, keep
    the rest as the body (the syntax gate then says what is wrong)."""
    lines = code.split("\n")
    first = lines[0].lstrip()
    if first.startswith((f"def {stub.name}(", f"async def {stub.name}(")) and first.endswith(":"):
        return textwrap.dedent("\n".join(lines[1:]))
    return code
