"""The model list users see (``tta.listModels``, ``tta-codegen models``): price and health.

One shape for both clients. In the server, health comes from the live circuit breakers;
in the CLI (a separate process) from the ledger's recent history.
"""

from __future__ import annotations

from typing import Any

from tta_codegen.models.budget import is_free
from tta_codegen.models.selection import Observed
from tta_codegen.models.settings import ModelConfig, ProviderConfig


def describe_model(
    model: ModelConfig,
    providers: dict[str, ProviderConfig],
    *,
    default: bool,
    health: dict[str, Any],
) -> dict[str, Any]:
    provider = providers.get(model.provider)
    return {
        "id": model.id,
        "name": model.name or model.id,
        "provider": model.provider,
        "provider_kind": provider.kind if provider is not None else None,
        "input_cost_per_mtok": model.input_cost_per_mtok,
        "output_cost_per_mtok": model.output_cost_per_mtok,
        "free": is_free(model),
        "context_window": model.context_window,
        "quality": model.quality,
        "task_types": list(model.task_types),
        "default": default,
        **health,
    }


def health_from_history(observed: Observed | None) -> dict[str, Any]:
    """Health without a live breaker: judged from the ledger's recent requests."""
    if observed is None or not observed.requests:
        return {"health": "unknown", "circuit": None}
    rate = observed.failure_rate
    health = "down" if rate >= 0.9 else "degraded" if rate > 0.25 else "ok"
    return {
        "health": health,
        "circuit": None,
        "recent_requests": observed.requests,
        "recent_failure_rate": round(rate, 3),
    }
