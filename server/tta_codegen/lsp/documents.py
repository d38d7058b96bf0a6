"""Sees every document change, before and after, so live regions can follow the text.

pygls applies ``didChange`` to its copy before any user handler runs, which loses the
offsets each change had in the text it was made against. We subclass the protocol to
observe each content change at the moment it is applied, and hand it to the regions
(streaming generations, later pending reviews) that live in that document.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument

from tta_codegen.textdiff import minimal_replacement


@dataclass(frozen=True)
class TextChange:
    """One applied change, in code-point offsets of the text before it."""

    start: int
    end: int
    text: str
    version: int | None
    after: str  # the whole document after this change
    before: str = ""  # the whole document before it (a reference: the text is never copied)

    @property
    def delta(self) -> int:
        return len(self.text) - (self.end - self.start)


class ChangeListener(Protocol):
    def on_change(self, change: TextChange) -> None: ...

    def on_close(self) -> None: ...


class DocumentTracker:
    """Listeners per document URI."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[ChangeListener]] = {}
        self._edit_locks: dict[str, asyncio.Lock] = {}

    def edit_lock(self, uri: str) -> asyncio.Lock:
        """The lock a server edit to ``uri`` holds from sending it to seeing its echo."""
        return self._edit_locks.setdefault(unquote(uri), asyncio.Lock())

    def add(self, uri: str, listener: ChangeListener) -> None:
        self._listeners.setdefault(unquote(uri), []).append(listener)

    def remove(self, uri: str, listener: ChangeListener) -> None:
        key = unquote(uri)
        items = self._listeners.get(key)
        if items and listener in items:
            items.remove(listener)
            if not items:
                del self._listeners[key]
                lock = self._edit_locks.get(key)
                if lock is not None and not lock.locked():
                    del self._edit_locks[key]

    def listeners(self, uri: str) -> list[ChangeListener]:
        return list(self._listeners.get(unquote(uri), ()))

    def apply(
        self,
        doc: TextDocument,
        identifier: types.VersionedTextDocumentIdentifier,
        change: types.TextDocumentContentChangeEvent,
        apply: Any,
    ) -> None:
        listeners = self.listeners(doc.uri)
        if not listeners:
            apply(identifier, change)
            return
        before = doc.source
        if isinstance(change, types.TextDocumentContentChangePartial):
            start = doc.offset_at_position(change.range.start)
            end = doc.offset_at_position(change.range.end)
            apply(identifier, change)
            text = change.text
        else:
            apply(identifier, change)
            # A document with a kept line index (lsp/textindex.py) found the replacement
            # already; comparing 20 MB twice per full-sync change is not needed.
            found = getattr(doc, "last_replacement", None)
            start, end, text = found or minimal_replacement(before, doc.source)
        event = TextChange(
            min(start, end), max(start, end), text, identifier.version, doc.source, before
        )
        for listener in listeners:
            listener.on_change(event)

    def closed(self, uri: str) -> None:
        for listener in self.listeners(uri):
            listener.on_close()
