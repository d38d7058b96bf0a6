"""The ``tta-codegen`` command. Each subcommand lives in its own module in this package
and registers itself on :data:`tta_codegen.cli.app.app`; the group imports a module only
when its subcommand runs (see :mod:`tta_codegen.cli.app`)."""

from __future__ import annotations

from tta_codegen.cli.app import app, exit_now, load_subcommands

__all__ = ["app", "load_subcommands", "main"]


def main() -> None:
    try:
        app(prog_name="tta-codegen")  # also under python -m: messages name the command
    except SystemExit as done:
        exit_now(done)
