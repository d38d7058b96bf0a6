"""``tta.refine``: stream a rewrite of a range in place."""

from __future__ import annotations

from typing import Any

from tta_codegen.lsp.generation import run_refine
from tta_codegen.lsp.params import RefineParams
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server


@server.command("tta.refine")
async def cmd_refine(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(RefineParams, args, "tta.refine")
    return await run_refine(ls, params)
