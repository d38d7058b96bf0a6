"""stdin read a whole message per thread hop instead of one hop per line.

pygls reads stdin through its thread pool with one executor round trip per header line
and one per body: three per message, each a hand-over of the interpreter lock and a wake
of the loop (~0.14 ms each on 2 busy cores). A keystroke in an editor is two messages
(``didChange``, then the inline completion request), so an answer from the completion
cache waited for six of them, a third of what the server spent on it
(docs/completion.md).

Here the worker thread reads the whole message (its header lines, then its body) with
the same blocking reads pygls makes, in one round trip; pygls' own loop
(``pygls.io_.run_async``) parses what it is given exactly as before. Nothing is read
before the loop asks for the next message, as with pygls: no thread is left blocked on
stdin when the server exits. stdout is untouched (pygls' blocking writes).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import deque
from concurrent.futures import Executor
from typing import TYPE_CHECKING, BinaryIO

from pygls.io_ import StdoutWriter, run_async

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

# The header pygls' run_async looks for (same pattern): the thread must find the body
# exactly where run_async will ask for it.
_CONTENT_LENGTH = re.compile(rb"^Content-Length: (\d+)\r\n$")


def read_message(stdin: BinaryIO) -> list[bytes]:
    """One message as run_async would read it: header lines up to the blank one after a
    ``Content-Length``, then the body. Ends with ``b""`` at end of input."""
    parts: list[bytes] = []
    length = 0
    while True:
        line = stdin.readline()
        parts.append(line)
        if not line:
            return parts
        if not length and (m := _CONTENT_LENGTH.fullmatch(line)):
            length = int(m.group(1))
        if length and not line.strip():
            parts.append(stdin.read(length))  # b"" at end of input: run_async stops
            return parts


class MessageReader:
    """What run_async reads through (``readline``, ``readexactly``): each message is read
    whole in one executor round trip, then handed out part by part."""

    def __init__(self, stdin: BinaryIO, executor: Executor | None) -> None:
        self._stdin = stdin
        self._executor = executor
        self._parts: deque[bytes] = deque()  # of the message being parsed

    async def _next(self) -> bytes:
        if not self._parts:
            loop = asyncio.get_running_loop()
            self._parts.extend(await loop.run_in_executor(self._executor, self._read))
        part = self._parts.popleft()
        if part == b"":
            self._parts.appendleft(part)  # end of input stays the end
        return part

    def _read(self) -> list[bytes]:
        try:
            return read_message(self._stdin)
        except (OSError, ValueError) as exc:  # stdin closed under us: end of input
            log.info("stdin: %s", exc)
            return [b""]

    async def readline(self) -> bytes:
        return await self._next()

    async def readexactly(self, n: int) -> bytes:
        # Already read with the headers (same parsing as run_async): the body it asks for.
        return await self._next()


def start_io(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls' ``start_io`` (its ``_start_io_async``), reading through :class:`MessageReader`."""
    stop = threading.Event()
    server._stop_event = stop
    server.protocol.set_writer(StdoutWriter(stdout))

    async def main() -> None:
        await run_async(
            stop_event=stop,
            reader=MessageReader(stdin, server.thread_pool),
            protocol=server.protocol,
            logger=logging.getLogger("pygls.server"),  # as start_io: its filters apply
            error_handler=server.report_server_error,
        )

    try:
        asyncio.run(main())
    except BrokenPipeError:
        log.error("Connection to the client is lost! Shutting down the server.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]
