"""``tta.listModels``: the configured models with price and health (from the breakers).

When the agent backend is enabled, a last row (``kind: "agent"``) shows its health; a
disabled agent is not listed and never contacted.
"""

from __future__ import annotations

from typing import Any

from tta_codegen.agents.status import agent_status, list_models_entry
from tta_codegen.lsp.agent import agent_settings, health_cache
from tta_codegen.lsp.params import EmptyParams
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server
from tta_codegen.models.listing import model_listing


@server.command("tta.listModels")
async def cmd_list_models(ls: TtaLanguageServer, *args: Any) -> list[dict[str, Any]]:
    if args:
        parse_params(EmptyParams, args, "tta.listModels")
    rows = await model_listing(ls.engine.router)
    agent = agent_settings(ls)
    if agent.enabled:
        status = await agent_status(agent, cache=health_cache)
        rows.append(list_models_entry(agent, status))
    return rows
