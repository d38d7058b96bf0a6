"""`exit` while the workspace is still being indexed: the server leaves quietly.

After `exit` pygls closes stdout while the indexing thread still reports progress. Each
report used to fail and be logged with a traceback: megabytes on stderr, which a client
that does not read stderr (pytest-lsp) never drains, so the server blocked on the full
pipe and never exited.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.guards import HANG_GUARD_S
from tests.reliability.rpc import RawServer


async def test_exit_during_indexing_is_quiet_and_prompt(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    for i in range(600):
        pkg = ws / f"pkg{i % 20}"
        pkg.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def f{i}_{j}(x):\n    return x + {j}\n\n\n" for j in range(30))
        (pkg / f"m{i}.py").write_text(body)
    server = await RawServer.start(tmp_path / "home", log_level="warning")
    try:
        answer = await server.request(
            "initialize",
            {"processId": None, "rootUri": ws.as_uri(),
             "capabilities": {"window": {"workDoneProgress": True}}},
        )  # fmt: skip
        assert "result" in answer, answer
        server.notify("initialized", {})
        # Leave as soon as indexing has started (its progress was created), mid-way.
        for _ in range(int(HANG_GUARD_S * 20)):
            if any(r.get("method") == "window/workDoneProgress/create"
                   for r in server.server_requests):  # fmt: skip
                break
            await asyncio.sleep(0.05)
        assert (await server.request("shutdown", None)).get("result", "absent") is None
        server.notify("exit", None)
        # A hang guard: the server exits at once on an idle machine.
        await asyncio.wait_for(server.proc.wait(), HANG_GUARD_S)
    finally:
        code = await server.close()
    assert code == 0
    assert b"Error sending data" not in server.stderr
    assert len(server.stderr) < 20_000, server.stderr[-2000:]
