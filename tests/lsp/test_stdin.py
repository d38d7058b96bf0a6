"""stdin read a message per thread hop (lsp/stdin.py): pygls' loop sees exactly what it sees
with its own reader, for well-formed, odd and cut-off input."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pygls.io_ import StdinAsyncReader, run_async

from tta_codegen.lsp.stdin import MessageReader


def _frame(body: dict[str, Any], *extra: bytes) -> bytes:
    raw = json.dumps(body).encode()
    return b"".join([*extra, b"Content-Length: %d\r\n" % len(raw), b"\r\n", raw])


class _Recorder:
    """The part of a pygls protocol that run_async calls."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def structure_message(self, data: dict[str, Any]) -> Any:
        return data

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)


async def _messages(reader_type: type, data: bytes) -> list[Any]:
    protocol = _Recorder()
    with ThreadPoolExecutor(1) as pool:
        reader = reader_type(io.BufferedReader(io.BytesIO(data)), pool)  # type: ignore[arg-type]
        await run_async(threading.Event(), reader, protocol)  # type: ignore[arg-type]
    return protocol.messages


INPUTS = {
    "two messages": _frame({"id": 1, "method": "a"}) + _frame({"method": "b"}),
    "another header first": _frame(
        {"method": "c"}, b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
    ),
    "a blank line without a length, then a message": b"\r\n" + _frame({"method": "d"}),
    "stray lines before a message": b"hello\r\n\r\n" + _frame({"method": "e"}),
    "cut off in the body": _frame({"method": "f"}) + _frame({"method": "g"})[:-3],
    "cut off in the headers": _frame({"method": "h"}) + b"Content-Len",
    "nothing": b"",
}


@pytest.mark.parametrize("name", list(INPUTS))
async def test_the_loop_gets_what_pygls_reader_gives_it(name: str) -> None:
    data = INPUTS[name]
    expected = await _messages(StdinAsyncReader, data)
    assert await _messages(MessageReader, data) == expected
    if name == "two messages":
        assert [m["method"] for m in expected] == ["a", "b"]
