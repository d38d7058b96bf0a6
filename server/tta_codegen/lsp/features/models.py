"""``tta.listModels``: the configured models with price and health."""

from __future__ import annotations

import contextlib
from typing import Any

from tta_codegen.lsp.params import EmptyParams
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server


@server.command("tta.listModels")
async def cmd_list_models(ls: TtaLanguageServer, *args: Any) -> list[dict[str, Any]]:
    if args:
        parse_params(EmptyParams, args, "tta.listModels")
    config = ls.loaded.config
    plan_ids: list[str] = []
    with contextlib.suppress(Exception):
        plan_ids = [m.id for m in ls.engine.router.plan("code_generation")]
    return [
        {
            "id": m.id,
            "name": m.name or m.id,
            "provider": m.provider,
            "provider_kind": config.providers[m.provider].kind
            if m.provider in config.providers
            else None,
            "input_cost_per_mtok": m.input_cost_per_mtok,
            "output_cost_per_mtok": m.output_cost_per_mtok,
            "free": m.free,
            "context_window": m.context_window,
            "task_types": m.task_types,
            "default": bool(plan_ids) and plan_ids[0] == m.id,
            "health": "unknown",
        }
        for m in config.models
    ]
