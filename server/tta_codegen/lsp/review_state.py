"""Review before keep: pending changes, running generations, and their code lenses.

In ``[review] mode = "lens"`` a finished generation leaves its code in the document as a
*pending change*: the server keeps the region's original text and follows the region
through every ``didChange`` (a :class:`PendingChange` is a :class:`DocumentTracker`
listener, like the streaming edit session), so Discard can put the original back byte
for byte however much the user typed above or below it. A change *inside* the region is
noticed by comparing the region with what the generation wrote, and Discard then asks
for ``force`` instead of silently destroying the user's edit.

Running generations are registered here too, from their first moment, so the editor
can show ``Generating… (model, tokens)`` and a ``Cancel`` lens before any token arrives,
and so ``tta.cancel {id}`` can stop one. Everything here is removed in ``finally``
blocks by its owner: a failed, cancelled or crashed request leaves nothing behind.

This module is the state (one :class:`ReviewRegistry` per server, ``server.review``); the
commands and lenses that expose it are ``lsp/features/review.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.workspace import TextDocument

from tta_codegen.background import path_clear
from tta_codegen.lsp.answers import PendingSummary, RangeAnswer
from tta_codegen.lsp.client import same_uri
from tta_codegen.lsp.documents import TextChange
from tta_codegen.lsp.edit_session import StreamingEditSession
from tta_codegen.lsp.positions import position_at
from tta_codegen.lsp.regions import follow, overlaps
from tta_codegen.request import GenerationRequest

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)

# Token counts change many times a second; a lens refresh for each would flood the client.
_PROGRESS_REFRESH_S = 0.5


def lens_mode(ls: TtaLanguageServer) -> bool:
    return ls.loaded.config.review.mode == "lens"


@dataclass
class PendingChange:
    """Generated code waiting in the document for Accept or Discard."""

    id: str
    uri: str
    start: int
    end: int
    original: str  # the region's text before the generation, restored by Discard
    generated: str  # what the generation left in the region
    command: str  # tta.generate | tta.refine | tta.generateTests
    model: str | None
    request: GenerationRequest  # rerun by Regenerate
    # The user typed inside the region while it streamed: the generated text holds their
    # edit, so the comparison below cannot see it.
    edited_while_streaming: bool = False
    # Tracked through didChange. False for a test file that was not open when written:
    # its region is checked against the file on disk instead, until it is opened.
    tracked: bool = True
    created_file: bool = False  # tta.generateTests created the file for this change
    busy: str | None = None  # "regenerating" | "discarding": no other action meanwhile
    disk_range: types.Range | None = None  # the range, for an untracked change
    prefix: str = ""  # written before the generated code (a test file's blank lines)
    # Called when the document closes: closing accepts (the text stays as the editor has it).
    on_closed: Any = None
    # The answer's status; a "gates_failed" change carries the failing gates' names.
    status: str = "completed"
    failing_gates: tuple[str, ...] = ()
    # What became of it is recorded at the decision (lsp/outcomes.py); None: not tracked.
    outcome: Any = None

    # -- DocumentTracker listener ---------------------------------------------------------

    def on_change(self, change: TextChange) -> None:
        # Inside (or across an edge): the region keeps the user's text, and Discard
        # will see that it no longer holds what was generated.
        self.start, self.end = follow(self.start, self.end, change)

    def on_close(self) -> None:
        if self.on_closed is not None:
            self.on_closed(self)

    # -- queries ----------------------------------------------------------------------------

    def current_text(self, doc: TextDocument) -> str:
        return doc.source[self.start : self.end]

    def edited_inside(self, doc: TextDocument) -> bool:
        return self.edited_while_streaming or self.current_text(doc) != self.generated

    def region(self, ls: TtaLanguageServer) -> types.Range:
        doc = ls.editor.open_document(self.uri)
        if doc is not None and self.tracked:
            return types.Range(position_at(doc, self.start), position_at(doc, self.end))
        assert self.disk_range is not None
        return self.disk_range

    def summary(self, ls: TtaLanguageServer) -> PendingSummary:
        return PendingSummary(
            id=self.id,
            uri=self.uri,
            range=RangeAnswer.of(self.region(ls)),
            command=self.command,
            model=self.model,
        )


@dataclass
class RunningGeneration:
    """A generation in flight: its live region (if it streams into one) and its task."""

    id: str
    uri: str
    task: asyncio.Task[Any]
    command: str
    model: str
    session: StreamingEditSession | None = None
    tokens: int = 0
    pending_id: str | None = None  # regenerating this pending change
    last_refresh: float = field(default=0.0)


class ReviewRegistry:
    """Pending changes and running generations of one server."""

    def __init__(self) -> None:
        self.pending: dict[str, PendingChange] = {}
        self.running: dict[str, RunningGeneration] = {}
        self._refresh_task: asyncio.Task[None] | None = None
        self._refresh_wanted = False

    # -- pending changes -----------------------------------------------------------------

    def add(self, ls: TtaLanguageServer, change: PendingChange) -> PendingChange:
        self.pending[change.id] = change
        change.on_closed = lambda c: self._closed(ls, c)
        if change.tracked:
            ls.tracker.add(change.uri, change)
        self.refresh(ls)
        return change

    def _closed(self, ls: TtaLanguageServer, change: PendingChange) -> None:
        """Closing the document accepts the change (the text stays as the editor has it)."""
        from tta_codegen.lsp.outcomes import decide

        self.forget(ls, change)
        decide(ls, change.outcome, "accepted")

    def forget(self, ls: TtaLanguageServer, change: PendingChange) -> None:
        self.pending.pop(change.id, None)
        ls.tracker.remove(change.uri, change)
        self.refresh(ls)

    def track(self, ls: TtaLanguageServer, change: PendingChange) -> None:
        if change.id in self.pending:
            ls.tracker.add(change.uri, change)
            change.tracked = True

    def untrack(self, ls: TtaLanguageServer, change: PendingChange) -> None:
        ls.tracker.remove(change.uri, change)

    def in_document(self, uri: str) -> list[PendingChange]:
        return [p for p in self.pending.values() if same_uri(p.uri, uri)]

    def overlap_message(
        self, uri: str, start: int, end: int, *, ignore: str | None = None
    ) -> str | None:
        for p in self.in_document(uri):
            if p.id == ignore or not p.tracked:
                continue
            if overlaps(start, end, p.start, p.end):
                return (
                    f"this part of the document holds a pending change from {p.command} "
                    f"(id {p.id}) waiting for review: Accept or Discard it first"
                )
        return None

    # -- running generations ---------------------------------------------------------------

    def start_running(
        self,
        ls: TtaLanguageServer,
        uri: str,
        task: asyncio.Task[Any],
        command: str,
        model: str,
        *,
        session: StreamingEditSession | None = None,
        pending_id: str | None = None,
    ) -> RunningGeneration:
        run = RunningGeneration(
            f"gen-{uuid.uuid4().hex[:12]}", uri, task, command, model, session, 0, pending_id
        )
        self.running[run.id] = run
        if session is not None:
            self.refresh(ls)
        return run

    def progress(
        self, ls: TtaLanguageServer, run: RunningGeneration, model: str, tokens: int
    ) -> None:
        changed_model = model != run.model
        run.model, run.tokens = model, tokens
        now = time.perf_counter()
        if run.session is not None and (
            changed_model or now - run.last_refresh > _PROGRESS_REFRESH_S
        ):
            run.last_refresh = now
            self.refresh(ls)

    def end_running(self, ls: TtaLanguageServer, run: RunningGeneration) -> None:
        if self.running.pop(run.id, None) is not None and run.session is not None:
            self.refresh(ls)

    # -- lenses ------------------------------------------------------------------------------

    def lenses(self, ls: TtaLanguageServer, uri: str) -> list[types.CodeLens]:
        doc = ls.editor.open_document(uri)
        if doc is None:
            return []
        out: list[types.CodeLens] = []
        for run in self.running.values():
            if run.session is None or not same_uri(run.uri, uri):
                continue
            at = _line_range(doc, run.session.start)
            label = f"Generating… ({run.model}, {run.tokens} tokens)"
            out.append(types.CodeLens(range=at, command=types.Command(title=label, command="")))
            out.append(_lens(at, "Cancel", "tta.cancel", run.id))
        for p in self.in_document(uri):
            if p.busy is not None or not p.tracked:
                continue
            at = _line_range(doc, p.start)
            if p.status == "gates_failed":
                label = "⚠ gates failed: " + (", ".join(p.failing_gates) or "see diagnostics")
                out.append(types.CodeLens(range=at, command=types.Command(title=label, command="")))
            out.append(_lens(at, "Accept", "tta.accept", p.id))
            out.append(_lens(at, "Discard", "tta.discard", p.id))
            out.append(_lens(at, "Diff", "tta.diff", p.id))
            out.append(_lens(at, "Regenerate", "tta.regenerate", p.id))
        return out

    def refresh(self, ls: TtaLanguageServer) -> None:
        """Ask the client to pull lenses again (coalesced; never blocks the caller)."""
        if not ls.editor.capabilities.code_lens_refresh:
            return
        self._refresh_wanted = True
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.ensure_future(self._refresh_loop(ls))

    async def _refresh_loop(self, ls: TtaLanguageServer) -> None:
        # After a starting generation's provider request: the client answers a refresh
        # with codeLens requests, which would compete with that request.
        await path_clear()
        while self._refresh_wanted:
            self._refresh_wanted = False
            try:
                await asyncio.wait_for(ls.workspace_code_lens_refresh_async(None), 10)
            except Exception as exc:  # a client that refuses refresh still pulls lenses
                log.debug("workspace/codeLens/refresh failed: %s", exc)


def _lens(at: types.Range, title: str, command: str, ident: str) -> types.CodeLens:
    return types.CodeLens(
        range=at, command=types.Command(title=title, command=command, arguments=[{"id": ident}])
    )


def _line_range(doc: TextDocument, offset: int) -> types.Range:
    line = position_at(doc, offset).line
    return types.Range(
        types.Position(line=line, character=0), types.Position(line=line, character=0)
    )


def new_id() -> str:
    return f"chg-{uuid.uuid4().hex[:12]}"


async def replace_untracked(
    ls: TtaLanguageServer, change: PendingChange, text: str, current: str
) -> tuple[bool, str | None]:
    """Replace an untracked change's region (in a file not open in the editor) with ``text``.

    The caller has checked that ``current[start:end]`` is still what was generated. A
    file the change created, discarded to nothing, is deleted when the client can.
    """
    editor = ls.editor
    whole = change.start == 0 and change.end == len(current)
    if change.created_file and whole and not text and editor.capabilities.delete_files:
        deleted = await editor.delete_file(change.uri, label="tta-codegen: discard")
        if deleted.applied:
            return True, None
        # The client refused the delete: fall back to emptying the file.
    doc = editor.detached(change.uri, current)
    edit = types.TextEdit(
        range=types.Range(position_at(doc, change.start), position_at(doc, change.end)),
        new_text=text,
    )
    result = await editor.apply_edit(change.uri, edit)
    if result.applied:
        after = editor.detached(change.uri, current[: change.start] + text + current[change.end :])
        change.end = change.start + len(text)
        change.disk_range = types.Range(
            position_at(after, change.start), position_at(after, change.end)
        )
    return result.applied, result.failure_reason
