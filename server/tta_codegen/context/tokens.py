"""Identifier-aware tokenisation for retrieval, and the token estimate for budgets.

Code search fails on plain word splitting: ``parse_config_file`` and ``parseConfigFile``
must both match a query for "parse the config file". Identifiers are split at
underscores, camelCase humps and digits; the parts are indexed along with the joined
identifier (so an exact name still ranks first). Stemming ("parsed" → "pars") is left
to SQLite FTS5's porter tokenizer, which sees these tokens on both sides.
"""

from __future__ import annotations

import math
import re
from collections import Counter

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HUMPS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# Words that appear in nearly every chunk: they cost query time and add no signal.
_STOPWORDS_TEXT = """
    a an and are as at be by for from has have if in into is it its of on or that the
    then this to was were will with which when where who not no but can do does than
    so such there these those they we you your our also any all each may must should
    self cls def class return returns none true false import pass else elif try except
    finally while with yield lambda raise assert del global nonlocal await async
    str int bool dict list tuple object args kwargs param params type"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())

_CACHE_MAX = 200_000
_split_cache: dict[str, tuple[str, ...]] = {}
# identifier → its parts joined by spaces ("" for none), for :func:`token_counts`.
_joined_cache: dict[str, str] = {}


def split_identifier(name: str) -> tuple[str, ...]:
    """``parseHTTPResponse_v2`` → ``("parse", "http", "response", "v2" parts..., joined)``."""
    cached = _split_cache.get(name)
    if cached is not None:
        return cached
    parts = [p.lower() for piece in name.split("_") if piece for p in _HUMPS.findall(piece)]
    out = [p for p in parts if len(p) > 1 and p not in STOPWORDS]
    if len(parts) > 1:
        joined = "".join(parts)
        if joined not in STOPWORDS:
            out.append(joined)
    result = tuple(out)
    if len(_split_cache) < _CACHE_MAX:
        _split_cache[name] = result
    return result


def tokenize(text: str) -> list[str]:
    """Every searchable token of ``text``, in order, repeats kept (BM25 counts them)."""
    tokens: list[str] = []
    cache = _split_cache
    extend = tokens.extend
    for name in _IDENT.findall(text):
        parts = cache.get(name)
        extend(parts if parts is not None else split_identifier(name))
    return tokens


def token_counts(text: str) -> dict[str, int]:
    """``Counter(tokenize(text))``: the same counts, in the same (first-appearance) order.

    The index build calls this for every chunk, so the loop runs in C: each identifier's
    parts are joined once into a cached string, and the chunk's identifiers are mapped
    to those strings, joined, split and counted without a Python-level loop per name.
    """
    names = _IDENT.findall(text)
    joined = _joined_cache
    try:
        parts = " ".join(map(joined.__getitem__, names))
    except KeyError:  # identifiers not seen before: split them, then join again
        learn_identifiers(set(names))
        parts = " ".join(map(joined.__getitem__, names))
    return Counter(parts.split())


def learn_identifiers(names: set[str]) -> None:
    """Split and cache ``names`` for :func:`token_counts` (a file's, before its chunks)."""
    joined = _joined_cache
    missing = names.difference(joined)
    if not missing:
        return
    if len(joined) + len(missing) > _CACHE_MAX:
        joined.clear()
        missing = names
    for name in missing:
        joined[name] = " ".join(split_identifier(name))


def query_terms(text: str, limit: int = 48) -> list[str]:
    """Distinct tokens of a query, first occurrences first, at most ``limit``."""
    seen: dict[str, None] = {}
    for token in tokenize(text):
        if token not in seen:
            seen[token] = None
            if len(seen) >= limit:
                break
    return list(seen)


def estimate_tokens(text: str, chars_per_token: float = 4.0) -> int:
    return math.ceil(len(text) / chars_per_token) if text else 0
