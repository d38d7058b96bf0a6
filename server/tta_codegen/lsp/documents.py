"""Sees every document change, before and after, so live regions can follow the text.

pygls applies ``didChange`` to its copy before any user handler runs, which loses the
offsets each change had in the text it was made against. We subclass the protocol to
observe each content change at the moment it is applied, and hand it to the regions
(streaming generations, later pending reviews) that live in that document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument


@dataclass(frozen=True)
class TextChange:
    """One applied change, in code-point offsets of the text before it."""

    start: int
    end: int
    text: str
    version: int | None
    after: str  # the whole document after this change

    @property
    def delta(self) -> int:
        return len(self.text) - (self.end - self.start)


class ChangeListener(Protocol):
    def on_change(self, change: TextChange) -> None: ...

    def on_close(self) -> None: ...


def _diff_range(old: str, new: str) -> tuple[int, int, str]:
    """The single replacement that turns ``old`` into ``new`` (for full-sync clients)."""
    n = min(len(old), len(new))
    pre = 0
    while pre < n and old[pre] == new[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and old[len(old) - 1 - suf] == new[len(new) - 1 - suf]:
        suf += 1
    return pre, len(old) - suf, new[pre : len(new) - suf]


class DocumentTracker:
    """Listeners per document URI."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[ChangeListener]] = {}

    def add(self, uri: str, listener: ChangeListener) -> None:
        self._listeners.setdefault(unquote(uri), []).append(listener)

    def remove(self, uri: str, listener: ChangeListener) -> None:
        key = unquote(uri)
        items = self._listeners.get(key)
        if items and listener in items:
            items.remove(listener)
            if not items:
                del self._listeners[key]

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
            start, end, text = _diff_range(before, doc.source)
        event = TextChange(min(start, end), max(start, end), text, identifier.version, doc.source)
        for listener in listeners:
            listener.on_change(event)

    def closed(self, uri: str) -> None:
        for listener in self.listeners(uri):
            listener.on_close()
