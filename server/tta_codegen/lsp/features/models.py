"""``tta.listModels``: the configured models with price and health (from the breakers)."""

from __future__ import annotations

import contextlib
from typing import Any

from tta_codegen.lsp.params import EmptyParams
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server
from tta_codegen.models.errors import ModelError
from tta_codegen.models.listing import describe_model


@server.command("tta.listModels")
async def cmd_list_models(ls: TtaLanguageServer, *args: Any) -> list[dict[str, Any]]:
    if args:
        parse_params(EmptyParams, args, "tta.listModels")
    router = ls.engine.router
    await router.prepare()  # catalog prices and observed history, read off the loop
    plan_ids: list[str] = []
    with contextlib.suppress(ModelError):
        plan_ids = [m.id for m in router.plan("code_generation")]
    providers = ls.loaded.config.providers
    return [
        describe_model(
            m,
            providers,
            default=bool(plan_ids) and plan_ids[0] == m.id,
            health=router.health(m.id),
        )
        for m in router.models
    ]
