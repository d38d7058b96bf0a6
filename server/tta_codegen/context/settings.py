"""Settings of the context stage (``[context]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ContextConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Token budget for everything the context stage adds to a prompt.
    max_tokens: int = Field(default=4000, ge=0, le=1_000_000)
    # Extra rule files (relative to the workspace root) to include in every prompt.
    rules: list[str] = Field(default_factory=list)
