"""``tta-codegen serve``: the language server for editors."""

from __future__ import annotations

import click

from tta_codegen.cli.app import app, setup_logging


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
    from tta_codegen.lsp.server import server

    if tcp:
        host, sep, port = tcp.rpartition(":")
        if not sep or not port.isdigit():
            raise click.UsageError("--tcp takes HOST:PORT, e.g. 127.0.0.1:2087")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
