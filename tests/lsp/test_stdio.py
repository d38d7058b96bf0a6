"""The server's stdout on the event loop (lsp/stdio.py): a client slow to read never stops
the loop, and every byte still arrives, in order, including what is left at exit."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from tests.guards import HANG_GUARD_S
from tests.lsp.harness import serve_command, server_env
from tta_codegen.lsp.stdio import LoopStdout


def _read_all(fd: int) -> bytes:
    out = bytearray()
    while chunk := os.read(fd, 65536):
        out += chunk
    return bytes(out)


async def test_writes_beyond_the_pipe_buffer_return_and_arrive_in_order() -> None:
    read_fd, write_fd = os.pipe()
    loop = asyncio.get_running_loop()
    stdout = LoopStdout(os.fdopen(write_fd, "wb", buffering=0), loop)
    messages = [(b"%06d:" % i) + bytes([65 + i % 26]) * 4000 for i in range(200)]  # ~800 KB
    # Nobody reads yet: a blocking write would stop here once the pipe (64 KiB) is full.
    for message in messages:
        assert stdout.write(message) == len(message)
    ticked = asyncio.Event()
    loop.call_soon(ticked.set)
    await asyncio.wait_for(ticked.wait(), HANG_GUARD_S)  # hang guard: the loop still runs
    reader = asyncio.ensure_future(asyncio.to_thread(_read_all, read_fd))
    await asyncio.sleep(0.05)  # the reader drains some; the loop sends more when writable
    stdout.write(b"last")
    stdout.close()  # sends what is left, then closes: the reader sees the end
    data = await asyncio.wait_for(reader, HANG_GUARD_S)  # hang guard only
    os.close(read_fd)
    assert data == b"".join(messages) + b"last"
    assert stdout.closed


async def test_a_write_from_another_thread_goes_through_the_loop() -> None:
    read_fd, write_fd = os.pipe()
    loop = asyncio.get_running_loop()
    stdout = LoopStdout(os.fdopen(write_fd, "wb", buffering=0), loop)
    stdout.write(b"a")
    await asyncio.to_thread(stdout.write, b"b")
    await asyncio.sleep(0)  # the handed-over write runs on the loop
    stdout.write(b"c")
    stdout.close()
    assert await asyncio.to_thread(_read_all, read_fd) == b"abc"
    os.close(read_fd)


def _frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def test_a_file_on_stdin_is_served_as_pygls_does(tmp_path: Path) -> None:
    """stdin and stdout that are files, not pipes, cannot be watched by the loop: the
    server falls back to pygls' own stdio loop and still answers."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"processId": None, "rootUri": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]  # fmt: skip
    (tmp_path / "in").write_bytes(b"".join(_frame(m) for m in messages))
    env = server_env(home=tmp_path)
    with open(tmp_path / "in", "rb") as stdin, open(tmp_path / "out", "wb") as stdout:
        proc = await asyncio.create_subprocess_exec(
            *serve_command(), stdin=stdin, stdout=stdout, stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )  # fmt: skip
        code = await asyncio.wait_for(proc.wait(), HANG_GUARD_S)  # hang guard only
    out = (tmp_path / "out").read_bytes()
    answers = [
        json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in out.split(b"Content-Length")[1:]
    ]
    ids = [a.get("id") for a in answers if "method" not in a]
    assert code == 0
    assert ids == [1, 2] and "capabilities" in answers[0]["result"]


async def test_answers_written_before_the_end_of_stdin_still_arrive(tmp_path: Path) -> None:
    """The client sends its last requests and closes stdin: what the server answered
    before it saw the end goes out before the process ends (nothing left queued)."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"processId": None, "rootUri": None, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *serve_command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env=server_env(home=tmp_path),
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"".join(_frame(m) for m in messages))
    await proc.stdin.drain()
    proc.stdin.close()
    out = await asyncio.wait_for(proc.stdout.read(), HANG_GUARD_S)  # hang guard only
    await asyncio.wait_for(proc.wait(), HANG_GUARD_S)  # hang guard only
    answers = [json.loads(p.split(b"\r\n\r\n", 1)[1]) for p in out.split(b"Content-Length")[1:]]
    assert [a.get("id") for a in answers if "method" not in a] == [1, 2]
