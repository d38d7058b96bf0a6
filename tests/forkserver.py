"""Language servers for tests, forked from one process that has imported the server once.

Most of a test's CPU was the server's start: ``python -m tta_codegen serve`` imports
lsprotocol, pygls, pydantic and the engine, about a second of CPU, hundreds of times a
run. A fork server (one per test process) imports them once; each test's server is a
fork of it that runs ``serve`` exactly as the command does (the same ``main``, the same
stdio code, the test's own environment and folder), so the session is a real one over
stdio. Only the interpreter's start-up and the imports are skipped.

    python tests/forkserver.py serve SOCKET      # the fork server (started by the harness)
    python -S tests/forkserver.py connect SOCKET ARGS...  # a server's command line

``connect`` is what a test's client starts: it hands its stdin, stdout and stderr, its
environment and its folder to the fork server over a Unix socket, forwards SIGTERM and
SIGINT to the forked server, and exits with its exit code. Tests that look at the server
process itself (its memory, signals sent to it, its start-up) use the real command.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import struct
import sys
from typing import Any

_HEADER = struct.Struct("!I")


def _send(conn: socket.socket, payload: bytes, fds: list[int]) -> None:
    socket.send_fds(conn, [_HEADER.pack(len(payload)) + payload], fds)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        chunk = conn.recv(n - len(chunks))
        if not chunk:
            raise EOFError
        chunks += chunk
    return chunks


# -- the connector: a server's command line ------------------------------------------------


def connect(sock_path: str, argv: list[str]) -> int:
    request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(sock_path)
    _send(conn, request, [0, 1, 2])
    # Our copies of the pipes go: the forked server holds them now, and the client's
    # end-of-file must reach it when the client closes its side.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    (pid,) = struct.unpack("!i", _recv_exact(conn, 4))

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        (code,) = struct.unpack("!i", _recv_exact(conn, 4))
    except EOFError:  # killed before it could say: as a crash
        code = 1
    return code


# -- the fork server ----------------------------------------------------------------------


def serve(sock_path: str) -> None:
    # Everything `tta-codegen serve` imports, imported once here.
    import threading

    import tta_codegen.cli
    import tta_codegen.cli.serve
    import tta_codegen.lsp.fastinit
    import tta_codegen.lsp.server
    import tta_codegen.lsp.stdio  # noqa: F401

    # fork() copies only the calling thread: nothing imported may have started another.
    assert threading.active_count() == 1, threading.enumerate()
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(16)
    listener.settimeout(0.5)
    print("ready", flush=True)
    while True:
        _reap()
        if os.getppid() != parent:  # the test process is gone
            return
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        msg, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
        (size,) = _HEADER.unpack_from(msg)
        body = msg[_HEADER.size :]
        if len(body) < size:
            body += _recv_exact(conn, size - len(body))
        request = json.loads(body)
        pid = os.fork()
        if pid == 0:
            listener.close()
            _child(conn, fds, request)  # never returns
        for fd in fds:
            os.close(fd)
        conn.sendall(struct.pack("!i", pid))
        conn.close()


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(conn: socket.socket, fds: list[int], request: dict[str, Any]) -> None:
    code = 1
    real_exit = os._exit

    def report_and_exit(status: int) -> None:
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to flush
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(struct.pack("!i", status))
        real_exit(status)

    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["tta-codegen", *request["argv"]]
        os._exit = report_and_exit  # the CLI ends with os._exit after flushing
        from tta_codegen.cli import main

        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what the interpreter runs at a normal exit
    report_and_exit(code)


if __name__ == "__main__":
    if sys.argv[1] == "connect":
        sys.exit(connect(sys.argv[2], sys.argv[3:]))
    elif sys.argv[1] == "serve":
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        serve(sys.argv[2])
    else:
        sys.exit(f"unknown mode {sys.argv[1]!r}")
