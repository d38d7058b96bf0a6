"""Settings of the quality gates (``[gates]``) and the refinement loop (``[refine]``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GatesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Names of the gates to run on generated code, in order.
    enabled: list[str] = Field(default_factory=lambda: ["syntax"])
    timeout_s: float = Field(default=30.0, gt=0, le=3600)


class RefineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_iterations: int = Field(default=3, ge=1, le=20)
