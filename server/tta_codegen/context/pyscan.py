"""The outline of a Python module without building its syntax tree.

The chunker needs little of a module's AST: the statements of the module and of each
class body (where each starts and ends, which are functions and classes, their names and
the line of their first body statement) and the import statements reachable through
``if``/``try``. ``ast.parse`` builds an object for every node of every expression, and
building and freeing those trees was half the CPU of indexing the standard library.

This scanner gets the same facts from the text: string literals and comments are masked
(a string becomes ``S``, each line it continues onto starts with ``\\x01``, as does a
line after a backslash continuation), then statements are the lines that start at the
block's indentation outside brackets. Only module and class bodies (and the branches of
module-level ``if``/``try``, for imports) are looked into; a function's body is skipped
in one slice. It answers exactly what ``ast`` does for valid code (checked on every file
of the standard library), and gives up (``None``) on what it cannot read safely or what
looks like a syntax error (non-ASCII outside strings, Python 2): the caller then parses
with ``ast``, and a file ``ast`` rejects is cut into text blocks, as before. A syntax
error that passes those checks unnoticed is chunked as Python.
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, count
from operator import add


@dataclass(slots=True)
class Stmt:
    kind: str  # "def" | "class" | "other"
    first: int  # first line, decorators included
    lineno: int  # the statement's own first line (the ``def``/``class`` line)
    end: int  # last line
    name: str = ""
    body_line: int = 0  # line of the first statement of the body (def and class)
    members: list[Stmt] = field(default_factory=list)  # a class body


# ("import", 0, dotted name, ()) or ("from", level, module or "", names as written, "*"
# included): the raw form; the chunker resolves relative ones.
ImportStmt = tuple[str, int, str, tuple[str, ...]]


@dataclass(slots=True)
class Outline:
    body: list[Stmt]
    imports: list[ImportStmt]


# --- from ast (the fallback, and the reference the scanner is checked against) -------


def outline_from_ast(tree: ast.Module) -> Outline:
    return Outline(_ast_body(tree.body), _ast_imports(tree.body, []))


def _ast_body(body: list[ast.stmt]) -> list[Stmt]:
    """Statements as the scanner sees lines: simple statements that share a line (``a;
    b``) are one, and a class body written on its header's line has no members."""
    out: list[Stmt] = []
    for node in body:
        decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
        first = min([node.lineno, *(d.lineno for d in decorators)])
        end = node.end_lineno or node.lineno
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body_line = node.body[0].lineno if node.body else node.lineno
            members = []
            if isinstance(node, ast.ClassDef) and body_line != node.lineno:
                members = _ast_body(node.body)
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            out.append(Stmt(kind, first, node.lineno, end, node.name, body_line, members))
        elif out and out[-1].kind == "other" and out[-1].end == first:
            out[-1].end = max(out[-1].end, end)
        else:
            out.append(Stmt("other", first, node.lineno, end))
    return out


def _ast_imports(body: list[ast.stmt], out: list[ImportStmt]) -> list[ImportStmt]:
    for node in body:
        if isinstance(node, ast.Import):
            out.extend(("import", 0, a.name, ()) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names)
            out.append(("from", node.level, node.module or "", names))
        elif isinstance(node, ast.If | ast.Try):
            _ast_imports(node.body, out)
            for handler in getattr(node, "handlers", []):
                _ast_imports(handler.body, out)
            _ast_imports(node.orelse, out)
    return out


# --- the scanner ----------------------------------------------------------------------

# A string's prefix (r, b, f...) stays in the masked text ("fS"): matching it costs a
# lookbehind at every position, three times the time of the rest.
_MASK = re.compile(
    r"""(?:'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"""
    + r'''|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'''
    + r"""|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"""
    + r"""|"[^"\\\n]*(?:\\.[^"\\\n]*)*")"""
    + r"|#[^\n]*|\\\n",
    re.DOTALL,
)
# Python 2 statements and operators in the masked text ("print S", "exec S", backticks, <>).
_PYTHON2 = re.compile(r"^[ \t]*(?:print|exec)[ \t]+[\w>]|`|<>", re.MULTILINE)
_OPENERS = "([{"
_CLOSERS = ")]}"
_HEADER_TOKENS = re.compile(r"[()\[\]{}:]")
_DEF = re.compile(r"(?:async[ \t]+)?def[ \t]+([^\W\d]\w*)|class[ \t]+([^\W\d]\w*)")
_CLAUSE = re.compile(r"(?:else|elif|except|finally)(?!\w)")
_IMPORT = re.compile(r"import(?!\w)")
_FROM = re.compile(r"from(?=[\s.])")
# Compound statements other than if/try: ast's walk does not look into them.
_COMPOUND = re.compile(r"(?:for|while|with|async|match)(?!\w)")
_AS = re.compile(r"\sas\s")
_IF_TRY = re.compile(r"(?:if|try)(?!\w)")
_IMPORT_BODY = re.compile(r"from\s*([.\s]*)([\w.\s]*?)\s*(?<!\w)import(?!\w)(.*)", re.DOTALL)


class _GiveUp(Exception):
    pass


def _mask_one(m: re.Match[str]) -> str:
    s = m.group()
    c = s[0]
    if c == "#":
        return ""
    if c == "\\":
        return "\n\x01"
    n = s.count("\n")
    return "S" + "\n\x01" * n if n else "S"


@lru_cache(maxsize=64)
def _starts(indent: str) -> re.Pattern[str]:
    """Lines that begin with a token at exactly ``indent``."""
    return re.compile("^" + re.escape(indent) + r"(?=[^\s\x01])", re.MULTILINE)


def _balance(count: Callable[[str, int, int], int], lo: int, hi: int) -> int:
    """Opening minus closing brackets in ``[lo, hi)`` of the masked text."""
    return (
        count("(", lo, hi)
        + count("[", lo, hi)
        + count("{", lo, hi)
        - count(")", lo, hi)
        - count("]", lo, hi)
        - count("}", lo, hi)
    )


_FIRST_TOKEN = re.compile(r"^([ \t]*)(?=[^\s\x01])", re.MULTILINE)


def scan_outline(text: str) -> Outline | None:
    """The outline of ``text``, or None when it cannot be read safely without ``ast``."""
    if "\r" in text or "\f" in text:
        return None  # other line ends and form feeds: leave them to the tokenizer
    masked = _MASK.sub(_mask_one, text)
    if "'" in masked or '"' in masked:
        return None  # an unterminated string
    if not masked.isascii() or _PYTHON2.search(masked):
        # Likely a syntax error (a BOM or a stray symbol outside strings, Python 2):
        # let ast decide, so such a file gets text blocks as it did before the scanner.
        return None
    try:
        return _Scanner(masked).run()
    except (_GiveUp, RecursionError):
        return None


class _Scanner:
    def __init__(self, masked: str) -> None:
        self.m = masked
        # Where each newline is (built in C: line lengths, accumulated), for line numbers.
        lengths = map(len, masked.split("\n"))
        self._nl: list[int] = list(map(add, accumulate(lengths), count()))

    def line(self, pos: int) -> int:
        return bisect_right(self._nl, pos - 1) + 1

    def run(self) -> Outline:
        m = self.m
        stmts = self.block(0, len(m), "")
        imports: list[ImportStmt] = []
        self.imports(stmts, imports)
        return Outline([s for s, _, _ in stmts], imports)

    # A statement while scanning: (Stmt, start position, end position).

    def block(self, lo: int, hi: int, indent: str) -> list[tuple[Stmt, int, int]]:
        """The statements of the block in ``[lo, hi)`` whose lines start at ``indent``."""
        m = self.m
        starts: list[int] = []
        depth = 0
        prev = lo
        tally = m.count
        for match in _starts(indent).finditer(m, lo, hi):
            pos = match.end()
            depth += _balance(tally, prev, pos)
            prev = pos
            if depth < 0:
                raise _GiveUp
            if depth == 0:
                starts.append(pos)
        if depth + _balance(tally, prev, hi):
            raise _GiveUp  # unbalanced brackets
        # Group lines: decorators join the next statement, else/elif/except/finally the
        # previous one.
        out: list[tuple[Stmt, int, int]] = []
        decorators: int | None = None
        groups: list[tuple[int, int]] = []  # (first position incl. decorators, own position)
        for pos in starts:
            c = m[pos]
            if c == "@":
                if decorators is None:
                    decorators = pos
                continue
            if groups and decorators is None and _CLAUSE.match(m, pos):
                continue
            groups.append((decorators if decorators is not None else pos, pos))
            decorators = None
        if decorators is not None:
            raise _GiveUp  # a decorator with nothing to decorate
        for i, (first, own) in enumerate(groups):
            stop = groups[i + 1][0] if i + 1 < len(groups) else hi
            end_pos = first + len(m[first:stop].rstrip())
            stmt = Stmt("other", self.line(first), self.line(own), self.line(end_pos - 1))
            d = _DEF.match(m, own)
            if d is not None:
                self.definition(stmt, d, end_pos, indent)
            out.append((stmt, own, end_pos))
        return out

    def definition(self, stmt: Stmt, d: re.Match[str], end_pos: int, indent: str) -> None:
        m = self.m
        is_class = d.group(2) is not None
        stmt.kind = "class" if is_class else "def"
        stmt.name = d.group(2) or d.group(1)
        colon = self.header_colon(d.end(), end_pos)
        eol = m.find("\n", colon)
        if eol < 0 or eol >= end_pos:
            eol = end_pos
        rest = m[colon + 1 : eol]
        if rest.strip():  # "def f(): return 1": the body is on the header's line
            stmt.body_line = self.line(colon + 1 + len(rest) - len(rest.lstrip()))
            return
        first = _FIRST_TOKEN.search(m, eol, end_pos)
        if first is None:
            raise _GiveUp
        inner = first.group(1)
        if len(inner) <= len(indent) or not inner.startswith(indent):
            raise _GiveUp
        if is_class:
            members = self.block(first.start(), end_pos, inner)
            if not members:
                raise _GiveUp
            stmt.members = [s for s, _, _ in members]
            stmt.body_line = members[0][0].lineno
        elif m[first.end()] == "@":
            # The first statement is decorated: its line is the decorated one's.
            inner_stmts = self.block(first.start(), end_pos, inner)
            stmt.body_line = inner_stmts[0][0].lineno
        else:
            stmt.body_line = self.line(first.end())

    def header_colon(self, pos: int, hi: int) -> int:
        depth = 0
        for t in _HEADER_TOKENS.finditer(self.m, pos, hi):
            c = t.group()
            if c == ":":
                if depth == 0:
                    return t.start()
            elif c in _OPENERS:
                depth += 1
            else:
                depth -= 1
        raise _GiveUp

    # --- imports, through if/try as the chunker's ast walk did ---

    def imports(self, stmts: list[tuple[Stmt, int, int]], out: list[ImportStmt]) -> None:
        m = self.m
        for stmt, pos, end in stmts:
            if stmt.kind != "other":
                continue
            if _IF_TRY.match(m, pos):
                self.branches(pos, end, out)
            elif "import" in m[pos:end] and not _COMPOUND.match(m, pos):
                for part in self.simple_parts(pos, end):
                    self.import_stmt(part, out)

    def simple_parts(self, pos: int, end: int) -> list[str]:
        """The simple statements of one logical line (``a; b``), brackets kept whole."""
        text = self.m[pos:end]
        if ";" not in text:
            return [text]
        parts: list[str] = []
        depth = 0
        last = 0
        for i, c in enumerate(text):
            if c in _OPENERS:
                depth += 1
            elif c in _CLOSERS:
                depth -= 1
            elif c == ";" and depth == 0:
                parts.append(text[last:i])
                last = i + 1
        parts.append(text[last:])
        return parts

    def import_stmt(self, part: str, out: list[ImportStmt]) -> None:
        part = part.strip().replace("\x01", " ")
        if _IMPORT.match(part):
            for item in part[6:].split(","):
                name = "".join(_AS.split(item)[0].split())
                if name:
                    out.append(("import", 0, name, ()))
        elif _FROM.match(part):
            fm = _IMPORT_BODY.match(part)
            if fm is None:
                raise _GiveUp
            dots, module, names = fm.groups()
            level = dots.count(".")
            if dots.replace(".", "").strip():
                raise _GiveUp
            listed = names.replace("(", " ").replace(")", " ")
            found = tuple(n.split()[0] for n in listed.split(",") if n.strip())
            out.append(("from", level, "".join(module.split()), found))

    def branches(self, pos: int, end: int, out: list[ImportStmt]) -> None:
        """Imports in the clauses of an ``if`` or ``try`` (not ``finally``, as ast's walk)."""
        m = self.m
        is_try = m.startswith("try", pos)
        indent = m[m.rfind("\n", 0, pos) + 1 : pos]
        # The clause lines of this statement: at its indentation, outside brackets.
        clauses = self._clause_starts(pos, end, indent)
        if is_try and any(m.startswith("except", c) and m[c + 6 : c + 64].lstrip()[:1] == "*"
                          for c in clauses):  # fmt: skip
            return  # try/except*: ast's TryStar, which the chunker's walk did not enter
        for i, c in enumerate(clauses):
            stop = clauses[i + 1] if i + 1 < len(clauses) else end
            if m.startswith("finally", c):
                continue
            colon = self.header_colon(c, stop)
            eol = m.find("\n", colon)
            if eol < 0 or eol >= stop:
                eol = stop
            rest = m[colon + 1 : eol]
            if rest.strip():
                lo = colon + 1
                for part in self.simple_parts(lo, stop):
                    self.import_stmt(part, out)
                continue
            first = _FIRST_TOKEN.search(m, eol, stop)
            if first is None:
                raise _GiveUp
            inner = first.group(1)
            if len(inner) <= len(indent):
                raise _GiveUp
            sub = self.block(first.start(), stop, inner)
            self.imports(sub, out)

    def _clause_starts(self, pos: int, end: int, indent: str) -> list[int]:
        """Where each clause (if/elif/else, try/except/else/finally) of a statement starts."""
        m = self.m
        out = [pos]
        depth = 0
        prev = pos
        for match in _starts(indent).finditer(m, pos + 1, end):
            p = match.end()
            depth += _balance(m.count, prev, p)
            prev = p
            if depth == 0 and _CLAUSE.match(m, p):
                out.append(p)
        return out
