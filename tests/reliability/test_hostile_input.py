"""Random and malformed JSON-RPC and command arguments: the server answers and keeps serving."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.guards import HANG_GUARD_S
from tests.reliability.rpc import RawServer

T = TypeVar("T")

COMMANDS = ["tta.generate", "tta.refine", "tta.generateTests", "tta.explainContext",
            "tta.listPrompts", "tta.listModels", "tta.stats"]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)  # fmt: skip


def position() -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"line": st.integers(-5, 10**9) | st.text(max_size=3), "character": st.integers(-5, 10**9)}
    )


def command_argument(uri: str) -> st.SearchStrategy[Any]:
    doc = st.sampled_from(
        [{"uri": uri}, {"uri": uri + "#x"}, {"uri": "file:///etc/passwd"}, {"uri": "../../etc/passwd"},
         {"uri": ""}, {}, {"uri": 5}]
    )  # fmt: skip
    return st.fixed_dictionaries(
        {"textDocument": doc},
        optional={
            "position": position() | json_values,
            "range": st.fixed_dictionaries({"start": position(), "end": position()}) | json_values,
            "description": st.text(max_size=200) | json_values,
            "instruction": st.text(max_size=200) | json_values,
            "template": st.text(max_size=20) | json_values,
            "variables": json_values,
            "model": st.text(max_size=20) | json_values,
        },
    )


class LoopThread:
    """An event loop in a thread, so synchronous hypothesis tests can drive async code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = HANG_GUARD_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(HANG_GUARD_S)


@dataclass
class Served:
    runner: LoopThread
    server: RawServer
    uri: str
    target: Path
    counts: dict[str, int]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("fuzz")
    ws = tmp / "ws"
    ws.mkdir()
    target = ws / "a.py"
    target.write_text("x = 1\n")
    runner = LoopThread()
    server = runner.run(RawServer.start(tmp))
    # A provider that does not exist: anything that gets as far as a model fails fast.
    options = {
        "providers": {"p": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        "models": [{"id": "m", "provider": "p"}],
        "gates": {"enabled": []},
        "routing": {"retry": {"max_retries": 0}},
        "context": {"index": False},
    }
    runner.run(server.initialize(ws, options))
    uri = target.as_uri()
    runner.loop.call_soon_threadsafe(
        server.notify,
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": "x = 1\n"}},
    )
    served = Served(
        runner, server, uri, target, {"raw": 0, "command": 0, "request": 0, "notification": 0}
    )
    yield served
    code = runner.run(server.close())
    runner.stop()
    assert code == 0, server.stderr.decode(errors="replace")[-2000:]
    assert served.counts["command"] > 20, served.counts


async def _one(s: Served, kind: str, command: str, argument: Any, extra: list[Any], junk: bytes,
               method: str, params: Any) -> None:  # fmt: skip
    server = s.server
    s.counts[kind] += 1
    if kind == "raw":
        server.send_bytes(junk)
    elif kind == "command":
        answer = await server.request(
            "workspace/executeCommand", {"command": command, "arguments": [argument, *extra]}
        )
        assert "result" in answer or "error" in answer
    elif kind == "request":
        server.send(
            {
                "jsonrpc": "2.0",
                "id": f"fz-{s.counts['request']}",
                "method": method,
                "params": params,
            }
        )
    else:
        server.notify(method, params)
    alive = await server.request(
        "workspace/executeCommand", {"command": "tta.listModels", "arguments": [{}]}
    )
    assert alive.get("result") and alive["result"][0]["id"] == "m", alive


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["raw", "command", "command", "request", "notification"]),
    command=st.sampled_from(COMMANDS),
    argument=st.data(),
    extra=st.lists(json_values, max_size=2),
    junk=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode()),
    method=st.sampled_from(["textDocument/codeAction", "textDocument/codeLens", "workspace/executeCommand",
                            "textDocument/didChange", "no/such/method", "$/cancelRequest", "initialize",
                            "textDocument/didClose"]),
    params=json_values,
)  # fmt: skip
def test_fuzzed_messages_never_take_the_server_down(
    served: Served, kind: str, command: str, argument: st.DataObject, extra: list[Any],
    junk: bytes, method: str, params: Any,
) -> None:  # fmt: skip
    arg = argument.draw(command_argument(served.uri))
    if method == "textDocument/didClose":
        method = "textDocument/didSave"  # keep the document open for the commands
    served.runner.run(_one(served, kind, command, arg, extra, junk, method, params))
    assert served.server.proc.returncode is None
    assert served.target.read_text() == "x = 1\n"  # nothing on disk was written
