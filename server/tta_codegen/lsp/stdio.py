"""pygls' stdio message loop on the event loop's own pipe I/O: no thread hop, no blocking write.

pygls reads stdin through a thread pool, one executor round trip per header line and one
per body (three per message), and writes each message to stdout with a blocking
``write`` + ``flush`` on the event loop. While generations stream, every edit costs an
``applyEdit`` out and its answer and the echoing ``didChange`` in: the round trips hand
the interpreter lock back and forth with whatever other thread is busy, and a client
slow to read fills the pipe and stops the loop in ``write`` (a code action waits behind
it). Here stdin is read by the loop (``connect_read_pipe``) and stdout is written
without blocking, the rest kept and sent when the pipe has room; pygls' own loop
(``pygls.io_.run_async``) parses the messages as before.

Only pipes (and sockets, character devices) on POSIX are watched by the loop: for a
regular file on stdin or stdout, or another OS, the server starts as pygls does
(:func:`serve`'s fallback).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from pygls.io_ import run_async

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from tta_codegen.lsp.fastinit import InitAnswer, Replay

log = logging.getLogger(__name__)

READ_LIMIT = 1 << 20  # header lines longer than this are skipped (see PipeReader.readline)


def _watchable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class PipeReader:
    """What ``run_async`` reads through (``readline``, ``readexactly``), on a StreamReader."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except ValueError:
            # A line past READ_LIMIT (not a header; pygls skips it): it was consumed.
            return b"?\r\n"

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""  # end of input: run_async stops, as after pygls' short read


class LoopStdout:
    """stdout written from the event loop without ever blocking it.

    Messages written during one turn of the loop go out together, in one ``write`` at its
    end (each write wakes the client, which on a busy machine takes the core from the
    server: eight streams' edits, their progress and a code action's answer in one turn
    are one wake-up, not a dozen). What the pipe cannot take is kept and sent when the
    loop sees it writable, in order. ``close`` sends what is left, blocking (the server is
    exiting: the client must still get the last answers). Writes from another thread are
    handed to the loop.
    """

    def __init__(self, stdout: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._stdout = stdout  # the file object, closed (once all is sent) by close()
        self._fd = fd = stdout.fileno()
        self._loop = loop
        self._thread = threading.get_ident()
        self._pending = bytearray()
        self._scheduled = False  # a send at the end of this turn, or when writable
        self._closed = False
        os.set_blocking(fd, False)

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, data: bytes) -> int:
        if threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self.write, bytes(data))
            return len(data)
        if self._closed:
            raise ValueError("write to closed stdout")
        self._pending += data
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._send_pending)
        return len(data)

    def _send_pending(self) -> None:
        if self._closed or not self._pending:
            self._scheduled = False
            return
        try:
            sent = os.write(self._fd, self._pending)
        except BlockingIOError:
            sent = 0
        except OSError as exc:  # the client went away: nothing can reach it any more
            log.warning("stdout closed by the client: %s", exc)
            self._pending.clear()
            self._loop.remove_writer(self._fd)
            self._closed, self._scheduled = True, False
            return
        del self._pending[:sent]
        if self._pending:
            self._loop.add_writer(self._fd, self._send_pending)  # the pipe is full: wait
        else:
            self._loop.remove_writer(self._fd)
            self._scheduled = False

    def flush(self) -> None:
        """Nothing to do: every write is already on its way (see :meth:`close`)."""

    def close(self) -> None:
        if self._closed:
            return
        self.send_rest()
        self._closed = True
        try:
            self._stdout.close()
        except OSError as exc:
            log.warning("could not close stdout: %s", exc)

    def send_rest(self) -> None:
        """Send what is still kept, blocking: the loop is about to stop (``exit``, or the
        end of stdin), and after it nothing would."""
        if self._closed:
            return
        self._loop.remove_writer(self._fd)
        self._scheduled = True  # a send still queued on the loop finds nothing to do
        os.set_blocking(self._fd, True)
        view = memoryview(bytes(self._pending))
        self._pending.clear()
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            log.warning("could not send the last messages: %s", exc)
        finally:
            os.set_blocking(self._fd, False)
            self._scheduled = False


def serve(server: LanguageServer, stdin: Replay, stdout: InitAnswer) -> None:
    """Run ``server`` over stdio: the event loop's pipes when both ends are pipes, else
    pygls' own ``start_io`` (a file on stdin, as some tests and tools give)."""
    in_fd, out_fd = stdin.fileno(), stdout.fileno()
    if (
        os.name != "posix"
        or in_fd is None
        or out_fd is None
        or not (_watchable(in_fd) and _watchable(out_fd))
    ):
        server.start_io(stdin, stdout)  # type: ignore[arg-type]
        return
    stop = threading.Event()
    _run(server, stop, _main(server, stdin, stdout, in_fd, stop))


async def _main(
    server: LanguageServer, stdin: Replay, stdout: InitAnswer, in_fd: int, stop: threading.Event
) -> None:
    from pygls.io_ import StdoutWriter

    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=READ_LIMIT, loop=loop)
    stream.feed_data(stdin.take_prefix())  # what fastinit read before the server started
    pipe = os.fdopen(in_fd, "rb", buffering=0, closefd=False)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream, loop=loop), pipe)
    writer = stdout.target = LoopStdout(stdout.target, loop)
    server.protocol.set_writer(StdoutWriter(stdout))  # type: ignore[arg-type]
    try:
        await run_async(
            stop_event=stop,
            reader=PipeReader(stream),
            protocol=server.protocol,
            logger=logging.getLogger("pygls.server"),  # as start_io: its filters apply
            error_handler=server.report_server_error,
        )
    finally:
        writer.send_rest()  # the end of stdin: what was written still goes out


def _run(server: LanguageServer, stop: threading.Event, main: Coroutine[Any, Any, None]) -> None:
    """pygls' ``_start_io_async``, with our reader and writer."""
    server._stop_event = stop
    try:
        asyncio.run(main)
    except BrokenPipeError:
        log.error("Connection to the client is lost! Shutting down the server.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]
