"""Outcomes in the editor: drafts for running generations, decisions, retention watches.

A generation gets an :class:`~tta_codegen.outcomes.events.OutcomeDraft` when it starts;
its row is written when the user decides (Accept, Discard, Regenerate) or when it is
cancelled or fails; in ``review.mode = "auto"`` a completed generation counts as
accepted at once. An accepted region is then watched (a
:class:`~tta_codegen.lsp.documents.DocumentTracker` listener following edits like a
pending change does) and its retention recorded at the first save and when the region
was left alone for ``outcomes.retention_idle_s`` (or its document closed).

All of it happens at decision points, never per token; rows are written in background
threads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from tta_codegen.lsp.documents import TextChange
from tta_codegen.lsp.review import follow, open_document, same_uri
from tta_codegen.outcomes.events import Decision, OutcomeDraft, OutcomeRecorder
from tta_codegen.outcomes.retention import retained_ratio
from tta_codegen.request import GenerationRequest

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)


def recorder(ls: TtaLanguageServer) -> OutcomeRecorder:
    """The server's recorder, writing to the current engine's ledger."""
    rec = getattr(ls, "outcome_recorder", None)
    ledger = ls.engine.router.ledger
    enabled = ls.loaded.config.outcomes.enabled
    if not isinstance(rec, OutcomeRecorder):
        rec = OutcomeRecorder(ledger, enabled)
        ls.outcome_recorder = rec  # type: ignore[attr-defined]
    rec.ledger, rec.enabled = ledger, enabled
    return rec


def start(ls: TtaLanguageServer, request: GenerationRequest, command: str) -> OutcomeDraft:
    draft = OutcomeDraft.start(command, "lsp", request.template, request.language)
    if request.template:
        prompts, template = ls.engine.prompts, request.template
        # The library is found from the path; the draft may live as long as a pending
        # review, and must not keep the whole document alive with it.
        where = dataclasses.replace(request, text="")

        def category() -> str | None:
            found = prompts.library(where).find(template)
            return None if found is None else found.meta.category

        draft.category_of = category
    return draft


def decide(ls: TtaLanguageServer, draft: OutcomeDraft | None, decision: Decision) -> None:
    if draft is not None:
        recorder(ls).record(draft, decision)


def accepted(
    ls: TtaLanguageServer, draft: OutcomeDraft | None, uri: str, start: int, end: int
) -> None:
    """Record the acceptance and start watching the region's retention."""
    if draft is None:
        return
    decide(ls, draft, "accepted")
    if not ls.loaded.config.outcomes.enabled:
        return
    doc = open_document(ls, uri)
    if doc is None:
        return
    watch = RetentionWatch(ls, draft.uid, uri, start, end, doc.source)
    ls.tracker.add(uri, watch)
    _watches(ls).append(watch)
    watch.arm()


def _watches(ls: TtaLanguageServer) -> list[RetentionWatch]:
    found = getattr(ls, "retention_watches", None)
    if not isinstance(found, list):
        found = []
        ls.retention_watches = found  # type: ignore[attr-defined]
    return found


class RetentionWatch:
    """Follows one accepted region and measures how much of its text survives."""

    def __init__(
        self, ls: TtaLanguageServer, uid: str, uri: str, start: int, end: int, source: str
    ) -> None:
        self.ls, self.uid, self.uri = ls, uid, uri
        self.start, self.end = start, end
        self.accepted = source[start:end]
        self.source = source  # the latest document text (a reference, never copied)
        self.saved = False
        self._timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        """(Re)start the idle clock: the region counts as left alone when it fires."""
        if self._timer is not None:
            self._timer.cancel()
        delay = self.ls.loaded.config.outcomes.retention_idle_s
        self._timer = asyncio.get_running_loop().call_later(delay, self._idle)

    def on_change(self, change: TextChange) -> None:
        touched = (change.start < self.end and change.end > self.start) or (
            change.start == change.end and self.start <= change.start <= self.end
        )
        self.start, self.end = follow(self.start, self.end, change)
        self.source = change.after
        if touched:
            self.arm()

    def on_close(self) -> None:
        self._idle()  # closed: the region is left alone for good

    def saved_now(self) -> None:
        if not self.saved:
            self.saved = True
            self._measure("save")

    def _idle(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._measure("idle")
        self.ls.tracker.remove(self.uri, self)
        watches = _watches(self.ls)
        if self in watches:
            watches.remove(self)

    def _measure(self, stage: str) -> None:
        accepted, current = self.accepted, self.source[self.start : self.end]
        rec = recorder(self.ls)

        async def measure() -> None:
            ratio = await asyncio.to_thread(retained_ratio, accepted, current)
            rec.retention(self.uid, stage, ratio)

        rec._spawn(measure())


def on_save(ls: TtaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    for watch in list(_watches(ls)):
        if same_uri(watch.uri, params.text_document.uri):
            watch.saved_now()


def measure_all(ls: TtaLanguageServer) -> None:
    """The server is stopping: every watched region counts as left alone now."""
    for watch in list(_watches(ls)):
        watch.on_close()
