"""Settings of the context stage (``[context]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ContextConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Token budget for everything the context stage adds to a prompt.
    max_tokens: int = Field(default=4000, ge=0, le=1_000_000)
    # Extra rule files (relative to the workspace root) to include in every prompt.
    rules: list[str] = Field(default_factory=list)
    # Build and use the workspace index (retrieved examples and the repo map). With it off,
    # prompts still carry the project rules and the text around the cursor.
    index: bool = True
    # Extra gitignore-style patterns to keep out of the index (on top of .gitignore and
    # .tta-codegenignore), e.g. ["generated/", "*.min.js"].
    ignore: list[str] = Field(default_factory=list)
    # Files larger than this are not indexed (generated code, data dumps).
    max_file_bytes: int = Field(default=1_000_000, ge=1_000, le=50_000_000)
    # Stop walking after this many files, so a huge folder opened by mistake stays cheap.
    max_files: int = Field(default=50_000, ge=1, le=1_000_000)
    # At most this many retrieved code examples per prompt.
    examples: int = Field(default=6, ge=0, le=50)
    # Include the repo map (outline of the files most related to the current one).
    repo_map: bool = True
    # Token estimate: characters per token (about 4 for code with OpenAI-style tokenizers).
    chars_per_token: float = Field(default=4.0, gt=0.5, le=16.0)
    # Processes used to parse files for a full index (0: parse in a thread of the server).
    index_workers: int = Field(default=2, ge=0, le=32)
