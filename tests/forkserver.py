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

The forking, the hand-over of the pipes and the signals are the product's own warm
process (``tta_codegen.cli.warm``, ``tta-codegen daemon``); this file adds what only tests
need: ``serve`` and the LSP features imported too, test helper modules run by name, and an
end when the test process ends.

    python tests/forkserver.py serve SOCKET      # the fork server (started by the harness)
    python -S tests/forkserver.py connect SOCKET ARGS...  # a server's command line

``connect`` is what a test's client starts: it hands its stdin, stdout and stderr, its
environment and its folder to the fork server over a Unix socket, forwards SIGTERM,
SIGINT, SIGHUP (and SIGABRT, a hang guard's request for stacks) to the fork, and exits
with its exit code. Tests that look at the process itself (its memory, signals sent to it,
its start-up, its interpreter's own ``PYTHON*`` settings) use the real command.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

# `connect` runs under `python -S` (no site-packages: a fast start), so the package is
# found from this checkout.
sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "server")
)

from tta_codegen.cli import warm  # (after the path above)


def connect(sock_path: str, argv: list[str]) -> int:
    """Run ``tta-codegen ARGV`` (or ``python -m MODULE ARGV`` after ``--module MODULE``) in a
    fork, with this process's pipes, environment and folder; its exit code is ours."""
    module = "tta_codegen"
    if argv[:1] == ["--module"]:
        module, argv = argv[1], argv[2:]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(sock_path)
    code = warm.forward(conn, {"op": "run", "module": module, "argv": argv})
    if code is None:
        sys.exit("forkserver: the fork server went away before it forked")
    return code


# Imported before any fork: what `tta-codegen serve` imports at start and later, at its
# first requests (the LSP features, the gates, and what the first HTTP request imports:
# models/http.py's FIRST_REQUEST_IMPORTS). Each fork imported the later ones again: 50 s
# of CPU in a suite run (py-spy, 3 December 2026).
PRELOAD = (
    "tta_codegen.lsp.fastinit",
    "tta_codegen.lsp.server",
    "tta_codegen.lsp.stdio",
    "tta_codegen.lsp.features",
    "tta_codegen.gates.runner",
)


def serve(sock_path: str) -> None:
    # Everything `tta-codegen serve` and the other subcommands import, imported once here.
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    warm.preload()  # the subcommands and the first request's imports; freezes the heap
    _warm_converter()

    warm.check_forkable()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(16)
    print("ready", flush=True)
    warm.serve(listener, _run, parent=os.getppid())


def _run(request: dict[str, Any]) -> None:
    if request.get("module", "tta_codegen") == "tta_codegen":
        from tta_codegen.cli import run_here

        sys.argv = ["tta-codegen", *request["argv"]]
        run_here()
    else:  # a test's helper script, as `python -m MODULE` runs it
        import runpy

        sys.argv = [request["module"], *request["argv"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)


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


if __name__ == "__main__":
    if sys.argv[1] == "connect":
        sys.exit(connect(sys.argv[2], sys.argv[3:]))
    elif sys.argv[1] == "serve":
        # The repository's root, for test helper modules (`--module tests.…`).
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        serve(sys.argv[2])
    else:
        sys.exit(f"unknown mode {sys.argv[1]!r}")
