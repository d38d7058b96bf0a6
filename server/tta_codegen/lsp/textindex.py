"""pygls' text document with a kept line index, so a large document stays cheap to edit.

pygls splits the whole source into lines on every position conversion and every change,
and sums line lengths to turn a position into an offset: on a 20 MB document each
streamed edit (and each echo of it) costs seconds of the server's only thread, and other
requests wait. :class:`IndexedTextDocument` keeps the lines and their start offsets for the
current source, answers conversions by lookup and bisection, and patches the index on an
incremental change (the lines the change touched are split again, the offsets after them
shift) instead of rebuilding it. Anything unusual about a change (a bare ``\\r`` that could
join two lines, a change that does not end on a line break) drops the index, and it is
rebuilt once, lazily, exactly as pygls would have computed it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from typing import Any, overload

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import ServerTextPosition

_LINE_ENDS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


class _Lines(Sequence[str]):
    """The lines of ``source`` as a sequence, cut on demand from the line start offsets.

    Holding offsets (one int per line) instead of line strings keeps the index small next
    to the document it describes.
    """

    def __init__(self, source: str, starts: list[int]) -> None:
        self._source, self._starts = source, starts

    def __len__(self) -> int:
        return len(self._starts) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...

    def __getitem__(self, i: int | slice) -> str | tuple[str, ...]:
        if isinstance(i, slice):
            return tuple(self[k] for k in range(*i.indices(len(self))))
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._source[self._starts[i] : self._starts[i + 1]]


class IndexedTextDocument(TextDocument):
    """A :class:`TextDocument` whose line index follows its source instead of being redone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index_for: str | None = None
        self._starts: list[int] = [0]  # start offset of each line, then the total length
        self.rebuilds = 0  # whole-document splits so far (the costly part): for tests

    def _index(self) -> tuple[str, list[int]]:
        source = self.source
        if self._index_for is not source:
            lengths = map(len, source.splitlines(True))
            self._starts = list(itertools.accumulate(lengths, initial=0))
            self._index_for = source
            self.rebuilds += 1
        return source, self._starts

    @property
    def lines(self) -> Sequence[str]:
        return _Lines(*self._index())

    def offset_at_server_position(self, server_position: ServerTextPosition) -> int:
        _, starts = self._index()
        return starts[min(server_position.line, len(starts) - 1)] + server_position.character

    def server_position_at_offset(self, offset: int) -> ServerTextPosition:
        _, starts = self._index()
        if offset < 0:
            return ServerTextPosition(0, offset)
        row = bisect.bisect_right(starts, offset) - 1
        if row >= len(starts) - 1:
            return ServerTextPosition(len(starts) - 1, 0)
        return ServerTextPosition(row, offset - starts[row])

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        source, starts = self._index()
        lines = _Lines(source, starts)
        text = change.text
        rng = self.position_codec.range_from_client_units(lines, change.range)
        if rng.start.line >= len(lines):
            start_off = end_off = len(source)  # pygls: an edit past the end appends
        else:
            # Within the line, as pygls' slicing is (its codec can return a column past it).
            start_off = min(
                starts[rng.start.line] + rng.start.character, starts[rng.start.line + 1]
            )
            end_off = min(starts[rng.end.line] + rng.end.character, starts[rng.end.line + 1])
            end_off = max(end_off, start_off)
        self._source = source[:start_off] + text + source[end_off:]
        if len(lines) and rng.start.line < len(lines):
            self._patch(lines, starts, rng.start.line, rng.end.line, end_off - start_off, text)
        if self._index_for is not self._source:
            self._index_for = None  # rebuilt on the next use

    def _patch(
        self, lines: _Lines, starts: list[int], first: int, last: int, removed: int, text: str
    ) -> None:
        """Re-split only lines ``first..last``; shift the offsets of the lines after them."""
        assert self._source is not None
        base, stop = starts[first], starts[last + 1]
        mid = self._source[base : stop - removed + len(text)]
        following = lines[last + 1] if last + 1 < len(lines) else ""
        joins_next = bool(mid and following) and (
            not mid.endswith(_LINE_ENDS) or (mid.endswith("\r") and following.startswith("\n"))
        )
        joins_prev = (
            first > 0 and lines[first - 1].endswith("\r") and (mid or following).startswith("\n")
        )
        if joins_next or joins_prev:
            return  # a line break may have formed or split across the edges: rebuild
        delta = len(mid) - (stop - base)
        mid_starts = list(itertools.accumulate(map(len, mid.splitlines(True)), initial=base))
        self._starts = starts[:first] + mid_starts + [s + delta for s in starts[last + 2 :]]
        self._index_for = self._source


class IndexedWorkspace(Workspace):
    """pygls' workspace, making :class:`IndexedTextDocument` documents."""

    def _create_text_document(
        self,
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return IndexedTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=self._sync_kind,
            position_codec=self._position_codec,
        )
