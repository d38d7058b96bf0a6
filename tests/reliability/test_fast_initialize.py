"""Issue 18: ``initialize`` answered before pygls is imported (``lsp/fastinit.py``), over
real stdio. The early answer must be exactly the one pygls gives for the same params, the
server behind it must still see the client's capabilities, and a first message that is
not an ``initialize`` (bad JSON, a request too early) must be handled as pygls always did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lsprotocol.converters import get_converter
from pytest_lsp import client_capabilities

from tests.guards import until
from tests.reliability.rpc import RawServer

EARLY = b"initialize answered early"


def vscode_capabilities() -> dict[str, Any]:
    caps: dict[str, Any] = get_converter().unstructure(client_capabilities("visual-studio-code"))
    return caps


def init_params(root: Path, capabilities: dict[str, Any]) -> dict[str, Any]:
    return {
        "processId": None,
        "rootUri": root.as_uri(),
        "capabilities": capabilities,
        "initializationOptions": None,
    }


def cached(home: Path) -> list[Path]:
    return sorted((home / "cache" / "tta-codegen" / "initialize").glob("*.json"))


async def session(
    home: Path, ws: Path, capabilities: dict[str, Any]
) -> tuple[dict[str, Any], RawServer]:
    """Start a server, initialize it; the caller finishes the session and closes it."""
    server = await RawServer.start(home)
    answer = await server.request("initialize", init_params(ws, capabilities))
    return answer, server


async def finish(server: RawServer) -> None:
    """initialized, the server's configuration pull (proof it saw the client's
    capabilities), a command, then shutdown and exit with code 0."""
    server.notify("initialized", {})
    await until(
        lambda: any(r["method"] == "workspace/configuration" for r in server.server_requests),
        "the server asking for the client's settings",
    )
    listed = await server.request(
        "workspace/executeCommand", {"command": "tta.listPrompts", "arguments": [{}]}
    )
    assert "result" in listed, listed
    assert await server.close() == 0
    assert server.unmatched == []  # in particular, never a second initialize answer
    assert b"differed" not in server.stderr and b"Traceback" not in server.stderr


async def test_the_early_answer_is_the_servers_own(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    ws.mkdir()
    caps = vscode_capabilities()
    first, server = await session(home, ws, caps)
    await finish(server)
    assert EARLY not in server.stderr  # nothing cached yet: pygls answered
    assert len(cached(home)) == 1  # ...and its answer was kept

    second, server = await session(home, ws, caps)
    await finish(server)
    assert EARLY in server.stderr
    assert second == first
    assert second["result"]["capabilities"]["executeCommandProvider"]["commands"]


async def test_other_client_capabilities_are_not_answered_from_the_cache(
    tmp_path: Path,
) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    ws.mkdir()
    caps = vscode_capabilities()
    plain, server = await session(home, ws, caps)
    await finish(server)
    # The position encoding pygls picks depends on what the client offers.
    caps["general"]["positionEncodings"] = ["utf-8", "utf-16"]
    utf8, server = await session(home, ws, caps)
    await finish(server)
    assert EARLY not in server.stderr
    assert utf8["result"]["capabilities"]["positionEncoding"] == "utf-8"
    assert plain["result"]["capabilities"]["positionEncoding"] == "utf-16"
    assert len(cached(home)) == 2


async def test_a_changed_cache_entry_is_replaced_by_the_servers_answer(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    ws.mkdir()
    caps = vscode_capabilities()
    real, server = await session(home, ws, caps)
    await finish(server)
    (entry,) = cached(home)
    entry.write_text(json.dumps({"capabilities": {}, "serverInfo": {"name": "stale"}}))
    stale, server = await session(home, ws, caps)
    server.notify("initialized", {})
    assert await server.close() == 0
    assert stale["result"]["serverInfo"]["name"] == "stale"  # sent early, as cached
    assert b"differed" in server.stderr and server.unmatched == []
    assert json.loads(entry.read_text()) == real["result"]


async def test_a_malformed_first_message_is_answered_as_before(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    ws.mkdir()
    caps = vscode_capabilities()
    _, server = await session(home, ws, caps)  # warm the cache
    await finish(server)
    server = await RawServer.start(home)
    server.send_bytes(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", ')
    await until(lambda: server.unmatched, "the parse error answer")
    (error,) = server.unmatched
    assert error["id"] is None and error["error"]["code"] == -32700
    server.unmatched.clear()
    answer = await server.request("initialize", init_params(ws, caps))
    assert "result" in answer
    await finish(server)


async def test_a_request_before_initialize_is_handled_by_the_server(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    ws.mkdir()
    caps = vscode_capabilities()
    first, server = await session(home, ws, caps)  # warm the cache
    await finish(server)
    server = await RawServer.start(home)
    early = await server.request(
        "workspace/executeCommand", {"command": "tta.listPrompts", "arguments": [{}]}
    )
    assert "result" in early or "error" in early  # pygls' own answer, whichever it is
    answer = await server.request("initialize", init_params(ws, caps))
    assert answer == {**first, "id": answer["id"]}
    assert EARLY not in server.stderr  # only a first message can be answered early
    await finish(server)
