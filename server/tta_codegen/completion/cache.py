"""Reuse a suggestion while the user types what it predicted.

A suggestion is remembered with the document text before and after the cursor it was
made for. A later request whose text before the cursor extends that text by characters
the suggestion starts with (and whose text after the cursor is unchanged) is answered
with the rest of the suggestion, without asking a model.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedSuggestion:
    before: str  # document text before the cursor when the suggestion was made
    after: str  # ... and after it
    text: str
    model: str


@dataclass(frozen=True)
class CacheHit:
    suggestion: CachedSuggestion
    typed: str  # what the user typed of the suggestion since
    remaining: str


class CompletionCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._docs: dict[str, OrderedDict[tuple[int, int], CachedSuggestion]] = {}

    def put(self, uri: str, suggestion: CachedSuggestion) -> None:
        if self.size <= 0:
            return
        entries = self._docs.setdefault(uri, OrderedDict())
        key = (len(suggestion.before), hash(suggestion.before[-200:]))
        entries.pop(key, None)
        entries[key] = suggestion
        while len(entries) > self.size:
            entries.popitem(last=False)

    def get(self, uri: str, before: str, after: str) -> CacheHit | None:
        for cached in reversed(self._docs.get(uri, {}).values()):
            if after != cached.after or len(before) < len(cached.before):
                continue
            typed = before[len(cached.before) :]
            if (
                len(typed) < len(cached.text)
                and cached.text.startswith(typed)
                and before.startswith(cached.before)
            ):
                return CacheHit(cached, typed, cached.text[len(typed) :])
        return None

    def forget(self, uri: str) -> None:
        self._docs.pop(uri, None)
