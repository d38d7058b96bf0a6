"""``tta-codegen serve``: the language server for editors."""

from __future__ import annotations

from typing import BinaryIO

import click

from tta_codegen.cli.app import EXIT_FAILED, app, fail, setup_logging


@app.command()
@click.option("--tcp", "tcp", metavar="HOST:PORT", help="Listen on TCP instead of stdio.")
@click.option("--stdio", is_flag=True, help="Speak LSP over stdio (the default).")
@click.option(
    "--log-level",
    default="warning",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    show_default=True,
)
def serve(tcp: str | None, stdio: bool, log_level: str) -> None:
    """Run the language server (LSP over stdio, or TCP with --tcp)."""
    setup_logging(log_level)
    from tta_codegen.lsp.memory import release_large_blocks

    release_large_blocks()  # a closed document's memory goes back to the system
    if tcp:
        from tta_codegen.lsp.server import create_server

        server = create_server()
        host, sep, port = tcp.rpartition(":")
        if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise click.UsageError("--tcp takes HOST:PORT with a port 1-65535, e.g. 127.0.0.1:2087")
        host = host or "127.0.0.1"
        try:
            server.start_tcp(host, int(port))
        except OSError as exc:  # port in use, host not local, no permission for the port
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_FAILED)
    else:
        # initialize is answered (when its answer is known) before the server is imported.
        from tta_codegen.lsp.fastinit import serve_stdio

        def start(stdin: BinaryIO, stdout: BinaryIO) -> None:
            from tta_codegen.lsp.server import create_server
            from tta_codegen.lsp.stdin import start_io

            start_io(create_server(), stdin, stdout)

        serve_stdio(start)
