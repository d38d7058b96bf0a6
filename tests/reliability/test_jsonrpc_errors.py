"""Issue 19, items 18, 20, 21 over real stdio: bad messages get their JSON-RPC error
answer and one log line, echoed input is cut, containment is decided on resolved paths."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest_asyncio

from tests.cli.conftest import fake_config
from tests.fakes.provider import FakeProvider
from tests.guards import until
from tests.reliability.rpc import RawServer


@pytest_asyncio.fixture
async def raw(tmp_path: Path) -> AsyncIterator[RawServer]:
    server = await RawServer.start(tmp_path / "home", log_level="warning")
    ws = tmp_path / "ws"
    ws.mkdir()
    await server.initialize(ws)
    try:
        yield server
    finally:
        await server.close()


async def still_serving(server: RawServer) -> None:
    answer = await server.request(
        "workspace/executeCommand", {"command": "tta.listPrompts", "arguments": [{}]}
    )
    assert "result" in answer, answer


async def wait_for(condition: Callable[[], object], what: str) -> None:
    await until(condition, what, interval=0.05)  # a hang guard only: this takes milliseconds


async def test_invalid_json_gets_a_parse_error_with_a_null_id(raw: RawServer) -> None:
    raw.send_bytes(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", ')
    await wait_for(lambda: raw.unmatched, "the parse error answer")
    (answer,) = raw.unmatched
    assert answer["id"] is None and answer["error"]["code"] == -32700
    await still_serving(raw)
    assert not any("Error in server" in str(n) for n in raw.notifications)


async def test_a_request_without_method_gets_invalid_request(raw: RawServer) -> None:
    answer = await raw.answer_to({"jsonrpc": "2.0", "id": "no-method", "params": {}})
    assert answer["error"]["code"] == -32600
    raw.send({"jsonrpc": "2.0", "method": 5})  # not even an id to answer to
    raw.send_bytes(b"[1, 2]")  # valid JSON, but no JSON-RPC object
    await wait_for(lambda: len(raw.unmatched) == 2, "two id-less Invalid Request answers")
    assert [a["error"]["code"] for a in raw.unmatched] == [-32600, -32600]
    assert all(a["id"] is None for a in raw.unmatched)
    await still_serving(raw)


async def test_invalid_params_are_answered_and_logged_in_one_line(raw: RawServer) -> None:
    before = raw.stderr
    answer = await raw.answer_to(
        {"jsonrpc": "2.0", "id": "bad-params", "method": "textDocument/codeAction",
         "params": {"textDocument": 5}}
    )  # fmt: skip
    assert answer["error"]["code"] == -32602
    answer = await raw.request(
        "workspace/executeCommand", {"command": "tta.accept", "arguments": ["not an object"]}
    )
    assert answer["error"]["code"] == -32602
    await still_serving(raw)
    log = (raw.stderr[len(before) :]).decode()
    assert "Traceback" not in log
    assert len(log.strip().splitlines()) <= 2, log


async def test_echoed_input_is_cut_in_answers_and_logs(raw: RawServer) -> None:
    before = len(raw.stderr)
    huge = "x" * 1_000_000
    for _ in range(5):
        answer = await raw.request(
            "workspace/executeCommand", {"command": "tta.accept", "arguments": [{"id": huge}]}
        )
        message = answer["error"]["message"]
        assert len(message) < 600, len(message)
        assert message.startswith("tta.accept: no pending change with id 'xxx")
        assert "characters cut" in message and "tta.listPending" in message
    await still_serving(raw)
    log = raw.stderr[before:].decode()
    assert len(log) < 5 * 1000, len(log)
    assert "Traceback" not in log


async def test_containment_is_decided_on_resolved_paths(tmp_path: Path, fake: FakeProvider) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    (tmp_path / "outside").mkdir()
    server = await RawServer.start(tmp_path / "home", log_level="warning")
    try:
        # Trusted: the workspace's provider is the fake (an untrusted one would be dropped).
        await server.initialize(ws, {"workspaceTrusted": True})
        for spelling in ("..", "%2e%2e", "%2E%2E"):
            uri = f"{ws.as_uri()}/{spelling}/outside/x.py"
            server.open(uri, "def f():\n    return 1\n")
            answer = await server.request(
                "workspace/executeCommand",
                {"command": "tta.generateTests", "arguments": [{"textDocument": {"uri": uri}}]},
            )
            assert "error" in answer, answer
            assert "contains the document" in answer["error"]["message"]
        assert not (ws / "tests").exists() and not (tmp_path / "outside" / "tests").exists()
        assert not [r for r in fake.requests if r.path.endswith("/chat/completions")]
    finally:
        await server.close()
