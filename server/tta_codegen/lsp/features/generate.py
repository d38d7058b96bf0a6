"""``tta.generate``: stream generated code into a document at a position."""

from __future__ import annotations

from typing import Any

from tta_codegen.lsp.generation import run_generate
from tta_codegen.lsp.params import GenerateParams
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server


@server.command("tta.generate")
async def cmd_generate(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(GenerateParams, args, "tta.generate")
    return await run_generate(ls, params)
