"""Issue 19, item 19: a 23 MB document, three generations, a full-sync client.

The server once spent ~15 s of CPU per ``tta.generate`` on such a document (it parsed the
whole text to look for a stub at the cursor, and its gates compiled it), other requests
waited behind that, memory grew to 2 GB and 600 MB stayed after ``didClose``. Here a
client that re-sends the whole document after every applied edit generates three times,
and the server's own memory figures (``/proc/<pid>/status``) must stay within a small
multiple of the document plus a constant, and fall back once the document is closed.
A ``tta.listPrompts`` and a ``textDocument/codeAction`` sent while each generation is still
streaming (the fake model holds its stream open) must be answered before that generation's
answer.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S, until
from tests.reliability.rpc import RawServer

MB = 1 << 20
LINE = "value_{0:07d} = compute({0}, 'some padding to make an ordinary line of code')\n"
CODE = "def adder(a, b):\n    return a + b\n"


def memory(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in bytes."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


async def run(server: RawServer, command: str, argument: dict[str, Any]) -> Any:
    answer = await server.request(
        "workspace/executeCommand", {"command": command, "arguments": [argument]}
    )
    assert "result" in answer, answer
    return answer["result"]


async def generate_while_listing(
    server: RawServer, fake: FakeProvider, uri: str, line: int, task: str, hold: asyncio.Event
) -> dict[str, Any]:
    """Generate at ``line``; while the model holds its stream open, list the prompts."""
    asked = len(fake.requests)
    generation = asyncio.ensure_future(
        run(server, "tta.generate", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": 0},
            "description": f"{task}: an adder",
        })
    )  # fmt: skip
    await until(lambda: len(fake.requests) > asked or generation.done(), "the model was asked")
    assert not generation.done(), generation.result()
    prompts = await run(server, "tta.listPrompts", {})
    assert prompts and all("id" in p for p in prompts), prompts
    if line >= 3:
        # A quick fix for a diagnostic a few lines above: its range is the statement there.
        at = {"line": line - 3, "character": 0}
        diagnostic = {"range": {"start": at, "end": at}, "message": "boom", "source": "lint"}
        actions = await server.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": {"start": at, "end": at},
            "context": {"diagnostics": [diagnostic]},
        })  # fmt: skip
        assert "result" in actions, actions
        fixes = [a for a in actions["result"] or [] if a.get("kind") == "quickfix"]
        assert fixes, actions
        fixed = fixes[0]["command"]["arguments"][0]["range"]
        assert fixed == {"start": at, "end": {"line": at["line"] + 1, "character": 0}}
    # Both answered while the generation was still running: the document's size did not
    # make the server's only thread busy for the whole generation.
    assert not generation.done()
    hold.set()
    answer: dict[str, Any] = await asyncio.wait_for(generation, HANG_GUARD_S)
    return answer


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/<pid>/status")
async def test_large_document_full_sync_three_generations_bounded_memory(
    tmp_path: Path, fake: FakeProvider
) -> None:
    holds = [asyncio.Event() for _ in range(4)]
    for i, hold in enumerate(holds):
        # The fence stays open until the test releases the stream: a closed fence would let
        # the server stop reading, and the generation end, before the test's requests.
        fake.add(Reply(chunks=["```python\n", CODE], hold=hold), match=f"task-{i}:")
    ws = tmp_path / "ws"
    ws.mkdir()
    server = await RawServer.start(tmp_path, log_level="warning", process=True)
    server.full_sync = True
    try:
        await server.initialize(ws, {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
            "models": [{"id": "m", "provider": "fake"}], "routing": {"default": "m"},
            "review": {"mode": "auto"}, "gates": {"enabled": ["syntax", "definition"]},
        })  # fmt: skip
        pid = server.proc.pid
        # Warm up on a small document (imports, the ledger, the prompt library), so the
        # baseline below is the server at work, not the server before its first request.
        small = (ws / "small.py").as_uri()
        server.open(small, "x = 1\n")
        warm = await generate_while_listing(server, fake, small, 1, "task-3", holds[3])
        assert warm["status"] == "completed", warm
        server.notify("textDocument/didClose", {"textDocument": {"uri": small}})
        await run(server, "tta.listPrompts", {})
        base = memory(pid)

        lines = 23 * MB // len(LINE.format(0))
        text = "".join(LINE.format(i) for i in range(lines))
        size = len(text)  # ASCII: characters are bytes
        uri = (ws / "big.py").as_uri()
        server.open(uri, text)
        del text
        for i in range(3):
            line = lines // 2 + i * 1000
            answer = await generate_while_listing(server, fake, uri, line, f"task-{i}", holds[i])
            assert answer["status"] == "completed", answer
            # Too long to judge whole: each gate says so instead of compiling 23 MB.
            assert answer["gates"] and all("skipped" in g["message"] for g in answer["gates"])
            now = memory(pid)
            # The document, its line index and the echo being read: a few copies at most
            # (it was 40 copies, ~1 GB, before).
            assert now["VmRSS"] - base["VmRSS"] < 4 * size + 48 * MB, (i, now, base, size)
            # The peak while a 23 MB echo is parsed beside the document: bounded too (2 GB).
            assert now["VmHWM"] - base["VmRSS"] < 12 * size + 64 * MB, (i, now, base, size)
        source = server.docs[uri].source
        assert source.count(CODE) == 3 and source.startswith(LINE.format(0))
        del source

        server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        del server.docs[uri]
        await run(server, "tta.listPrompts", {})  # the close has been handled
        # Closed: nothing keeps the text (caches, trackers, outcome watches), and the
        # memory it took went back to the system (600 MB stayed before).
        after = await until(
            lambda: (m := memory(pid))["VmRSS"] - base["VmRSS"] < size // 2 and m,
            "the closed document's memory was released",
        )
        assert after["VmRSS"] - base["VmRSS"] < size // 2
    finally:
        for hold in holds:
            hold.set()
        assert await server.close() == 0, server.stderr.decode(errors="replace")[-2000:]
