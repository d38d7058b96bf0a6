"""Live regions of a document: where one is after an edit, and whether two meet.

A streaming generation (``edit_session``), a pending change (``review_state``) and an
accepted region watched for retention (``outcomes``) all follow their text through every
``didChange`` with :func:`follow`; generating commands refuse a target that
:func:`overlaps` a live or pending region. Offsets are code points of the server's copy.
"""

from __future__ import annotations

from tta_codegen.lsp.documents import TextChange


def follow(start: int, end: int, change: TextChange) -> tuple[int, int]:
    """Where region ``[start, end)`` is after ``change``: shifted by edits before it, and
    widened to keep the user's text when an edit touches its inside or crosses an edge."""
    s, e, delta = change.start, change.end, change.delta
    if e <= start:
        return start + delta, end + delta
    if s >= end:
        return start, end
    new_end = s + len(change.text) if e >= end else end + delta
    new_start = min(start, s)
    return new_start, max(new_start, new_end)


def overlaps(
    start: int, end: int, other_start: int, other_end: int, *, growing: bool = False
) -> bool:
    """Whether target ``[start, end)`` meets region ``[other_start, other_end)``.

    The one overlap test of every generating command, with one distinction:

    - A settled region (a pending change; ``growing=False``): text inserted exactly at its
      edge lands outside it (before or after it, as :func:`follow` treats it), so only a
      strictly inner point or a shared character counts, and two empty ranges meet when
      they are the same point. A generation right after a pending change is allowed.
    - A region still streaming (``growing=True``) also counts its edges for an insertion
      point: its text keeps arriving at them, so a second generation there would
      interleave with the first as the user watches.
    """
    if start == end:
        if growing:
            return other_start <= start <= other_end
        if other_start == other_end:
            return start == other_start
        return other_start < start < other_end
    if other_start == other_end:
        return start < other_start < end
    return start < other_end and other_start < end
