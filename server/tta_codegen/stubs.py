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
import io
import textwrap
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


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
    offsets = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            offsets.append(i + 1)
    return offsets


def _functions(tree: ast.AST) -> list[FunctionNode]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def find_stub(text: str, *, line: int | None = None, symbol: str | None = None) -> Stub | None:
    """The innermost stub whose decorators, ``def`` line or body hold 0-based ``line``, or
    the stub named ``symbol`` (``name`` or ``Class.name``); None when there is none or the
    text does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    found: FunctionNode | None = None
    if symbol is not None:
        found = _by_symbol(tree, symbol)
    elif line is not None:
        lineno = line + 1
        for fn in _functions(tree):
            first = min([fn.lineno, *(d.lineno for d in fn.decorator_list)])
            last = fn.end_lineno or fn.lineno
            if first <= lineno <= last and (found is None or fn.lineno > found.lineno):
                found = fn
    if found is None or not is_stub(found):
        return None
    return _stub(text, found)


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
