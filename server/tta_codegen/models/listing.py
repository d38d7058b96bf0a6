"""The model list users see (``tta.listModels``, ``tta-codegen models``): price and health.

One shape and one meaning for both clients, both read from a router: the default is the
head of its plan for code generation (:meth:`ModelRouter.default_model`), health is
:meth:`ModelRouter.health` (the live circuit breaker; before this process sent anything,
the ledger's recent history). The CLI, a process of its own, sees only the history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tta_codegen.models.budget import is_free
from tta_codegen.models.settings import ModelConfig, ProviderConfig

if TYPE_CHECKING:
    from tta_codegen.models.router import ModelRouter


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


async def model_listing(router: ModelRouter) -> list[dict[str, Any]]:
    """Every configured model (prices completed from the cached catalogs), which one is the
    default and how healthy each is."""
    await router.prepare()  # catalog prices and observed history, read off the loop
    default = router.default_model()
    providers = router.config.providers
    return [
        describe_model(m, providers, default=m.id == default, health=router.health(m.id))
        for m in router.models
    ]
