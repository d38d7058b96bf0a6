"""Settings of the prompt library (``[prompts]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PromptsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Extra folders of templates, searched before the built-in library.
    paths: list[str] = Field(default_factory=list)
