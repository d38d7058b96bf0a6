"""Retention: how much of the accepted text is still in its region.

The ratio is the share of the accepted text's characters that the region still holds,
in order: the matching blocks of :class:`difflib.SequenceMatcher` between the accepted
text and the region now. Blocks shorter than :data:`MIN_BLOCK` characters, or made only
of whitespace, do not count: a rewrite shares stray letters and indentation with what
it replaced by chance, and those are not code that was kept. Deleting or rewriting half
of an accepted function gives about 0.5; renaming a variable costs only its
occurrences. Only the ratio leaves this module, never the text.
"""

from __future__ import annotations

import difflib

MIN_BLOCK = 3


def retained_ratio(accepted: str, current: str) -> float:
    """Share (0..1) of ``accepted``'s characters still present, in order, in ``current``."""
    if not accepted:
        return 1.0
    matcher = difflib.SequenceMatcher(None, accepted, current, autojunk=False)
    kept = sum(
        block.size
        for block in matcher.get_matching_blocks()
        if block.size >= MIN_BLOCK and accepted[block.a : block.a + block.size].strip()
    )
    return min(1.0, kept / len(accepted))
