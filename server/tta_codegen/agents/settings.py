"""Settings of the agent backend: the ``[agents.openhands]`` table, limits included.

The contract fixes three keys (``enabled``, ``base_url``, ``api_key_env``); the guards
need more (time limit, iterations, loop thresholds, cost cap, auth style). They live
here so the agent package owns its own knobs; ``config.py`` composes this model as
``OpenHandsConfig`` (the ``[agents.openhands]`` table is validated as this model).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OpenHandsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    base_url: str = "http://127.0.0.1:3000"
    # The NAME of the env var holding the key; the key itself never enters config.
    api_key_env: str | None = "OPENHANDS_API_KEY"
    # A self-hosted server checks X-Session-API-Key; OpenHands Cloud takes a Bearer token.
    auth: Literal["session", "bearer"] = "session"
    # Where the agent's sandbox mounts the workspace; its absolute paths start here.
    sandbox_root: str = "/workspace"
    # Wall-clock limit for one task, start to finish.
    time_limit_s: float = Field(default=600.0, gt=0, le=24 * 3600)
    # A hung agent: no new event for this long ends the task.
    idle_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    # Agent actions (steps) one task may take.
    max_iterations: int = Field(default=50, ge=1, le=10_000)
    # Condensation events (condensation / condensation_request) in a row that mean a loop.
    condensation_limit: int = Field(default=3, ge=1, le=1000)
    # The same action with the same arguments this many times in a row means a loop.
    repeat_limit: int = Field(default=4, ge=2, le=1000)
    # Stop when the agent's reported LLM cost passes this (OpenHands V0 takes budgets only
    # as a user-wide setting, so the cap is enforced here from the events' llm_metrics).
    max_cost_usd: float | None = Field(default=None, gt=0)
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    # Per HTTP request; the overall limits above bound the whole task.
    request_timeout_s: float = Field(default=15.0, gt=0, le=300)
    # How long a health check may take before the agent counts as unavailable.
    health_timeout_s: float = Field(default=3.0, gt=0, le=60)


__all__ = ["OpenHandsSettings"]
