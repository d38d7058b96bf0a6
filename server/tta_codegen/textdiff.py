"""Text differences: the smallest single replacement between two texts, and unified diffs."""

from __future__ import annotations

import difflib

_CHUNK = 1 << 14  # compared as whole slices (memcmp) before a character at a time


def common_prefix(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share (whole chunks compared first)."""
    n = min(len(a), len(b))
    pre = 0
    while pre + _CHUNK <= n and a[pre : pre + _CHUNK] == b[pre : pre + _CHUNK]:
        pre += _CHUNK
    while pre < n and a[pre] == b[pre]:
        pre += 1
    return pre


def minimal_replacement(old: str, new: str) -> tuple[int, int, str]:
    """``(start, end, text)``: replacing ``old[start:end]`` with ``text`` gives ``new``.

    Common prefix and suffix are trimmed, so an edit touches only what changed (full-sync
    clients and whole-file agent writes are turned into minimal edits with it). Equal
    stretches are skipped a chunk at a time, so a one-line change in a 20 MB document costs
    a few comparisons of whole chunks, not a Python step per character.
    """
    n = min(len(old), len(new))
    pre = common_prefix(old, new)
    suf = 0
    limit = n - pre
    lo, ln = len(old), len(new)
    while suf + _CHUNK <= limit and (
        old[lo - suf - _CHUNK : lo - suf] == new[ln - suf - _CHUNK : ln - suf]
    ):
        suf += _CHUNK
    while suf < limit and old[lo - 1 - suf] == new[ln - 1 - suf]:
        suf += 1
    return pre, lo - suf, new[pre : ln - suf]


def unified_diff(label: str, before: str, after: str, *, new_file: bool = False) -> str:
    """A unified diff of two versions of a file, as ``git diff`` prints it.

    A last line without a newline gets git's ``\\ No newline at end of file`` marker, so
    the patch applies as printed. ``new_file`` diffs from ``/dev/null``.
    """
    out: list[str] = []
    for line in difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="/dev/null" if new_file else f"a/{label}",
        tofile=f"b/{label}",
    ):
        out.append(line)
        if not line.endswith("\n"):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)
