"""Settings of the model layer: providers, models, routing, retries, breaker, budgets, safety.

Validated at the edge (config files, editor settings); the rest of the layer reads
these typed objects and never parses config itself.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TaskType = Literal["code_generation", "refinement", "tests", "completion"]
TASK_TYPES: tuple[str, ...] = ("code_generation", "refinement", "tests", "completion")


def _all_task_types() -> list[TaskType]:
    return ["code_generation", "refinement", "tests", "completion"]


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
    # llamacpp: threads to generate and to read the prompt; None = half the CPUs to generate,
    # all of them for the prompt (llama-cpp-python's defaults, models/llamacpp.default_threads)
    n_threads: int | None = Field(default=None, gt=0)

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
    # Declared typical time for a whole reply; observed latency replaces it once measured.
    latency_ms: float | None = Field(default=None, gt=0)
    # Inline completion: ``fim = true`` uses the provider's native fill-in-the-middle
    # (openai: POST {base_url}/completions with prompt + suffix; ollama: /api/generate
    # with suffix); ``fim_template`` ("...{prefix}...{suffix}...") sends a raw completion
    # in the model's own FIM tokens. Neither: a chat prompt asks for the middle only.
    fim: bool = False
    fim_template: str | None = None

    @field_validator("fim_template")
    @classmethod
    def _template_has_slots(cls, v: str | None) -> str | None:
        if v is not None and "{prefix}" not in v:
            raise ValueError(
                "must contain {prefix} (and usually {suffix}), e.g. "
                '"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"'
            )
        return v

    def quality_for(self, task_type: str) -> float | None:
        """Declared quality (0-10) for a task type; a plain number applies to every task."""
        if isinstance(self.quality, dict):
            value = self.quality.get(task_type, self.quality.get("default"))
            return float(value) if value is not None else None
        return float(self.quality) if self.quality is not None else None


class TaskRouting(_Strict):
    model: str | None = None
    fallbacks: list[str] | None = None
    # Hard requirements for automatic selection (used when no model is named for the task).
    max_latency_ms: float | None = Field(default=None, gt=0)
    min_quality_score: float | None = Field(default=None, ge=0, le=10)
    max_cost_usd: float | None = Field(default=None, ge=0)
    # Soft preference: free models rank first among those meeting the requirements.
    prefer_free: bool = False

    @property
    def has_requirements(self) -> bool:
        return (
            self.max_latency_ms is not None
            or self.min_quality_score is not None
            or self.max_cost_usd is not None
            or self.prefer_free
        )


class RetryConfig(_Strict):
    """Retries on the same model, before falling back to the next one."""

    max_retries: int = Field(default=2, ge=0, le=10)
    base_delay_s: float = Field(default=0.5, ge=0, le=60)
    max_delay_s: float = Field(default=8.0, ge=0, le=600)
    # A Retry-After longer than this is not waited for: the next model is tried instead
    # and this one cools down for the time the provider asked for.
    max_retry_after_s: float = Field(default=20.0, ge=0, le=3600)


class BreakerConfig(_Strict):
    """Per-model circuit breaker: skip a model that keeps failing, probe it later."""

    enabled: bool = True
    failure_threshold: int = Field(default=5, ge=1, le=1000)  # consecutive failures
    recovery_timeout_s: float = Field(default=30.0, gt=0, le=86_400)


class RoutingConfig(_Strict):
    default: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    tasks: dict[TaskType, TaskRouting] = Field(default_factory=dict)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)


class BudgetConfig(_Strict):
    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)
    per_request_usd: float | None = Field(default=None, ge=0)


class SafetyConfig(_Strict):
    """``[safety]``: checks on what is sent (secrets) and what comes back (dangerous code)."""

    enabled: bool = False
    # Names of checks to skip (see ``tta_codegen.models.safety``), e.g. ["shell_true"].
    disabled_checks: list[str] = Field(default_factory=list)


class LedgerConfig(_Strict):
    """``[ledger]``: where requests and outcomes are recorded.

    No ``url``: the local SQLite file (the default). A ``postgresql://`` url: the team
    ledger, shared by every machine and CI runner that names it, with the local file as
    the fallback while the database is unreachable. The password is read from the
    environment variable ``password_env`` names, never from the file.
    """

    url: str | None = None
    password_env: str | None = None
    # After a failed connection, how long to stay on the local file before trying again.
    retry_s: float = Field(default=30.0, gt=0, le=3600)
    connect_timeout_s: float = Field(default=3.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// url (leave it out for the local ledger)")
        if v is not None and ":" in v.split("://", 1)[1].split("@", 1)[0] and "@" in v:
            raise ValueError(
                "must not hold the password: name its environment variable in "
                "ledger.password_env instead"
            )
        return v

    @field_validator("password_env")
    @classmethod
    def _env_name_only(cls, v: str | None) -> str | None:
        if v is not None and not v.replace("_", "").isalnum():
            raise ValueError("must be the NAME of an environment variable (e.g. TTA_LEDGER_PW)")
        return v


class OutcomesConfig(_Strict):
    """``[outcomes]``: recording what became of generated code (ratios and counts only)."""

    enabled: bool = True
    # Retention is measured when the accepted region was left alone this long.
    retention_idle_s: float = Field(default=600.0, gt=0, le=86_400)
