"""``tta.generateTests``: tests for the code (or selection), run and refined until they pass."""

from __future__ import annotations

from typing import Any

from tta_codegen.lsp.params import GenerateTestsParams
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server
from tta_codegen.lsp.testgen import run_generate_tests


@server.command("tta.generateTests")
async def cmd_generate_tests(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(GenerateTestsParams, args, "tta.generateTests")
    return await run_generate_tests(ls, params)
