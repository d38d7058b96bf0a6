"""The agent's state in one line, for ``tta-codegen doctor`` and ``tta.listModels``.

Disabled means no request is made at all: a disabled backend is never contacted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tta_codegen.agents.openhands import OpenHandsBackend
from tta_codegen.agents.routing import HealthCache
from tta_codegen.agents.settings import OpenHandsSettings

State = Literal["disabled", "ok", "down"]


@dataclass(frozen=True)
class AgentStatus:
    state: State
    detail: str
    fix: str = ""

    @property
    def doctor_status(self) -> Literal["ok", "warn", "fail"]:
        """Doctor's mark: off is fine (postponed by design); on but unusable is a failure."""
        return "fail" if self.state == "down" else "ok"


async def agent_status(
    settings: OpenHandsSettings,
    *,
    cache: HealthCache | None = None,
    environ: dict[str, str] | None = None,
) -> AgentStatus:
    if not settings.enabled:
        return AgentStatus(
            "disabled",
            "OpenHands agent: off (postponed, see ADR-001); tasks use the direct model",
        )
    backend = OpenHandsBackend(settings, environ=environ)
    try:
        if cache is not None:
            health = await cache.check(settings.base_url, backend)
        else:
            health = await backend.health()
    finally:
        await backend.aclose()
    if health.ok:
        return AgentStatus("ok", f"OpenHands agent: {health.detail}")
    return AgentStatus(
        "down",
        f"OpenHands agent: {health.detail}",
        "start the OpenHands server, check [agents.openhands] base_url and the key env var, "
        "or set [agents.openhands] enabled = false",
    )


def list_models_entry(settings: OpenHandsSettings, status: AgentStatus) -> dict[str, Any]:
    """The agent as a ``tta.listModels`` row (``kind: "agent"``: not a model id to pick)."""
    return {
        "id": "openhands",
        "name": "OpenHands agent (multi-step tasks)",
        "provider": "openhands",
        "provider_kind": "agent",
        "kind": "agent",
        "base_url": settings.base_url,
        "input_cost_per_mtok": None,
        "output_cost_per_mtok": None,
        "free": False,
        "context_window": None,
        "quality": None,
        "task_types": ["agent"],
        "default": False,
        "health": {"ok": "ok", "down": "down", "disabled": "disabled"}[status.state],
        "detail": status.detail,
        "max_cost_usd": settings.max_cost_usd,
        "time_limit_s": settings.time_limit_s,
    }


__all__ = ["AgentStatus", "agent_status", "list_models_entry"]
