"""The workspace index: what each file defines, imports and mentions, plus BM25 search.

File facts (imports, definitions, references, outline) live in memory for the repo map
and the retrieval boosts; chunk text and the full-text index live in SQLite
(:mod:`store`). A scan compares every file's mtime and size with what the store knows,
re-hashes the ones that differ and re-parses only those whose content really changed,
so a restart on an unchanged workspace reads no file twice. A full index parses files
in worker processes (parsing holds the GIL; two cores halve the time).

All methods block; the async side (:mod:`provider`) calls them through
``asyncio.to_thread`` so the language server keeps answering.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tta_codegen.context.chunker import (
    FileRecord,
    chunk_file,
    decode_source,
    digest_of,
    read_file,
    read_file_args,
)
from tta_codegen.context.ignore import IgnoreRules
from tta_codegen.context.store import Hit, IndexStore

log = logging.getLogger(__name__)

BATCH = 200  # files per SQLite transaction during a scan
POOL_THRESHOLD = 64  # fewer changed files than this are parsed in-process
# A name defined in more files than this says nothing about which one a reference means.
MAX_DEFINERS = 8


@dataclass(frozen=True)
class IndexSettings:
    ignore: tuple[str, ...] = ()
    max_file_bytes: int = 1_000_000
    max_files: int = 50_000
    workers: int = 2


@dataclass
class ScanResult:
    files: int = 0  # files seen (not ignored)
    parsed: int = 0
    touched: int = 0  # same content, new mtime
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0


@dataclass
class _Progress:
    callback: Callable[[int, int], None] | None
    total: int = 0
    done: int = 0
    last: float = field(default=0.0)

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.callback is not None and (now - self.last > 0.2 or self.done >= self.total):
            self.last = now
            self.callback(self.done, self.total)


def _intern(names: Iterable[str]) -> list[str]:
    return [sys.intern(n) for n in names]


class WorkspaceIndex:
    def __init__(self, roots: list[Path], store: IndexStore, settings: IndexSettings) -> None:
        self.roots = [r.resolve() for r in roots]
        self.store = store
        self.settings = settings
        self.rules = {r: IgnoreRules(r, list(settings.ignore)) for r in self.roots}
        self.files: dict[str, FileRecord] = {}
        self.modules: dict[str, list[str]] = {}  # dotted name (and its suffixes) → paths
        self.definers: dict[str, set[str]] = {}  # defined name → paths
        self.lock = threading.RLock()
        self.ready = False
        self.generation = 0  # bumped on every change, so caches know when to drop
        for rec in store.load_files():
            self._remember(rec)

    # --- paths -----------------------------------------------------------------------

    def root_of(self, path: Path) -> Path | None:
        for root in self.roots:
            if path == root or root in path.parents:
                return root
        return None

    def rel(self, path: str) -> str:
        rec = self.files.get(path)
        if rec is not None:
            return rec.rel
        p = Path(path)
        root = self.root_of(p)
        return p.relative_to(root).as_posix() if root else path

    def accepts(self, path: Path) -> bool:
        """May this file be indexed (inside a root, not ignored, not a secret)?"""
        root = self.root_of(path)
        return root is not None and not self.rules[root].is_ignored(path)

    # --- memory ----------------------------------------------------------------------

    def _remember(self, rec: FileRecord) -> None:
        with self.lock:
            self._forget(rec.path)
            rec.chunks = []  # chunk text lives in the store
            rec.imports = _intern(rec.imports)
            rec.defines = _intern(rec.defines)
            rec.refs = _intern(rec.refs)
            self.files[rec.path] = rec
            for name in _module_names(rec.rel):
                self.modules.setdefault(name, []).append(rec.path)
            for name in rec.defines:
                self.definers.setdefault(name, set()).add(rec.path)
            self.generation += 1

    def _forget(self, path: str) -> None:
        with self.lock:
            old = self.files.pop(path, None)
            if old is None:
                return
            for name in _module_names(old.rel):
                paths = self.modules.get(name)
                if paths and path in paths:
                    paths.remove(path)
                    if not paths:
                        del self.modules[name]
            for name in old.defines:
                owners = self.definers.get(name)
                if owners is not None:
                    owners.discard(path)
                    if not owners:
                        del self.definers[name]
            self.generation += 1

    # --- scanning --------------------------------------------------------------------

    def walk(self) -> Iterator[Path]:
        budget = self.settings.max_files
        for root in self.roots:
            for path in self.rules[root].walk(budget):
                budget -= 1
                yield path
            if budget <= 0:
                log.warning("context index: stopped at max_files=%d", self.settings.max_files)
                return

    def scan(self, progress: Callable[[int, int], None] | None = None) -> ScanResult:
        """Bring the index in line with the disk; parse only what changed."""
        started = time.perf_counter()
        result = ScanResult()
        seen: set[str] = set()
        to_parse: list[tuple[str, str, int]] = []
        to_check: list[tuple[str, str, os.stat_result]] = []
        sizes: dict[str, int] = {}
        for path in self.walk():
            key = str(path)
            try:
                st = path.stat()
            except OSError:
                continue
            if st.st_size <= self.settings.max_file_bytes:
                seen.add(key)
                sizes[key] = st.st_size
            old = self.files.get(key)
            if st.st_size > self.settings.max_file_bytes:
                continue  # too big (now): never seen, so dropped below if it was indexed
            if old is not None and old.mtime == st.st_mtime and old.size == st.st_size:
                result.unchanged += 1
                continue
            root = self.root_of(path)
            assert root is not None
            rel = path.relative_to(root).as_posix()
            if old is not None:
                to_check.append((key, rel, st))
            else:
                to_parse.append((key, rel, self.settings.max_file_bytes))
        result.files = len(seen)  # candidates within the size limit
        gone = [p for p in self.files if p not in seen]
        if gone:
            self.remove(gone)
            result.removed = len(gone)
        # Changed mtime: re-hash first; a touched file keeps its chunks.
        for key, rel, st in to_check:
            old = self.files.get(key)
            try:
                data = Path(key).read_bytes()
            except OSError:
                continue
            if old is not None and digest_of(data) == old.digest:
                self.store.touch(key, st.st_mtime)
                old.mtime, old.size = st.st_mtime, st.st_size
                result.touched += 1
            else:
                to_parse.append((key, rel, self.settings.max_file_bytes))
        # Biggest first: the two workers then end together instead of one finishing the
        # last big module alone (the stdlib's largest file takes ~100x its median).
        to_parse.sort(key=lambda job: -sizes.get(job[0], 0))
        tracker = _Progress(progress, total=len(to_parse))
        if progress is not None:
            progress(0, len(to_parse))
        batch: list[FileRecord] = []
        dropped: list[str] = []
        for (key, _, _), rec in zip(to_parse, self._parse_all(to_parse), strict=True):
            tracker.step()
            if rec is None:  # now binary, too big or unreadable
                dropped.append(key)
                continue
            batch.append(rec)
            if len(batch) >= BATCH:
                self._commit(batch)
                result.parsed += len(batch)
                batch = []
        if batch:
            self._commit(batch)
            result.parsed += len(batch)
        result.removed += self.remove(dropped)
        self.ready = True
        result.seconds = time.perf_counter() - started
        return result

    def _parse_all(self, jobs: list[tuple[str, str, int]]) -> Iterator[FileRecord | None]:
        workers = self.settings.workers
        if workers <= 0 or len(jobs) < POOL_THRESHOLD:
            for job in jobs:
                yield read_file_args(job)
            return
        # "spawn": forking a process that runs an event loop and threads is unsafe.
        ctx = multiprocessing.get_context("spawn")
        # No cyclic GC in the workers: chunking makes no cycles, and the collector would
        # walk every AST node and record again and again (see chunker._gc_paused).
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=gc.disable
        ) as pool:
            yield from pool.map(read_file_args, jobs, chunksize=8)

    def _commit(self, records: list[FileRecord]) -> None:
        self.store.put(records)
        for rec in records:
            self._remember(rec)

    # --- incremental -----------------------------------------------------------------

    def update_file(self, path: Path) -> bool:
        """Re-read one file from disk (saved, created, changed on disk). True if changed."""
        key = str(path)
        if not self.accepts(path):
            return self.remove([key]) > 0
        root = self.root_of(path)
        assert root is not None
        try:
            st = path.stat()
        except OSError:
            return self.remove([key]) > 0
        old = self.files.get(key)
        if old is not None and old.mtime == st.st_mtime and old.size == st.st_size:
            return False
        rec = read_file(key, path.relative_to(root).as_posix(), self.settings.max_file_bytes)
        if rec is None:
            return self.remove([key]) > 0
        if old is not None and old.digest == rec.digest:
            self.store.touch(key, rec.mtime)
            old.mtime, old.size = rec.mtime, rec.size
            return False
        self._commit([rec])
        return True

    def update_text(self, path: Path, text: str) -> bool:
        """Index an editor buffer (maybe unsaved). True if the content changed."""
        if not self.accepts(path):
            return False
        if len(text) > self.settings.max_file_bytes:
            return False  # never fewer bytes than characters: too big without encoding it
        data = text.encode("utf-8", "replace")
        if len(data) > self.settings.max_file_bytes or decode_source(data[:8192]) is None:
            return False
        digest = digest_of(data)
        key = str(path)
        old = self.files.get(key)
        if old is not None and old.digest == digest:
            return False
        root = self.root_of(path)
        assert root is not None
        # mtime -1: the disk may hold other content, so the next scan re-checks the file.
        rec = chunk_file(
            key, path.relative_to(root).as_posix(), text, mtime=-1.0, size=-1, digest=digest
        )
        rec.size = -1
        self._commit([rec])
        return True

    def remove(self, paths: Iterable[str]) -> int:
        known = [p for p in paths if p in self.files]
        if known:
            self.store.remove(known)
            for p in known:
                self._forget(p)
        return len(known)

    def reconfigure(self, settings: IndexSettings) -> None:
        """New ignore patterns or limits; the next :meth:`scan` applies them."""
        with self.lock:
            self.settings = settings
            self.rules = {r: IgnoreRules(r, list(settings.ignore)) for r in self.roots}

    def forget_ignore_files(self) -> None:
        for rules in self.rules.values():
            rules.forget()

    # --- queries ---------------------------------------------------------------------

    def search(self, terms: list[str], limit: int) -> list[Hit]:
        return self.store.search(terms, limit)

    def resolve_imports(self, path: str) -> list[str]:
        """The workspace files the file at ``path`` imports."""
        rec = self.files.get(path)
        if rec is None:
            return []
        out: dict[str, None] = {}
        with self.lock:
            for name in rec.imports:
                candidates = self.modules.get(name)
                if candidates and len(candidates) <= 3:
                    for c in candidates:
                        if c != path:
                            out[c] = None
        return list(out)

    def stats(self) -> dict[str, int | bool]:
        return {"files": len(self.files), "ready": self.ready}


def _module_names(rel: str) -> list[str]:
    """``src/pkg/mod.py`` → ``["src.pkg.mod", "pkg.mod", "mod"]`` (src layouts, tests)."""
    if not rel.endswith((".py", ".pyi")):
        return []
    parts = rel.rsplit(".", 1)[0].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return [".".join(parts[i:]) for i in range(len(parts))] if parts else []
