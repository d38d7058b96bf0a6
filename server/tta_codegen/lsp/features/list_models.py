"""``tta.listModels``: the configured models with price and health (from the breakers).

When the agent backend is enabled, a last row (``kind: "agent"``) shows its health; a
disabled agent is not listed and never contacted.
"""

from __future__ import annotations

from typing import Any

from tta_codegen.agents.status import agent_status, list_models_entry
from tta_codegen.lsp.agent import agent_settings, health_cache
from tta_codegen.lsp.params import EmptyParams, parse_params
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.models.listing import model_listing


def register(server: TtaLanguageServer) -> None:
    server.command("tta.listModels")(cmd_list_models)


async def cmd_list_models(ls: TtaLanguageServer, *args: Any) -> list[dict[str, Any]]:
    parse_params(EmptyParams, args, "tta.listModels", optional=True)
    rows = await model_listing(ls.engine.router)
    agent = agent_settings(ls)
    if agent.enabled:
        status = await agent_status(agent, cache=health_cache)
        rows.append(list_models_entry(agent, status))
    return rows
