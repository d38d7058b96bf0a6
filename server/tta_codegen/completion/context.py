"""Cheap context for a completion: one index search on the identifiers near the cursor.

A completion runs on every pause in typing, so it never does the full context gather
(repo map, references, rules): one BM25 search over what is already indexed, run in a
worker thread and abandoned if it is slow, gives a few related definitions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from tta_codegen.context.store import Hit
from tta_codegen.context.tokens import query_terms

log = logging.getLogger(__name__)

SEARCH_TIMEOUT_S = 0.05


class Searchable(Protocol):
    def search(self, terms: list[str], limit: int) -> list[Hit]: ...


async def workspace_snippets(
    index: Searchable | None,
    code_near_cursor: str,
    current_path: str | None,
    *,
    limit: int,
    max_lines: int,
) -> list[str]:
    """Up to ``limit`` snippets (``max_lines`` each) from other files; [] if none or slow."""
    if index is None or limit <= 0:
        return []
    terms = query_terms(code_near_cursor, limit=24)
    if not terms:
        return []
    try:
        hits = await asyncio.wait_for(
            asyncio.to_thread(index.search, terms, limit * 3), SEARCH_TIMEOUT_S
        )
    except TimeoutError:
        return []
    except Exception as exc:  # an index being rebuilt must not fail a keystroke
        log.debug("completion context search failed: %s", exc)
        return []
    out: list[str] = []
    for hit in hits:
        if current_path and hit.path.endswith(current_path.lstrip("/")):
            continue
        if current_path and current_path.endswith(hit.path):
            continue
        lines = hit.text.splitlines()[:max_lines]
        out.append(f"{hit.path}\n" + "\n".join(lines))
        if len(out) >= limit:
            break
    return out
