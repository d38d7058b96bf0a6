"""The smallest single replacement that turns one text into another."""

from __future__ import annotations


def minimal_replacement(old: str, new: str) -> tuple[int, int, str]:
    """``(start, end, text)``: replacing ``old[start:end]`` with ``text`` gives ``new``.

    Common prefix and suffix are trimmed, so an edit touches only what changed (full-sync
    clients and whole-file agent writes are turned into minimal edits with it).
    """
    n = min(len(old), len(new))
    pre = 0
    while pre < n and old[pre] == new[pre]:
        pre += 1
    suf = 0
    while suf < n - pre and old[len(old) - 1 - suf] == new[len(new) - 1 - suf]:
        suf += 1
    return pre, len(old) - suf, new[pre : len(new) - suf]
