"""Turns a stream of code into versioned applyEdits on one region of one document.

The region is ``[start, end)`` in code-point offsets of the server's copy of the text.
It follows the user's typing (changes before it shift it; changes inside it are kept
and noted) and grows only by our own edits, recognised when the client echoes them
back in ``didChange``. We never trust ``applied: true`` alone: Neovim answers it even
for an edit it dropped as stale, so each edit waits for its echo, and text that
arrives meanwhile is batched into the next edit. That also bounds the edit rate.

On cancel or failure, :meth:`restore` puts the region's original text back in one edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.workspace import TextDocument

from tta_codegen.config import StreamingConfig
from tta_codegen.lsp.client import EditorClient, EditorRefused
from tta_codegen.lsp.documents import TextChange
from tta_codegen.lsp.positions import position_at
from tta_codegen.lsp.regions import follow
from tta_codegen.textdiff import RewriteState, common_prefix, plan_lines

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)

_MAX_TRIES = 20
_REFUSALS = 4  # refusals of an unchanged document (2 s) that end the generation
_LATE_ECHO_GRACE_S = 0.15


class EditSessionError(Exception):
    """The document could not be edited (closed, or the client refused every try)."""


@dataclass
class _InFlight:
    """The one edit sent and not yet echoed back by a didChange."""

    start: int
    end: int
    text: str
    source: str  # the document the edit was made against (a reference, not a copy)
    confirmed: asyncio.Event
    # (start, cursor, end) of the region once the edit is applied.
    region_after: tuple[int, int, int]


class StreamingEditSession:
    """One generation's live region in one open document."""

    def __init__(
        self,
        editor: EditorClient,
        uri: str,
        start: int,
        end: int,
        settings: StreamingConfig,
        *,
        rewrite: bool = False,
    ) -> None:
        self.editor = editor
        self.tracker = editor.tracker
        self.uri = uri
        self.start = start
        self.end = end
        # Where new text goes. Inserting: always the region's end. Rewriting: the end of the
        # new text, with what is left of the original selection between it and `end`.
        self.cursor = start if rewrite else end
        self.rewrite = rewrite
        self.settings = settings
        self.original = self.document().source[start:end]
        self._diff = RewriteState() if rewrite else None
        self.user_edited_inside = False
        self.error: EditSessionError | None = None
        self.edits_sent = 0
        self.bytes_sent = 0
        self._buffer: list[str] = []
        self._in_flight: _InFlight | None = None
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._stopping = False  # restoring: send nothing more from the stream
        self._doc_closed = False
        self._last_send = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._owner: asyncio.Task[object] | None = None
        self.on_progress: Callable[[str, int], None] | None = None
        self.on_note: Callable[[str], None] | None = None
        self.tracker.add(uri, self)

    # -- the CodeSink side ------------------------------------------------------------

    def bind(self, owner: asyncio.Task[object] | None) -> None:
        """The task to cancel if editing fails, so the generation stops at once."""
        self._owner = owner

    def write(self, text: str) -> None:
        if self._closed or self._stopping or not text:
            return
        self._buffer.append(text)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_loop())
        self._idle.clear()
        self._wake.set()

    async def reset(self) -> None:
        """Back to the original text (a fallback model or a refinement starts over)."""
        self._buffer.clear()
        await self._drain()
        if self.document().source[self.start : self.end] != self.original:
            await self._edit("region", self.original, cursor_at_end=not self.rewrite)
        self.cursor = self.start if self.rewrite else self.end
        self._diff = RewriteState() if self.rewrite else None

    def progress(self, model: str, tokens: int) -> None:
        if self.on_progress is not None:
            self.on_progress(model, tokens)

    def note(self, message: str) -> None:
        if self.on_note is not None:
            self.on_note(message)

    async def finish(self) -> types.Range:
        """Write out everything buffered and wait until the client has confirmed it."""
        await self._drain()
        if self.error is not None:
            raise self.error
        if self._diff is not None:
            await self._finish_rewrite()
        return self.region_range()

    async def restore(self) -> None:
        """Put the original text back: the document is as it was before the command."""
        self._buffer.clear()
        self._stopping = True
        if self._flusher is not None:
            # Let an edit already sent finish and be confirmed: cancelling it mid-flight
            # would leave text the client applies after our restore, outside the region.
            self._wake.set()
            limit = self.settings.confirm_timeout_ms / 1000 + 1.0
            try:
                await asyncio.wait_for(asyncio.shield(self._flusher), limit)
            except (TimeoutError, EditSessionError):
                self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, EditSessionError):
                await self._flusher
            self._flusher = None
        if self._doc_closed:
            return
        current = self.document().source[self.start : self.end]
        if current != self.original:
            await self._edit("region", self.original)

    async def replace(self, text: str) -> None:
        """Replace the whole region with ``text`` in one confirmed edit; nothing streams."""
        if self._doc_closed:
            return
        if self.document().source[self.start : self.end] != text:
            await self._edit("region", text)

    def close(self) -> None:
        self._closed = True
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        self.tracker.remove(self.uri, self)

    # -- region tracking ----------------------------------------------------------------

    def document(self) -> TextDocument:
        return self.editor.ls.workspace.get_text_document(self.uri)

    def region_range(self) -> types.Range:
        doc = self.document()
        return types.Range(position_at(doc, self.start), position_at(doc, self.end))

    def on_change(self, change: TextChange) -> None:
        self._changed.set()
        p = self._in_flight
        if p is not None and not p.confirmed.is_set() and self._is_echo(p, change):
            self.start, self.cursor, self.end = p.region_after
            p.confirmed.set()
            return
        s, e, delta = change.start, change.end, change.delta
        start, end = follow(self.start, self.end, change)
        if e <= self.start:
            self.cursor += delta
        elif s < self.end:
            self.user_edited_inside = True
            if e <= self.cursor:
                self.cursor += delta
            elif s < self.cursor:
                self.cursor = s + len(change.text)
            self.cursor = min(max(self.cursor, start), end)
        self.start, self.end = start, end
        if p is not None and not p.confirmed.is_set():
            # Our edit is still in flight against the old text; shift it the same way so
            # a client that applies unversioned edits is still recognised.
            if p.end <= s:
                pass
            elif p.start >= e:
                p.start += delta
                p.end += delta

    def _is_echo(self, p: _InFlight, change: TextChange) -> bool:
        if _same_result(p, change):
            return True
        # A client that ignores versions applied ours on top of the user's change.
        return change.start == p.start and change.end == p.end and change.text == p.text

    def on_close(self) -> None:
        self._doc_closed = True
        self._changed.set()
        if self._in_flight is not None:
            self._in_flight.confirmed.set()
        self._fail(EditSessionError("the document was closed while code was being generated"))

    # -- sending ------------------------------------------------------------------------

    def _fail(self, error: EditSessionError) -> None:
        if self.error is None:
            self.error = error
            if self._owner is not None and not self._owner.done():
                self._owner.cancel()

    async def _drain(self) -> None:
        if self._flusher is None:
            return
        self._wake.set()
        await self._idle.wait()

    async def _flush_loop(self) -> None:
        interval = self.settings.flush_interval_ms / 1000
        try:
            while not (self._closed or self._stopping):
                if not self._buffer:
                    self._idle.set()
                    await self._wake.wait()
                    self._wake.clear()
                    continue
                wait = self._last_send + interval - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._stopping or not self._buffer:
                    continue
                text = "".join(self._buffer)
                self._buffer.clear()
                if self._diff is None:
                    await self._edit("cursor", text)
                else:
                    await self._rewrite_step(text, final=False)
            self._idle.set()
        except EditSessionError as exc:
            self._fail(exc)
            self._idle.set()
        except Exception as exc:  # a bug must fail the generation, never hang it
            log.exception("edit session failed")
            self._fail(EditSessionError(f"internal error while editing: {exc!r}"))
            self._idle.set()

    def _target(self, anchor: str, span: int) -> tuple[int, int]:
        """The live range an edit replaces: at the cursor, or the whole region."""
        if anchor == "region":
            return self.start, self.end
        return self.cursor, min(self.cursor + span, self.end) if span else self.cursor

    async def _edit(
        self, anchor: str, text: str, *, span: int = 0, skip: int = 0, cursor_at_end: bool = False
    ) -> None:
        """One edit, retried until the client confirms it (versions may move under us).

        ``anchor`` "cursor" replaces ``span`` characters at the cursor, which then moves past
        the new text and ``skip`` more characters; "region" replaces the whole region.
        Positions are recomputed from the live region on every try, so a retry after the
        user typed lands where the text now is.
        """
        refused = 0  # refusals in a row that no change of the document explains
        for _ in range(_MAX_TRIES):
            # One edit in flight per document, across generations: each is computed against
            # the text the previous one left, so concurrent generations queue instead of
            # invalidating each other's versions until their retries run out.
            async with self.tracker.edit_lock(self.uri):
                if self._doc_closed:
                    raise EditSessionError("the document was closed while code was being generated")
                doc = self.document()
                source = doc.source
                start, end = self._target(anchor, span)
                start = max(0, min(start, len(source)))
                end = max(start, min(end, len(source)))
                delta = len(text) - (end - start)
                if anchor == "region":
                    after = (
                        start,
                        start + len(text) if cursor_at_end else start,
                        start + len(text),
                    )
                else:
                    after = (self.start, start + len(text) + skip, self.end + delta)
                version = doc.version
                sent = _InFlight(start, end, text, source, asyncio.Event(), after)
                self._in_flight = sent
                self._changed.clear()
                edit = types.TextEdit(
                    range=types.Range(position_at(doc, start), position_at(doc, end)),
                    new_text=text,
                )
                self._last_send = time.perf_counter()
                self.edits_sent += 1
                self.bytes_sent += len(text.encode("utf-8"))
                try:
                    result = await self.editor.apply_edit(self.uri, edit, version=version)
                except EditorRefused as exc:
                    raise EditSessionError(f"the editor refused the edit: {exc}") from exc
                if not result.applied and not sent.confirmed.is_set():
                    # Usually a stale version (the user typed). Wait for the didChange that
                    # brings our copy up to date, then try again against the new text.
                    # Refused for 2 s with the document unchanged, it is the editor's answer
                    # (a read-only buffer, a declined edit), not a race: say so at once
                    # instead of retrying for _MAX_TRIES half-seconds.
                    moved = await self._wait(self._changed, 0.5)
                    self._in_flight = None
                    refused = 0 if moved or self.document().version != version else refused + 1
                    if refused >= _REFUSALS:
                        reason = result.failure_reason or "no reason given"
                        raise EditSessionError(f"the editor rejected the edit ({reason})")
                    continue
                if await self._wait_for_echo(sent, version):
                    if self._doc_closed:
                        raise EditSessionError(
                            "the document was closed while code was being generated"
                        )
                    self._in_flight = None
                    return
                # No echo: the client dropped it (stale version) or never syncs. Try again if the
                # document moved; otherwise the client is not telling us about its text.
                self._in_flight = None
                if doc.version != version or self.document().source != source:
                    continue
                raise EditSessionError(
                    "the editor did not confirm the edit (no didChange arrived); is the document "
                    "open and synchronised?"
                )
        raise EditSessionError("the editor kept rejecting edits (the document changed too fast)")

    # -- rewriting a selection ----------------------------------------------------------

    async def _rewrite_step(self, text: str, *, final: bool) -> None:
        """Diff the new text against what is left of the original, a line at a time.

        While the new text repeats the original, nothing is sent. After it departs, each
        complete new line either matches the next original line (kept in place, no edit),
        matches a line a little further on (the lines between are deleted), or is inserted.
        Lines kept in place are never rewritten, so an unchanged suffix stays untouched.
        """
        d = self._diff
        assert d is not None
        d.received += text
        if d.prefix_phase:
            if self.original.startswith(d.received) and not final:
                return
            k = common_prefix(d.received, self.original)
            if final and k == len(d.received):
                self.cursor = self.start + k
                d.prefix_phase = False
                d.pending_line = ""
                return
            k = d.received.rfind("\n", 0, k) + 1  # diff whole lines from here on
            self.cursor = self.start + k
            d.prefix_phase = False
            d.pending_line = d.received[k:]
        else:
            d.pending_line += text
        cut = len(d.pending_line) if final else d.pending_line.rfind("\n") + 1
        if cut <= 0:
            return
        lines = d.pending_line[:cut].splitlines(keepends=True)
        d.pending_line = d.pending_line[cut:]
        tail = self.document().source[self.cursor : self.end].splitlines(keepends=True)
        lead, span, new_text, skip = plan_lines(lines, tail)
        self.cursor += lead
        if span or new_text:
            await self._edit("cursor", new_text, span=span, skip=skip)
        else:
            self.cursor += skip

    async def _finish_rewrite(self) -> None:
        d = self._diff
        assert d is not None
        await self._rewrite_step("", final=True)
        if self.end > self.cursor:
            await self._edit("cursor", "", span=self.end - self.cursor)
        self._diff = None

    async def _wait_for_echo(self, sent: _InFlight, version: int | None) -> bool:
        """Wait for the didChange that carries our edit.

        With versioned edits, a didChange that moves the document past the version we
        edited without carrying our edit means the client dropped it as stale (Neovim does
        so silently): after a short grace for a late echo, give up and resend at once
        instead of waiting out the whole confirmation timeout.
        """
        deadline = time.perf_counter() + self.settings.confirm_timeout_ms / 1000
        while not sent.confirmed.is_set():
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            self._changed.clear()
            confirmed = asyncio.ensure_future(sent.confirmed.wait())
            changed = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait(
                    {confirmed, changed}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                confirmed.cancel()
                changed.cancel()
            if sent.confirmed.is_set():
                break
            moved = self.document().version != version
            versioned = self.editor.capabilities.versioned_edits
            if versioned and version is not None and moved:
                return await self._wait(sent.confirmed, _LATE_ECHO_GRACE_S)
        return True

    async def _wait(self, event: asyncio.Event, seconds: float) -> bool:
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True


def _same_result(p: _InFlight, change: TextChange) -> bool:
    """Whether ``change`` left the document exactly as our edit would have, looking only at
    the span the two replacements cover (a full-sync echo of a one-line edit in a 20 MB
    document is not compared, or rebuilt, whole).

    Both replace a stretch of the same text; outside the union of their stretches both
    results equal that text, so comparing the union (equal lengths given) decides."""
    delta = len(p.text) - (p.end - p.start)
    before = change.before
    if before is p.source or before == p.source:
        if change.delta != delta:
            return False
        lo, hi = min(change.start, p.start), max(change.end, p.end)
        ours = before[lo : p.start] + p.text + before[p.end : hi]
        return change.after[lo : hi + delta] == ours
    # Made against another text: the last of several changes our edit arrived as (a
    # client may report one edit as a deletion and an insertion), or the user typed
    # first. Only the whole result can tell; its length rules most cases out at once.
    if len(change.after) != len(p.source) + delta:
        return False
    return change.after == p.source[: p.start] + p.text + p.source[p.end :]


async def replace_region(
    ls: TtaLanguageServer, uri: str, start: int, end: int, text: str
) -> tuple[int, int]:
    """Replace ``[start, end)`` of an open document with ``text`` in one confirmed edit.

    A short-lived session does it, so the edit is versioned, retried if the user types
    meanwhile, confirmed by the client's ``didChange``, and counted among the live
    regions while it is in flight. Returns the new region; raises
    :class:`EditSessionError` if the editor refuses.
    """
    session = StreamingEditSession(ls.editor, uri, start, end, ls.loaded.config.streaming)
    ls.sessions.append(session)
    try:
        await session.replace(text)
        return session.start, session.end
    finally:
        ls.session_done(session)
