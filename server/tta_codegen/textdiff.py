"""The smallest single replacement that turns one text into another."""

from __future__ import annotations

_CHUNK = 1 << 14  # compared as whole slices (memcmp) before a character at a time


def minimal_replacement(old: str, new: str) -> tuple[int, int, str]:
    """``(start, end, text)``: replacing ``old[start:end]`` with ``text`` gives ``new``.

    Common prefix and suffix are trimmed, so an edit touches only what changed (full-sync
    clients and whole-file agent writes are turned into minimal edits with it). Equal
    stretches are skipped a chunk at a time, so a one-line change in a 20 MB document costs
    a few comparisons of whole chunks, not a Python step per character.
    """
    n = min(len(old), len(new))
    pre = 0
    while pre + _CHUNK <= n and old[pre : pre + _CHUNK] == new[pre : pre + _CHUNK]:
        pre += _CHUNK
    while pre < n and old[pre] == new[pre]:
        pre += 1
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
