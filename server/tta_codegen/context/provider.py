"""The context stage as the engine sees it: ``gather(request, config) -> ContextResult``.

Owns the workspace index's life: opened and scanned in the background (never awaited
by a request), kept current by document and file-watcher events, each applied in a
worker thread and serialised so a scan and an edit never interleave. ``gather`` only
reads: it uses whatever is indexed at that moment, so a request made while the first
scan runs still gets rules, the cursor window and the examples found so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tta_codegen.background import EVENT_SETTLE_S, after_path
from tta_codegen.context.budget import Budget, pack
from tta_codegen.context.index import IndexSettings, ScanResult, WorkspaceIndex
from tta_codegen.context.repomap import ReferenceGraph, rank_files, render_map
from tta_codegen.context.retrieve import Example, Query, retrieve
from tta_codegen.context.rules import RulesReader
from tta_codegen.context.settings import ContextConfig
from tta_codegen.context.store import IndexStore, index_path_for
from tta_codegen.context.types import ContextResult
from tta_codegen.request import language_for

if TYPE_CHECKING:
    from tta_codegen.config import Config
    from tta_codegen.request import GenerationRequest

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.4  # a burst of keystrokes becomes one re-index
QUERY_BEFORE_CHARS = 1_500
QUERY_AFTER_CHARS = 500

Progress = Callable[[int, int], None]


def index_settings(cfg: ContextConfig) -> IndexSettings:
    return IndexSettings(
        ignore=tuple(cfg.ignore),
        max_file_bytes=cfg.max_file_bytes,
        max_files=cfg.max_files,
        workers=cfg.index_workers,
    )


@dataclass
class IndexStatus:
    enabled: bool
    ready: bool
    files: int
    path: str | None
    last_scan: ScanResult | None


class WorkspaceContext:
    def __init__(
        self, roots: list[Path], config: ContextConfig, *, cache_dir: Path | None = None
    ) -> None:
        self.roots = [r.resolve() for r in roots]
        self.cache_dir = cache_dir
        self.settings = index_settings(config)
        self.enabled = config.index and bool(self.roots)
        self.index: WorkspaceIndex | None = None
        self.graph: ReferenceGraph | None = None
        self.rules = RulesReader()
        self.open_paths: set[str] = set()
        self.recent: dict[str, float] = {}
        self.last_scan: ScanResult | None = None
        self._lock = asyncio.Lock()  # serialises every write to the index
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._closed = False

    # --- life --------------------------------------------------------------------------

    async def start(self, progress: Progress | None = None) -> ScanResult | None:
        """Open the on-disk index and bring it up to date. Safe to run in the background."""
        if not self.enabled:
            return None
        async with self._lock:
            if self.index is None:
                path = index_path_for(self.roots, self.cache_dir)
                store = await asyncio.to_thread(IndexStore, path)
                self.index = await asyncio.to_thread(
                    WorkspaceIndex, self.roots, store, self.settings
                )
                self.graph = ReferenceGraph(self.index)
            index = self.index
            result = await asyncio.to_thread(index.scan, progress)
            self.last_scan = result
        log.info(
            "context index: %d files (%d parsed, %d touched, %d removed, %d unchanged) "
            "in %.2f s",
            result.files, result.parsed, result.touched, result.removed, result.unchanged,
            result.seconds,
        )  # fmt: skip
        return result

    async def close(self) -> None:
        self._closed = True
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        async with self._lock:
            if self.index is not None:
                await asyncio.to_thread(self.index.store.close)
                self.index = None

    def status(self) -> IndexStatus:
        index = self.index
        return IndexStatus(
            enabled=self.enabled,
            ready=bool(index and index.ready),
            files=len(index.files) if index else 0,
            path=str(index.store.path) if index else None,
            last_scan=self.last_scan,
        )

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        # Off a generation's path (background.after_path): the events come right before
        # the command they lead to. Started in order, then serialised by the lock.
        task = asyncio.ensure_future(after_path(coro, settle=EVENT_SETTLE_S))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("context index update failed", exc_info=task.exception())

    # --- events (sync entry points for LSP hooks; work is scheduled) -------------------

    def document_opened(self, path: Path, text: str) -> None:
        self.open_paths.add(str(path))
        self._spawn(self._update_text(path, text))

    def document_changed(self, path: Path, text_of: Callable[[], str | None]) -> None:
        """Debounced: the text is read when the timer fires, so only the last one counts."""
        key = str(path)
        self.recent[key] = time.monotonic()
        old = self._pending.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._pending.pop(key, None)
            text = text_of()
            if text is not None and not self._closed:
                self._spawn(self._update_text(path, text))

        self._pending[key] = loop.call_later(DEBOUNCE_S, fire)

    def document_saved(self, path: Path) -> None:
        self.recent[str(path)] = time.monotonic()
        self._spawn(self._update_file(path))

    def document_closed(self, path: Path) -> None:
        key = str(path)
        self.open_paths.discard(key)
        pending = self._pending.pop(key, None)
        if pending is not None:
            pending.cancel()
        # The buffer may have been discarded unsaved: the disk is the truth again.
        self._spawn(self._update_file(path))

    def files_changed(self, created_or_changed: list[Path], deleted: list[Path]) -> None:
        everything = created_or_changed + deleted
        if any(p.name in (".gitignore", ".tta-codegenignore") for p in everything):
            self._spawn(self._rescan())
            return
        for p in created_or_changed:
            self.recent[str(p)] = time.monotonic()
        self._spawn(self._apply_files(created_or_changed, deleted))

    async def _update_text(self, path: Path, text: str) -> None:
        async with self._lock:
            if self.index is not None:
                await asyncio.to_thread(self.index.update_text, path, text)

    async def _update_file(self, path: Path) -> None:
        async with self._lock:
            if self.index is not None:
                await asyncio.to_thread(self.index.update_file, path)

    async def _apply_files(self, changed: list[Path], deleted: list[Path]) -> None:
        async with self._lock:
            index = self.index
            if index is None:
                return

            def apply() -> None:
                index.remove(str(p) for p in deleted)
                for p in changed:
                    if p.is_dir():
                        continue
                    index.update_file(p)

            await asyncio.to_thread(apply)

    async def _rescan(self) -> None:
        if self.index is not None:
            self.index.forget_ignore_files()
        await self.start()

    async def reconfigure(self, config: ContextConfig) -> None:
        """Index settings changed (ignore patterns, limits): new rules, then a rescan.

        The index and its database stay open: a gather running in a thread keeps reading
        them while the rescan drops what is now ignored and adds what is now included.
        """
        settings = index_settings(config)
        enabled = config.index and bool(self.roots)
        if settings == self.settings and enabled == self.enabled:
            return
        self.settings = settings
        self.enabled = enabled
        async with self._lock:
            if self.index is not None:
                self.index.reconfigure(settings)
        if enabled:
            await self.start()

    # --- the engine's call -------------------------------------------------------------

    async def gather(self, request: GenerationRequest, config: Config) -> ContextResult:
        return await asyncio.to_thread(self.gather_work(request, config))

    def gather_work(
        self, request: GenerationRequest, config: Config
    ) -> Callable[[], ContextResult]:
        cfg = config.context
        if index_settings(cfg) != self.settings or (cfg.index and bool(self.roots)) != self.enabled:
            self._spawn(self.reconfigure(cfg))
        cap = context_cap(request, config)
        return lambda: self._gather(request, cfg, cap)

    def _gather(
        self, request: GenerationRequest, cfg: ContextConfig, cap: int | None = None
    ) -> ContextResult:
        started = time.perf_counter()
        limit = cfg.max_tokens if cap is None else max(0, min(cfg.max_tokens, cap))
        budget = Budget(limit, cfg.chars_per_token)
        rules = self.rules.read(self.roots, cfg.rules)
        current = str(Path(request.path).resolve()) if request.path else None
        index = self.index if self.enabled else None
        examples: list[Example] = []
        languages: dict[str, str] = {}
        rel = request.path
        if current and index is not None:
            rel = index.rel(current)
        if index is not None and cfg.examples > 0:
            text = request.text
            lo = max(0, request.start - QUERY_BEFORE_CHARS)
            code = text[lo : request.end + QUERY_AFTER_CHARS]
            # Lines of the current file the prompt already carries (an estimate before
            # packing; the window is at least this wide).
            first = text.count("\n", 0, max(0, request.start - 2_000)) + 1
            last = text.count("\n", 0, min(len(text), request.end + 1_000)) + 1
            query = Query(
                description=request.description,
                code=code,
                current_path=current,
                exclude_lines=(first, last),
                open_paths=frozenset(self.open_paths),
                recent=dict(self.recent),
                skip_paths=frozenset(r.path for r in rules),
            )
            examples = retrieve(index, query, cfg.examples)
            for ex in examples:
                rec = index.files.get(ex.hit.path)
                languages[ex.hit.path] = rec.language if rec else language_for(ex.hit.path)
        repo_map = None
        graph = self.graph
        if index is not None and graph is not None and cfg.repo_map:
            seeds: dict[str, float] = {}
            if current and current in index.files:
                seeds[current] = 1.0
            for i, ex in enumerate(examples):
                seeds[ex.hit.path] = seeds.get(ex.hit.path, 0.0) + 0.6 / (i + 1)
            for p in self.open_paths:
                if p in index.files:
                    seeds[p] = seeds.get(p, 0.0) + 0.2
            exclude = {r.path for r in rules} | ({current} if current else set())

            def repo_map(max_chars: int) -> tuple[str, list[str]]:
                if not seeds:
                    return "", []
                ranked = rank_files(graph, seeds)
                return render_map(index, ranked, max_chars, exclude)

        result = pack(
            budget=budget,
            rules=rules,
            text=request.text,
            start=request.start,
            end=request.end,
            current_rel=rel,
            examples=examples,
            languages=languages,
            repo_map=repo_map,
        )
        log.debug(
            "context gathered in %.1f ms: %d parts, %d/%d tokens",
            (time.perf_counter() - started) * 1000, len(result.parts), result.used_tokens,
            result.max_tokens,
        )  # fmt: skip
        return result


def context_cap(request: GenerationRequest, config: Config) -> int | None:
    """Room the model can give context: its window, less the reply and the prompt's frame.

    The model is chosen later, so take the one the request names, else the default, else
    the smallest window configured; a model with no declared window imposes no cap.
    """
    model = config.model(request.model) if request.model else None
    if model is None and config.routing.default:
        model = config.model(config.routing.default)
    windows = [m.context_window for m in ([model] if model else config.models) if m.context_window]
    if not windows:
        return None
    reply = config.generation.max_tokens
    frame = 800  # system prompt, task text and instructions
    return min(windows) - reply - frame
