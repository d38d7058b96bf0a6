"""The text around the cursor: the cheapest and most relevant context there is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CursorWindow:
    before: str
    after: str
    truncated_before: bool
    truncated_after: bool


def cursor_window(text: str, start: int, end: int, max_chars: int = 12_000) -> CursorWindow:
    """Up to ``max_chars`` around ``[start, end)``, two thirds before, cut at line starts."""
    budget_before = (max_chars * 2) // 3
    budget_after = max_chars - budget_before
    lo = max(0, start - budget_before)
    if lo > 0:
        nl = text.find("\n", lo)
        lo = nl + 1 if 0 <= nl < start else lo
    hi = min(len(text), end + budget_after)
    if hi < len(text):
        nl = text.rfind("\n", end, hi)
        hi = nl + 1 if nl >= 0 else hi
    return CursorWindow(text[lo:start], text[end:hi], lo > 0, hi < len(text))
