"""Outcomes in the editor: drafts for running generations, decisions, retention watches.

A generation gets an :class:`~tta_codegen.outcomes.events.OutcomeDraft` when it starts;
its row is written when the user decides (Accept, Discard, Regenerate) or when it is
cancelled or fails; in ``review.mode = "auto"`` a completed generation counts as
accepted at once. An accepted region is then watched (a
:class:`~tta_codegen.lsp.documents.DocumentTracker` listener following edits like a
pending change does) and its retention recorded at the first save and when the region
was left alone for ``outcomes.retention_idle_s`` (or its document closed).

Inline suggestions get a row too (kind ``inline``): a suggestion is *offered* when the
server answers it; it becomes ``accepted`` when the client reports the acceptance
(``tta.completionAccepted``, which editors run on accept) and is then watched like
accepted generated code, or ``dismissed`` when another suggestion is offered for the same
document, the document is closed or the server stops. Offering one is a dict write on
the answer path; any row it ends is written in a background thread.

All of it happens at decision points, never per token; rows are written in background
threads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lsprotocol import types

from tta_codegen.lsp.client import same_uri
from tta_codegen.lsp.documents import TextChange
from tta_codegen.lsp.regions import follow
from tta_codegen.outcomes.events import Decision, OutcomeDraft, OutcomeRecorder
from tta_codegen.outcomes.retention import retained_ratio
from tta_codegen.request import GenerationRequest

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)


@dataclass
class OutcomeState:
    """What the server keeps for outcome tracking (declared as ``ls.outcomes``).

    ``recorder`` is made on first use, for the engine's ledger of that moment;
    ``watches``: accepted regions whose retention is still to be measured;
    ``offered``: the inline suggestion last offered per document (by URI as the client
    spells it).
    """

    recorder: OutcomeRecorder | None = None
    watches: list[RetentionWatch] = field(default_factory=list)
    offered: dict[str, _Offered] = field(default_factory=dict)


def recorder(ls: TtaLanguageServer) -> OutcomeRecorder:
    """The server's recorder, writing to the current engine's ledger."""
    ledger = ls.engine.router.ledger
    enabled = ls.loaded.config.outcomes.enabled
    rec = ls.outcomes.recorder
    if rec is None:
        rec = ls.outcomes.recorder = OutcomeRecorder(ledger, enabled)
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
    doc = ls.editor.open_document(uri)
    if doc is None:
        return
    watch = RetentionWatch(ls, draft.uid, uri, start, end, doc.source)
    ls.tracker.add(uri, watch)
    _watches(ls).append(watch)
    watch.arm()


def _watches(ls: TtaLanguageServer) -> list[RetentionWatch]:
    return ls.outcomes.watches


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


@dataclass
class _Offered:
    """An inline suggestion on screen: where it starts and its text, until its fate is known."""

    id: str
    draft: OutcomeDraft
    start: int
    text: str


def _offered(ls: TtaLanguageServer) -> dict[str, _Offered]:
    return ls.outcomes.offered


def inline_offered(
    ls: TtaLanguageServer,
    uri: str,
    suggestion_id: str,
    start: int,
    text: str,
    model: str,
    language: str | None,
    asked: float,
) -> None:
    """A suggestion was answered for ``uri``; the one offered before, if another, is dismissed.

    The same suggestion answered again (from the cache, as the user types what it
    predicted) stays one offer. Nothing here waits: a dismissed row is written in the
    background.
    """
    if not ls.loaded.config.outcomes.enabled:
        return
    offered = _offered(ls)
    before = offered.get(uri)
    if before is not None and before.id == suggestion_id:
        return
    if before is not None:
        decide(ls, before.draft, "dismissed")
    draft = OutcomeDraft.start("inline", "lsp", None, language)
    draft.started = asked
    draft.answered(model, text)
    offered[uri] = _Offered(suggestion_id, draft, start, text)


def inline_accepted(ls: TtaLanguageServer, suggestion_id: str | None) -> bool:
    """The client accepted suggestion ``suggestion_id``: record it and watch its text.

    The editor has inserted it before reporting, so the region is where it was offered
    (or, if the document moved meanwhile, the nearest place holding its text); when it
    cannot be found the acceptance is recorded without retention. False when no
    suggestion with that id is offered (already dismissed, or from before a restart).
    """
    offered = _offered(ls)
    uri = next((u for u, o in offered.items() if o.id == suggestion_id), None)
    if uri is None:
        return False
    offer = offered.pop(uri)
    doc = ls.editor.open_document(uri)
    source = doc.source if doc is not None else ""
    start = offer.start
    if source[start : start + len(offer.text)] != offer.text:
        found = [
            i
            for i in (source.rfind(offer.text, 0, start), source.find(offer.text, start))
            if i >= 0
        ]
        start = min(found, key=lambda i: abs(i - offer.start)) if found else -1
    if start < 0:
        decide(ls, offer.draft, "accepted")
    else:
        accepted(ls, offer.draft, uri, start, start + len(offer.text))
    return True


def inline_closed(ls: TtaLanguageServer, uri: str) -> None:
    """The document was closed with a suggestion still offered: dismissed."""
    offer = _offered(ls).pop(uri, None)
    if offer is not None:
        decide(ls, offer.draft, "dismissed")


def on_save(ls: TtaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    for watch in list(_watches(ls)):
        if same_uri(watch.uri, params.text_document.uri):
            watch.saved_now()


def measure_all(ls: TtaLanguageServer) -> None:
    """The server is stopping: every watched region counts as left alone now, and every
    inline suggestion still offered was not accepted."""
    for watch in list(_watches(ls)):
        watch.on_close()
    for uri in list(_offered(ls)):
        inline_closed(ls, uri)
