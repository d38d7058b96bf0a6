"""Retrieval: BM25 hits for the request, re-ranked by where they live.

Two queries run against the index: the description (what the user asked for) and the
identifiers around the cursor (what the code there is about). Their scores are
normalised and fused, then boosted by proximity to the current file: files it imports,
open documents, its own package, recently edited files. Each example keeps the reasons
it was chosen, for ``tta.explainContext`` and the debug log.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from tta_codegen.context.index import WorkspaceIndex
from tta_codegen.context.store import Hit
from tta_codegen.context.tokens import query_terms, tokenize

DESCRIPTION_WEIGHT = 1.0
CODE_WEIGHT = 0.6
BOOST_IMPORTED = 1.6
BOOST_OPEN = 1.3
BOOST_SAME_PACKAGE = 1.2
BOOST_RECENT = 1.2
RECENT_SECONDS = 15 * 60
CANDIDATES = 40
MIN_RELATIVE_SCORE = 0.2  # weaker matches than this fraction of the best are noise


@dataclass
class Example:
    hit: Hit
    rel: str
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class Query:
    description: str
    code: str  # text around the cursor
    current_path: str | None
    exclude_lines: tuple[int, int] | None  # the current file's lines already in the prompt
    open_paths: frozenset[str] = frozenset()
    recent: dict[str, float] = field(default_factory=dict)  # path → monotonic edit time
    skip_paths: frozenset[str] = frozenset()  # already in the prompt (rules files)


def retrieve(index: WorkspaceIndex, query: Query, limit: int) -> list[Example]:
    desc_terms = query_terms(query.description, limit=32)
    code_terms = query_terms(query.code, limit=48)
    fused: dict[int, tuple[Hit, float]] = {}
    for terms, weight in ((desc_terms, DESCRIPTION_WEIGHT), (code_terms, CODE_WEIGHT)):
        hits = index.search(terms, CANDIDATES) if terms else []
        top = max((h.score for h in hits), default=0.0)
        for h in hits:
            norm = weight * (h.score / top if top > 0 else 0.0)
            prev = fused.get(h.chunk_id)
            fused[h.chunk_id] = (h, (prev[1] if prev else 0.0) + norm)
    if not fused:
        return []
    current = query.current_path
    imported = set(index.resolve_imports(current)) if current else set()
    package = os.path.dirname(current) if current else None
    now = time.monotonic()
    out: list[Example] = []
    for hit, score in fused.values():
        if hit.path in query.skip_paths:
            continue
        if current and hit.path == current and query.exclude_lines:
            lo, hi = query.exclude_lines
            if hit.start <= hi and hit.end >= lo:
                continue  # already in the prompt as the text around the cursor
        reasons: list[str] = []
        if hit.path == current:
            reasons.append("in the current file")
        if hit.path in imported:
            score *= BOOST_IMPORTED
            reasons.append("imported by the current file")
        if hit.path in query.open_paths and hit.path != current:
            score *= BOOST_OPEN
            reasons.append("open in the editor")
        if package and hit.path != current and os.path.dirname(hit.path) == package:
            score *= BOOST_SAME_PACKAGE
            reasons.append("same package")
        edited = query.recent.get(hit.path)
        if edited is not None and now - edited < RECENT_SECONDS:
            score *= BOOST_RECENT
            reasons.append("recently edited")
        out.append(Example(hit, index.rel(hit.path), score, reasons))
    out.sort(key=lambda e: -e.score)
    if out:
        floor = out[0].score * MIN_RELATIVE_SCORE
        out = [e for e in out if e.score >= floor]
    chosen = _drop_overlaps(out)[:limit]
    # Which query words a chunk holds, for its reasons: only for the chunks kept (a
    # tokenisation of each of the ~80 candidates' text was a tenth of a gather).
    wanted = set(desc_terms) | set(code_terms)
    for ex in chosen:
        matched = [t for t in dict.fromkeys(tokenize(ex.hit.text)) if t in wanted][:6]
        ex.reasons.insert(0, f"BM25 match on {', '.join(matched) or 'stemmed terms'}")
    return chosen


def _drop_overlaps(examples: list[Example]) -> list[Example]:
    """A class header and its method may both match; keep the better one only once."""
    kept: list[Example] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    for ex in examples:
        h = ex.hit
        ranges = spans.setdefault(h.path, [])
        if any(h.start <= b and h.end >= a for a, b in ranges):
            continue
        ranges.append((h.start, h.end))
        kept.append(ex)
    return kept
