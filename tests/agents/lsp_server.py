"""tta-codegen's real language server plus one test-only command.

``tta.test.agentGenerate`` takes ``tta.generate``'s argument and does what ``tta.generate``
does once the agent dispatch is wired into ``lsp/generation.py::run_generate``: the agent
when it wants and can take the task, the direct path otherwise. It lets the LSP tests run
the agent path end to end before (and independently of) that wiring.

    python -m tests.agents.lsp_server
"""

from __future__ import annotations

from typing import Any

from tta_codegen.cli.app import setup_logging
from tta_codegen.lsp.agent import dispatch_agent
from tta_codegen.lsp.features.generate import run_generate
from tta_codegen.lsp.params import GenerateParams, parse_params
from tta_codegen.lsp.server import TtaLanguageServer, create_server

COMMAND = "tta.test.agentGenerate"
server = create_server()


@server.command(COMMAND)
async def cmd_agent_generate(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(GenerateParams, args, COMMAND)
    answer = await dispatch_agent(ls, params)
    if answer is None:
        answer = await run_generate(ls, params)
    return answer.wire()


if __name__ == "__main__":
    setup_logging("warning")
    server.start_io()
