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
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, overload

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import ServerTextPosition

from tta_codegen.textdiff import minimal_replacement

_LINE_ENDS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


class _Starts:
    """Line start offsets (then the total length), shifted lazily after an edit.

    Held as 8-byte machine integers (a list of Python ints costs ~40 bytes a line, more
    than the text of a short line). An edit re-splits its own lines in place; the lines
    after it move by its length change, which is not written into every entry (that
    would be a Python step per line of the document, per edit) but kept as one pending
    shift, ``shift`` for every entry from ``pending`` on. The next edit moves that
    boundary to itself, touching only the entries between the two edits: streamed edits
    land next to each other, so each costs about its own size (and one ``memmove``).
    """

    def __init__(self, values: Iterable[int]) -> None:
        self._v = array("q", values)
        self._pending = len(self._v)  # entries from here on are stored minus `shift`
        self._shift = 0

    def __len__(self) -> int:
        return len(self._v)

    def __getitem__(self, i: int) -> int:
        if i < 0:
            i += len(self._v)
        return self._v[i] + (self._shift if i >= self._pending else 0)

    def bisect_right(self, offset: int) -> int:
        """The index of the first entry greater than ``offset`` (as :func:`bisect.bisect_right`)."""
        v, k = self._v, self._pending
        if k == len(v) or offset < v[k] + self._shift:
            return bisect.bisect_right(v, offset, 0, k)
        return bisect.bisect_right(v, offset - self._shift, k)

    def splice(self, first: int, stop: int, values: list[int], delta: int) -> None:
        """Entries ``[first, stop)`` become ``values``; those after them move by ``delta``."""
        v, k, d = self._v, self._pending, self._shift
        if d:
            # Move the pending boundary to `stop`, materialising what lies between.
            for i in range(k, stop):
                v[i] += d
            for i in range(stop, k):
                v[i] -= d
        v[first:stop] = array("q", values)
        self._pending, self._shift = first + len(values), d + delta


class _Lines(Sequence[str]):
    """The lines of ``source`` as a sequence, cut on demand from the line start offsets.

    Holding offsets (one int per line) instead of line strings keeps the index small next
    to the document it describes.
    """

    def __init__(self, source: str, starts: _Starts) -> None:
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
        self._starts = _Starts([0])  # start offset of each line, then the total length
        self.rebuilds = 0  # whole-document splits so far (the costly part): for tests
        # (start, end, text) of the last full-sync change, as minimal_replacement found it.
        self.last_replacement: tuple[int, int, str] | None = None

    def _index(self) -> tuple[str, _Starts]:
        source = self.source
        if self._index_for is not source:
            lengths = map(len, source.splitlines(True))
            self._starts = _Starts(itertools.accumulate(lengths, initial=0))
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
        row = starts.bisect_right(offset) - 1
        if row >= len(starts) - 1:
            return ServerTextPosition(len(starts) - 1, 0)
        return ServerTextPosition(row, offset - starts[row])

    def apply_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        self.last_replacement = None
        super().apply_change(change)

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        source, starts = self._index()
        lines = _Lines(source, starts)
        rng = self.position_codec.range_from_client_units(lines, change.range)
        if rng.start.line >= len(lines):
            start_off = end_off = len(source)  # pygls: an edit past the end appends
        else:
            # Within the line, as pygls' slicing is (its codec can return a column past it).
            first, last = rng.start.line, rng.end.line
            start_off = min(starts[first] + rng.start.character, starts[first + 1])
            end_off = max(start_off, min(starts[last] + rng.end.character, starts[last + 1]))
        self._replace(source, starts, start_off, end_off, change.text)

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        # A full-sync client sends the whole text after every edit: find what changed and
        # patch the index for that, instead of splitting the whole new text again.
        if self._index_for is None or self._source is None:
            super()._apply_full_change(change)
            return
        source, starts = self._index()
        start_off, end_off, text = minimal_replacement(source, change.text)
        self._replace(source, starts, start_off, end_off, text, whole=change.text)
        self.last_replacement = (start_off, end_off, text)

    def _replace(
        self,
        source: str,
        starts: _Starts,
        start_off: int,
        end_off: int,
        text: str,
        whole: str | None = None,
    ) -> None:
        """``source[start_off:end_off] = text``; re-split only the lines it touches."""
        new_source = whole if whole is not None else source[:start_off] + text + source[end_off:]
        self._source = new_source
        count = len(starts) - 1
        if count:
            first = starts.bisect_right(start_off) - 1
            last = min(starts.bisect_right(end_off) - 1, count - 1)
            first = min(first, count - 1)
            self._patch(_Lines(source, starts), starts, first, last, end_off - start_off, text)
        if self._index_for is not new_source:
            self._index_for = None  # rebuilt on the next use

    def _patch(
        self, lines: _Lines, starts: _Starts, first: int, last: int, removed: int, text: str
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
        starts.splice(first, last + 2, mid_starts, delta)
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
