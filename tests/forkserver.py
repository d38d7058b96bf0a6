"""Language servers and CLI commands for tests, forked from one process that imported them once.

Most of a test's CPU was the server's start: ``python -m tta_codegen serve`` imports
lsprotocol, pygls, pydantic and the engine, about a second of CPU, hundreds of times a
run. A fork server (one per test process) imports them once; each test's server is a
fork of it that runs ``serve`` exactly as the command does (the same ``main``, the same
stdio code, the test's own environment and folder), so the session is a real one over
stdio. Only the interpreter's start-up and the imports are skipped. CLI commands
(``generate``, ``implement``, ...) run the same way: a fork runs the CLI's ``main`` with
the command's arguments, its pipes, environment and folder, and its exit code is the
connector's.

    python tests/forkserver.py serve SOCKET      # the fork server (started by the harness)
    python -S tests/forkserver.py connect SOCKET ARGS...  # a server's command line

``connect`` is what a test's client starts: it hands its stdin, stdout and stderr, its
environment and its folder to the fork server over a Unix socket, forwards SIGTERM and
SIGINT (and SIGABRT, a hang guard's request for stacks) to the fork, and exits with its exit
code. Tests that look at the process itself (its memory, signals sent to it, its start-up,
its interpreter's own ``PYTHON*`` settings) use the real command.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
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
    """Run ``tta-codegen ARGV`` (or ``python -m MODULE ARGV`` after ``--module MODULE``) in a
    fork, with this process's pipes, environment and folder; its exit code is ours."""
    module = "tta_codegen"
    if argv[:1] == ["--module"]:
        module, argv = argv[1], argv[2:]
    request = json.dumps(
        {"module": module, "argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
    ).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(sock_path)
    _send(conn, request, [0, 1, 2])
    # Our copies of the pipes go: the forked server holds them now, and the client's
    # end-of-file must reach it when the client closes its side.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    (pid,) = struct.unpack("!i", _recv_exact(conn, 4))

    forwarded: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        forwarded.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGABRT):
        signal.signal(signum, forward)
    try:
        (code,) = struct.unpack("!i", _recv_exact(conn, 4))
    except EOFError:  # killed before it could say
        if forwarded:  # by the signal we passed on: end the same way, as the process would
            signal.signal(forwarded[-1], signal.SIG_DFL)
            os.kill(os.getpid(), forwarded[-1])
        code = 1  # as a crash
    return code


# -- the fork server ----------------------------------------------------------------------

# Imported before any fork: what `tta-codegen serve` imports at start and later, at its
# first requests (the LSP features, the gates, and what the first HTTP request imports:
# models/http.py's FIRST_REQUEST_IMPORTS). Each fork imported the later ones again: 50 s
# of CPU in a suite run (py-spy, 3 December 2026).
PRELOAD = (
    "tta_codegen.cli",
    "tta_codegen.lsp.fastinit",
    "tta_codegen.lsp.server",
    "tta_codegen.lsp.stdio",
    "tta_codegen.lsp.features",
    "tta_codegen.gates.runner",
)


def serve(sock_path: str) -> None:
    # Everything `tta-codegen serve` and the other subcommands import, imported once here.
    import gc
    import importlib
    import threading

    from tta_codegen.cli.app import load_subcommands
    from tta_codegen.models.http import FIRST_REQUEST_IMPORTS

    for module in (*PRELOAD, *FIRST_REQUEST_IMPORTS):
        importlib.import_module(module)
    load_subcommands()
    _warm_converter()
    gc.freeze()  # what the CLI does after its imports; forks then share these pages

    # fork() copies only the calling thread: nothing imported may have started another.
    assert threading.active_count() == 1, threading.enumerate()
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(16)
    print("ready", flush=True)
    # Each fork's connection to its connector, kept open here too: its end of file means
    # the connector is gone. A real server dies with its process (an editor's SIGKILL),
    # so the fork is killed then; until it is reaped its pid cannot be reused.
    forks: dict[socket.socket, int] = {}
    while True:
        for pid in _reap():  # its connection is no longer needed to find it
            for conn in [c for c, p in forks.items() if p == pid]:
                del forks[conn]
                conn.close()
        if os.getppid() != parent:  # the test process is gone
            return
        ready, _, _ = select.select([listener, *forks], [], [], 0.5)
        for conn in ready:
            if conn is not listener:
                with contextlib.suppress(OSError):
                    if conn.recv(1):
                        continue  # connectors send nothing after the request
                with contextlib.suppress(ProcessLookupError):
                    os.kill(forks.pop(conn), signal.SIGKILL)
                conn.close()
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        msg, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
        (size,) = _HEADER.unpack_from(msg)
        body = msg[_HEADER.size :]
        if len(body) < size:
            body += _recv_exact(conn, size - len(body))
        request = json.loads(body)
        pid = os.fork()
        if pid == 0:
            listener.close()
            for other in forks:
                other.close()
            _child(conn, fds, request)  # never returns
        for fd in fds:
            os.close(fd)
        conn.sendall(struct.pack("!i", pid))
        forks[conn] = pid


# The LSP methods the server handles or sends (lsp/): their message types' cattrs functions
# are compiled once, before any fork.
SERVER_METHODS = (
    "initialize", "initialized", "shutdown", "exit", "$/cancelRequest", "$/progress",
    "$/setTrace", "textDocument/didOpen", "textDocument/didChange", "textDocument/didSave",
    "textDocument/didClose", "textDocument/codeAction", "textDocument/codeLens",
    "textDocument/inlineCompletion", "textDocument/publishDiagnostics",
    "workspace/executeCommand", "workspace/applyEdit", "workspace/configuration",
    "workspace/didChangeConfiguration", "workspace/didChangeWatchedFiles",
    "workspace/codeLens/refresh", "window/workDoneProgress/create",
    "window/workDoneProgress/cancel", "window/showMessage", "window/showMessageRequest",
    "window/logMessage",
)  # fmt: skip


def _warm_converter() -> None:
    """Compile the server's cattrs functions for its message types once, here: each fork
    compiled the ones its test used again, 16 s of CPU in a suite run (py-spy)."""
    from lsprotocol import types

    from tta_codegen.lsp.server import process_converter

    converter = process_converter()
    for method in SERVER_METHODS:
        for cls in types.METHOD_TO_TYPES[method][:3]:  # request, response, params
            if cls is not None:
                converter.get_structure_hook(cls)
                converter.get_unstructure_hook(cls)


def _reap() -> list[int]:
    """The pids of the forks that have exited since the last call (now reaped)."""
    done = []
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append(pid)


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
        if os.environ.get("PYTHONFAULTHANDLER"):  # read at start-up by a real interpreter
            import faulthandler

            faulthandler.enable()
        os.chdir(request["cwd"])
        os._exit = report_and_exit  # the CLI ends with os._exit after flushing
        if request["module"] == "tta_codegen":
            from tta_codegen.cli import main

            sys.argv = ["tta-codegen", *request["argv"]]
            main()
        else:  # a test's helper script, as `python -m MODULE` runs it
            import runpy

            sys.argv = [request["module"], *request["argv"]]
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
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
