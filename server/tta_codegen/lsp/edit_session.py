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

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from tta_codegen.config import StreamingConfig
from tta_codegen.lsp.documents import DocumentTracker, TextChange
from tta_codegen.lsp.positions import position_at

log = logging.getLogger(__name__)

_MAX_TRIES = 20


class EditSessionError(Exception):
    """The document could not be edited (closed, or the client refused every try)."""


@dataclass
class _Pending:
    start: int
    end: int
    text: str
    expected_after: str
    confirmed: asyncio.Event


class StreamingEditSession:
    """One generation's live region in one open document."""

    def __init__(
        self,
        ls: LanguageServer,
        tracker: DocumentTracker,
        uri: str,
        start: int,
        end: int,
        settings: StreamingConfig,
    ) -> None:
        self.ls = ls
        self.tracker = tracker
        self.uri = uri
        self.start = start
        self.end = end
        self.settings = settings
        self.original = self.document().source[start:end]
        self.user_edited_inside = False
        self.error: EditSessionError | None = None
        self.edits_sent = 0
        self.bytes_sent = 0
        self._buffer: list[str] = []
        self._pending: _Pending | None = None
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
        self._use_document_changes = _supports_document_changes(ls)
        self.on_progress: Callable[[str, int], None] | None = None
        tracker.add(uri, self)

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
        """Empty the region (a fallback model starts over)."""
        self._buffer.clear()
        await self._drain()
        if self.end > self.start:
            await self._replace(self.start, self.end, "")

    def progress(self, model: str, tokens: int) -> None:
        if self.on_progress is not None:
            self.on_progress(model, tokens)

    async def finish(self) -> types.Range:
        """Write out everything buffered and wait until the client has confirmed it."""
        await self._drain()
        if self.error is not None:
            raise self.error
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
            await self._replace(self.start, self.end, self.original)

    def close(self) -> None:
        self._closed = True
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        self.tracker.remove(self.uri, self)

    # -- region tracking ----------------------------------------------------------------

    def document(self) -> TextDocument:
        return self.ls.workspace.get_text_document(self.uri)

    def region_range(self) -> types.Range:
        doc = self.document()
        return types.Range(position_at(doc, self.start), position_at(doc, self.end))

    def on_change(self, change: TextChange) -> None:
        self._changed.set()
        p = self._pending
        if p is not None and not p.confirmed.is_set() and self._is_echo(p, change):
            self.end = p.start + len(p.text) + (self.end - p.end)
            if p.start <= self.start:
                self.start = p.start
            p.confirmed.set()
            return
        s, e, delta = change.start, change.end, change.delta
        if e <= self.start:
            self.start += delta
            self.end += delta
        elif s >= self.end:
            pass
        else:
            self.user_edited_inside = True
            new_end = s + len(change.text) if e >= self.end else self.end + delta
            self.start = min(self.start, s)
            self.end = max(self.start, new_end)
        if p is not None and not p.confirmed.is_set():
            # Our edit is still in flight against the old text; shift it the same way so
            # a client that applies unversioned edits is still recognised.
            if p.end <= s:
                pass
            elif p.start >= e:
                p.start += delta
                p.end += delta

    def _is_echo(self, p: _Pending, change: TextChange) -> bool:
        if change.after == p.expected_after:
            return True
        # A client that ignores versions applied ours on top of the user's change.
        return change.start == p.start and change.end == p.end and change.text == p.text

    def on_close(self) -> None:
        self._doc_closed = True
        self._changed.set()
        if self._pending is not None:
            self._pending.confirmed.set()
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
                await self._replace(self.end, self.end, text)
            self._idle.set()
        except EditSessionError as exc:
            self._fail(exc)
            self._idle.set()
        except Exception as exc:  # a bug must fail the generation, never hang it
            log.exception("edit session failed")
            self._fail(EditSessionError(f"internal error while editing: {exc!r}"))
            self._idle.set()

    async def _replace(self, start: int, end: int, text: str) -> None:
        """One edit, retried until the client confirms it (versions may move under us)."""
        for _ in range(_MAX_TRIES):
            if self._doc_closed:
                raise EditSessionError("the document was closed while code was being generated")
            doc = self.document()
            source = doc.source
            start = max(0, min(start, len(source)))
            end = max(start, min(end, len(source)))
            version = doc.version
            pending = _Pending(
                start, end, text, source[:start] + text + source[end:], asyncio.Event()
            )
            self._pending = pending
            self._changed.clear()
            edit = types.TextEdit(
                range=types.Range(position_at(doc, start), position_at(doc, end)),
                new_text=text,
            )
            self._last_send = time.perf_counter()
            self.edits_sent += 1
            self.bytes_sent += len(text.encode("utf-8"))
            try:
                result = await self.ls.workspace_apply_edit_async(
                    types.ApplyWorkspaceEditParams(
                        edit=self._workspace_edit(edit, version), label="tta-codegen"
                    )
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the client answered with an error
                raise EditSessionError(f"the editor refused the edit: {exc}") from exc
            if not result.applied and not pending.confirmed.is_set():
                # Usually a stale version (the user typed). Wait for the didChange that
                # brings our copy up to date, then try again against the new text.
                await self._wait(self._changed, 0.5)
                start, end = self._retarget(pending, start, end)
                continue
            if await self._wait(pending.confirmed, self.settings.confirm_timeout_ms / 1000):
                if self._doc_closed:
                    raise EditSessionError("the document was closed while code was being generated")
                self._pending = None
                return
            # No echo: the client dropped it (stale version) or never syncs. Try again if the
            # document moved; otherwise the client is not telling us about its text.
            if doc.version != version or self.document().source != source:
                start, end = self._retarget(pending, start, end)
                continue
            raise EditSessionError(
                "the editor did not confirm the edit (no didChange arrived); is the document "
                "open and synchronised?"
            )
        raise EditSessionError("the editor kept rejecting edits (the document changed too fast)")

    def _retarget(self, pending: _Pending, start: int, end: int) -> tuple[int, int]:
        """Where the same edit belongs now that the text moved."""
        self._pending = None
        if start == end:
            return self.end, self.end  # appends go to the live end of the region
        return self.start, self.end  # replacements cover the live region

    async def _wait(self, event: asyncio.Event, seconds: float) -> bool:
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _workspace_edit(self, edit: types.TextEdit, version: int | None) -> types.WorkspaceEdit:
        if self._use_document_changes:
            return types.WorkspaceEdit(
                document_changes=[
                    types.TextDocumentEdit(
                        text_document=types.OptionalVersionedTextDocumentIdentifier(
                            uri=self.uri, version=version
                        ),
                        edits=[edit],
                    )
                ]
            )
        return types.WorkspaceEdit(changes={self.uri: [edit]})


def _supports_document_changes(ls: LanguageServer) -> bool:
    caps = ls.client_capabilities
    ws = caps.workspace if caps else None
    we = ws.workspace_edit if ws else None
    return bool(we and we.document_changes)
