"""Settings of the model layer: providers, models, routing, budgets.

Validated at the edge (config files, editor settings); the rest of the layer reads
these typed objects and never parses config itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TaskType = Literal["code_generation", "refinement", "tests"]
TASK_TYPES: tuple[str, ...] = ("code_generation", "refinement", "tests")


def _all_task_types() -> list[TaskType]:
    return ["code_generation", "refinement", "tests"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderConfig(_Strict):
    kind: Literal["openai", "anthropic", "ollama", "llamacpp"] = "openai"
    base_url: str | None = None
    api_key_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # Longest silence allowed between two chunks of a stream before it counts as dead.
    read_timeout_s: float = Field(default=60.0, gt=0)
    model_path: str | None = None  # llamacpp: a GGUF file; None = the shipped default
    n_ctx: int = Field(default=4096, gt=0)  # llamacpp: context window to allocate
    n_threads: int | None = Field(default=None, gt=0)  # llamacpp: None = all cores

    @field_validator("api_key_env")
    @classmethod
    def _env_name_only(cls, v: str | None) -> str | None:
        # People paste the key itself here; refuse it so it never sits in a config file.
        if v is not None and (not v.replace("_", "").isalnum() or v.startswith(("sk-", "sk_"))):
            raise ValueError(
                "must be the NAME of an environment variable (e.g. OPENAI_API_KEY), not a key"
            )
        return v


class ModelConfig(_Strict):
    id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    name: str | None = None  # display name; defaults to id
    context_window: int | None = Field(default=None, gt=0)
    input_cost_per_mtok: float = Field(default=0.0, ge=0)
    output_cost_per_mtok: float = Field(default=0.0, ge=0)
    free: bool = False
    quality: float | dict[str, float] | None = None
    task_types: list[TaskType] = Field(default_factory=lambda: _all_task_types())
    max_tokens: int | None = Field(default=None, gt=0)


class TaskRouting(_Strict):
    model: str | None = None
    fallbacks: list[str] | None = None


class RoutingConfig(_Strict):
    default: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    tasks: dict[TaskType, TaskRouting] = Field(default_factory=dict)


class BudgetConfig(_Strict):
    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)
    per_request_usd: float | None = Field(default=None, ge=0)
