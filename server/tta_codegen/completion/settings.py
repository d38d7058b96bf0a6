"""``[completion]``: inline completion (ghost text as you type).

Validated at the edge with the rest of the config; the completion core reads this typed
object and never parses config itself.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Measured (docs/completion.md): people type 100-250 ms apart; 75 ms lets a burst of fast
# typing (30 ms apart) through as one model call while a pause answers almost at once.
DEFAULT_DEBOUNCE_MS = 75


class CompletionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # A request newer than this for the same document supersedes the waiting one before
    # any model call; 0 sends every request to the model.
    debounce_ms: int = Field(default=DEFAULT_DEBOUNCE_MS, ge=0, le=5000)
    # Budgets for the code around the cursor, cut at line boundaries.
    max_prefix_chars: int = Field(default=4000, ge=0, le=200_000)
    max_suffix_chars: int = Field(default=1500, ge=0, le=200_000)
    max_tokens: int = Field(default=128, gt=0, le=4096)
    temperature: float = Field(default=0.1, ge=0, le=2)
    # Snippets from the workspace index (cheap path: one search, no full gather).
    context_snippets: int = Field(default=2, ge=0, le=10)
    context_snippet_lines: int = Field(default=12, ge=1, le=200)
    # Suggestions kept per document for "typed what it predicted" reuse.
    cache_size: int = Field(default=16, ge=0, le=1000)
