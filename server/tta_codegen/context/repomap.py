"""The repo map: an outline of the files that matter most to the current one.

Files are nodes of a reference graph: an edge runs from a file to each workspace file it
imports, and to each file that defines a name it mentions (weighted down when many files
define that name, up for long, specific names), as in Aider's repo map. Ranking is
personalised PageRank, computed by local "push" (Andersen, Chung & Lang) so only the
neighbourhood of the seeds is touched: the current file, the files retrieval found and
the open documents. The map lists each top file's path and its signatures.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from tta_codegen.context.index import MAX_DEFINERS, WorkspaceIndex

ALPHA = 0.15  # teleport probability: how strongly the ranking stays near the seeds
EPSILON = 1e-3
MAX_PUSHES = 800  # bounds the cost on big repos; the seeds' neighbourhood is pushed first
MAX_EDGES = 25  # strongest out-edges kept per file: the tail carries little rank
MAX_OUTLINE_LINES = 30


class ReferenceGraph:
    """Out-edges per file, computed on demand and cached until the index changes."""

    def __init__(self, index: WorkspaceIndex) -> None:
        self.index = index
        self._edges: dict[str, list[tuple[str, float]]] = {}
        self._generation = -1

    def edges(self, path: str) -> list[tuple[str, float]]:
        if self._generation != self.index.generation:
            self._edges.clear()
            self._generation = self.index.generation
        cached = self._edges.get(path)
        if cached is not None:
            return cached
        weights: dict[str, float] = {}
        for target in self.index.resolve_imports(path):
            weights[target] = weights.get(target, 0.0) + 3.0
        rec = self.index.files.get(path)
        if rec is not None:
            definers = self.index.definers
            for name in rec.refs:
                owners = definers.get(name)
                if not owners or len(owners) > MAX_DEFINERS:
                    continue
                # Specific names (parse_config_file) say more than short ones (run, get).
                mul = 1.0 if len(name) >= 8 else 0.5
                if name.startswith("_"):
                    mul *= 0.3
                share = mul / len(owners)
                for owner in owners:
                    if owner != path:
                        weights[owner] = weights.get(owner, 0.0) + share
        strongest = sorted(weights.items(), key=lambda kv: -kv[1])[:MAX_EDGES]
        total = sum(w for _, w in strongest)
        edges = [(t, w / total) for t, w in strongest] if total else []
        self._edges[path] = edges
        return edges


def personalized_pagerank(
    seeds: dict[str, float], edges: Callable[[str], list[tuple[str, float]]]
) -> dict[str, float]:
    """Approximate PPR by local push; cost grows with the seeds' neighbourhood only."""
    total = sum(seeds.values())
    if total <= 0:
        return {}
    residual = {k: v / total for k, v in seeds.items() if v > 0}
    rank: dict[str, float] = {}
    queue = deque(residual)
    pushes = 0
    while queue and pushes < MAX_PUSHES:
        node = queue.popleft()
        mass = residual.get(node, 0.0)
        if mass < EPSILON:
            continue
        residual[node] = 0.0
        pushes += 1
        rank[node] = rank.get(node, 0.0) + ALPHA * mass
        out = edges(node)
        if not out:
            # A dead end: its mass returns to where the walk began.
            rank[node] += (1 - ALPHA) * mass
            continue
        spread = (1 - ALPHA) * mass
        for target, weight in out:
            before = residual.get(target, 0.0)
            after = before + spread * weight
            residual[target] = after
            if before < EPSILON <= after:
                queue.append(target)
    return rank


def render_map(
    index: WorkspaceIndex,
    ranked: list[tuple[str, float]],
    max_chars: int,
    exclude: set[str],
) -> tuple[str, list[str]]:
    """Paths with their signatures, best first, within ``max_chars``."""
    lines: list[str] = []
    used = 0
    shown: list[str] = []
    for path, _score in ranked:
        if path in exclude:
            continue
        rec = index.files.get(path)
        if rec is None or not rec.outline:
            continue
        block = [f"{rec.rel}:"]
        for line_no, sig in rec.outline[:MAX_OUTLINE_LINES]:
            block.append(f"  {line_no}: {sig}")
        if len(rec.outline) > MAX_OUTLINE_LINES:
            block.append(f"  ... ({len(rec.outline) - MAX_OUTLINE_LINES} more)")
        size = sum(len(b) + 1 for b in block)
        if used + size > max_chars:
            # Fit what we can of this file, then stop.
            room = max_chars - used
            partial = []
            for b in block:
                if room - (len(b) + 1) < 0:
                    break
                partial.append(b)
                room -= len(b) + 1
            if len(partial) > 1:
                lines.extend(partial)
                shown.append(rec.rel)
            break
        lines.extend(block)
        used += size
        shown.append(rec.rel)
    return "\n".join(lines), shown


def rank_files(
    graph: ReferenceGraph, seeds: dict[str, float], limit: int = 50
) -> list[tuple[str, float]]:
    with graph.index.lock:
        rank = personalized_pagerank(seeds, graph.edges)
    ordered = sorted(rank.items(), key=lambda kv: -kv[1])
    return [(p, s) for p, s in ordered[:limit] if not math.isnan(s)]
