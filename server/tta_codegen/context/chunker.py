"""Turns one file into searchable chunks and the facts the repo map needs.

Python is parsed with the stdlib ``ast``: each function and method becomes a chunk
(decorators, signature, docstring, body, line range), a class keeps its header,
docstring and attributes, and the module's top-level statements (docstring, imports,
constants) form their own chunks. Other text is cut into blocks at blank lines and
headings. Alongside the chunks come the file's imports, the names it defines and the
names it mentions (the edges of the reference graph) and an outline of signatures.

Everything here is a pure function of (path, text), so it runs in worker processes
for a full index, and in a thread for one file.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from pathlib import PurePosixPath

from tta_codegen.context.pyscan import (
    ImportStmt,
    Outline,
    Stmt,
    outline_from_ast,
    scan_outline,
)
from tta_codegen.context.tokens import _IDENT, STOPWORDS, learn_identifiers, token_counts
from tta_codegen.redact import redact
from tta_codegen.request import LANGUAGE_BY_SUFFIX

MAX_CHUNK_LINES = 80  # longer chunks are shown truncated (their terms are all indexed)
MAX_CHUNK_CHARS = 4000
MAX_TERMS = 1500  # distinct terms per chunk
BLOCK_LINES = 40
MAX_REFS = 600
BINARY_SNIFF = 8192


@dataclass
class Chunk:
    start: int  # first line, 1-based
    end: int  # last line, inclusive
    kind: str  # "function" | "method" | "class" | "module" | "block"
    name: str
    text: str
    terms: str  # space-separated tokens (identifier parts) for the full-text index


@dataclass
class FileRecord:
    path: str  # absolute
    rel: str  # relative to its workspace root, "/"-separated
    mtime: float
    size: int
    digest: str
    language: str
    chunks: list[Chunk] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # dotted names, relative ones resolved
    defines: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    outline: list[tuple[int, str]] = field(default_factory=list)  # (line, signature)


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def decode_source(data: bytes) -> str | None:
    """The text of a file, or None for binary content."""
    if b"\0" in data[:BINARY_SNIFF]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_file(path: str, rel: str, max_bytes: int) -> FileRecord | None:
    """Read and chunk one file from disk; None when it is too big, binary or gone."""
    try:
        st = os.stat(path)
        if st.st_size > max_bytes:
            return None
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes:
        return None
    text = decode_source(data)
    if text is None:
        return None
    return chunk_file(path, rel, text, mtime=st.st_mtime, size=st.st_size, digest=digest_of(data))


def read_file_args(args: tuple[str, str, int]) -> FileRecord | None:
    """:func:`read_file` taking one tuple, for ``Executor.map``."""
    return read_file(*args)


def chunk_file(
    path: str, rel: str, text: str, *, mtime: float = 0.0, size: int = -1, digest: str = ""
) -> FileRecord:
    language = LANGUAGE_BY_SUFFIX.get(PurePosixPath(rel).suffix.lower(), "")
    record = FileRecord(
        path=path,
        rel=rel,
        mtime=mtime,
        size=len(text) if size < 0 else size,
        digest=digest or digest_of(text.encode("utf-8", "replace")),
        language=language,
    )
    # Secrets are removed before anything is derived from the text: neither chunks, terms
    # nor the on-disk index ever hold them.
    text = redact(text)
    # Every identifier of the file, split once up front: the chunks' token counts then
    # find them all cached, and the references come from the same set.
    names = set(_IDENT.findall(text))
    learn_identifiers(names)
    lines = text.splitlines()
    if language == "python":
        outline = outline_of(text)
        if outline is not None:
            _PythonChunker(record, lines, _module_name(rel)).run(outline)
            _finish(record, names)
            return record
    _chunk_blocks(record, lines)
    _finish(record, names)
    return record


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection for the duration.

    ``ast.parse`` makes an object per node, hundreds of thousands for a big module, and
    every 700 new objects the collector walks the young ones again: about a fifth of the
    index build. AST nodes form no cycles (they are freed by reference counting), and the
    collector runs as usual once enabled again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _module_name(rel: str) -> str:
    p = PurePosixPath(rel)
    parts = list(p.with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _not_refs() -> frozenset[str]:
    """Identifiers that are never references: two characters or fewer, and stopwords in
    any letter case (``None``, ``SELF``), so :func:`_finish` filters with set operations."""
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
    short = {*chars, *(a + b for a in chars for b in chars + "0123456789")}
    cased = {
        "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(word))
        for word in STOPWORDS
        for mask in range(1 << len(word))
    }
    return frozenset(short | cased)


_NOT_REFS = _not_refs()


def _finish(record: FileRecord, names: set[str]) -> None:
    names -= _NOT_REFS
    names.difference_update(record.defines)
    refs = sorted(names)
    record.refs = refs[:MAX_REFS]


def _make_chunk(
    lines: list[str], start: int, end: int, kind: str, name: str, extra_terms: str = ""
) -> Chunk:
    body = lines[start - 1 : end]
    full = "\n".join(body)
    text = full
    if len(body) > MAX_CHUNK_LINES:
        shown = [*body[:MAX_CHUNK_LINES], f"... ({len(body) - MAX_CHUNK_LINES} more lines)"]
        text = "\n".join(shown)
    if len(text) > MAX_CHUNK_CHARS:
        text = text[:MAX_CHUNK_CHARS] + "\n... (truncated)"
    # Term frequency saturates in BM25: three occurrences say as much as thirty, and
    # capping keeps the index (and its build time) small.
    counts = token_counts(extra_terms + "\n" + full)
    # The most frequent first, ties in order of appearance: Counter.most_common's order.
    ranked = sorted(counts.items(), key=itemgetter(1), reverse=True)[:MAX_TERMS]
    # Each term min(n, 3) times, built in C (itertools): a chunk has hundreds of terms.
    reps = map(min, map(itemgetter(1), ranked), repeat(3))
    terms = " ".join(chain.from_iterable(map(repeat, map(itemgetter(0), ranked), reps)))
    return Chunk(start, end, kind, name, text, terms)


def _signature(lines: list[str], node: Stmt) -> str:
    """The header as written (``def f(a: int) -> str``), whitespace collapsed."""
    first = node.lineno
    last = node.body_line - 1 if node.body_line else first
    if last < first:
        last = first
    header = " ".join(line.strip() for line in lines[first - 1 : last] if line.strip())
    if node.body_line == node.lineno:
        header = lines[first - 1].strip()
    # Cut at the colon that ends the header (after the last closing parenthesis).
    close = header.rfind(")")
    colon = header.find(":", close if close >= 0 else 0)
    if colon >= 0:
        header = header[:colon]
    header = re.sub(r"\s+", " ", header).replace("( ", "(").replace(" )", ")").replace(",)", ")")
    return header[:240]


def outline_of(text: str) -> Outline | None:
    """The module's statements and imports: scanned, or parsed when the scan gives up."""
    outline = scan_outline(text)
    if outline is not None:
        return outline
    with _gc_paused():  # until the tree is freed (by reference counting)
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        return outline_from_ast(tree)


class _PythonChunker:
    def __init__(self, record: FileRecord, lines: list[str], module: str) -> None:
        self.record = record
        self.lines = lines
        self.module = module
        self.package = module if record.rel.endswith("__init__.py") else module.rpartition(".")[0]

    def run(self, outline: Outline) -> None:
        self._imports(outline.imports)
        self._body(outline.body, prefix="", indent="")

    def _imports(self, imports: list[ImportStmt]) -> None:
        for kind, level, module, names in imports:
            if kind == "import":
                self.record.imports.append(module)
                continue
            base = module
            if level:
                pkg = self.package.split(".") if self.package else []
                up = level - 1
                if up > len(pkg):
                    continue
                pkg = pkg[: len(pkg) - up] if up else pkg
                base = ".".join([*pkg, base] if base else pkg)
            if not base:
                continue
            self.record.imports.append(base)
            # "from pkg import mod" may name a submodule: keep both candidates.
            self.record.imports.extend(f"{base}.{name}" for name in names if name != "*")

    def _body(self, body: list[Stmt], prefix: str, indent: str) -> None:
        run_start: int | None = None
        run_end = 0

        def flush() -> None:
            nonlocal run_start
            if run_start is not None:
                self._run(run_start, run_end, prefix)
            run_start = None

        for node in body:
            start = node.first
            end = node.end
            if node.kind == "def":
                flush()
                self._function(node, start, end, prefix, indent)
            elif node.kind == "class":
                flush()
                self._class(node, start, end, prefix, indent)
            else:
                if run_start is not None and start - run_end > 2 and run_end - run_start >= 8:
                    flush()  # a long gap: start a new block rather than one huge chunk
                if run_start is not None and end - run_start >= BLOCK_LINES:
                    flush()
                if run_start is None:
                    run_start = start
                run_end = end
        flush()

    def _run(self, start: int, end: int, prefix: str) -> None:
        kind = "class" if prefix else "module"
        name = prefix.rstrip(".") or self.module
        self.record.chunks.append(_make_chunk(self.lines, start, end, kind, name, name))

    def _function(self, node: Stmt, start: int, end: int, prefix: str, indent: str) -> None:
        sig = _signature(self.lines, node)
        qual = prefix + node.name
        self.record.defines.append(node.name)
        self.record.outline.append((node.lineno, indent + sig))
        kind = "method" if prefix else "function"
        self.record.chunks.append(_make_chunk(self.lines, start, end, kind, qual, prefix))

    def _class(self, node: Stmt, start: int, end: int, prefix: str, indent: str) -> None:
        qual = prefix + node.name
        self.record.defines.append(node.name)
        self.record.outline.append((node.lineno, indent + _signature(self.lines, node)))
        members = node.members
        first_def = next(
            (i for i, m in enumerate(members) if m.kind != "other"),
            len(members),
        )
        # The header chunk: decorators, "class X(Base):", docstring, attributes.
        header_end = (members[first_def].first - 1) if first_def < len(members) else end
        header_end = max(header_end, node.lineno)
        self.record.chunks.append(_make_chunk(self.lines, start, header_end, "class", qual, qual))
        self._body(members[first_def:], prefix=qual + ".", indent=indent + "    ")


_HEADING = re.compile(r"^(#{1,6} |\S.*\n[=-]{3,}$)")
_DEFINITION = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\(crate\))?\s+)?(?:async\s+)?(?:static\s+)?"
    r"(?:function\*?|class|interface|type|enum|struct|trait|impl|fn|func|def|module|"
    r"record|object|protocol)\s+([A-Za-z_][A-Za-z0-9_]*)"
)


def _chunk_blocks(record: FileRecord, lines: list[str]) -> None:
    """Blocks of up to ~40 lines, cut at blank lines or headings; plus an outline."""
    start = 0
    is_markdown = record.language == "markdown"
    for i, line in enumerate(lines):
        if len(record.outline) < 200:
            m = _DEFINITION.match(line)
            if m:
                record.outline.append((i + 1, line.strip()[:200]))
                record.defines.append(m.group(1))
            elif is_markdown and line.startswith("#"):
                record.outline.append((i + 1, line.strip()[:200]))
        size = i - start
        cut = (
            (not line.strip() and size >= 12)
            or size >= BLOCK_LINES
            or (is_markdown and line.startswith("#") and size > 0)
        )
        if cut:
            _add_block(record, lines, start, i)
            start = i
    _add_block(record, lines, start, len(lines))


def _add_block(record: FileRecord, lines: list[str], lo: int, hi: int) -> None:
    while lo < hi and not lines[lo].strip():
        lo += 1
    while hi > lo and not lines[hi - 1].strip():
        hi -= 1
    if lo >= hi:
        return
    name = lines[lo].strip()[:80]
    record.chunks.append(_make_chunk(lines, lo + 1, hi, "block", name, record.rel))
