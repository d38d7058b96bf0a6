"""The ``tta-codegen`` click group every subcommand module registers on.

Errors are turned into a one-line message and an exit code in the subcommands, with
these codes and nowhere else: 0 success, 1 generation failed, 2 usage or config error.
"""

from __future__ import annotations

import logging
import sys

import click

from tta_codegen import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def setup_logging(level: str) -> None:
    # stdout carries the LSP stream in stdio mode (and results in the CLI): logs go to stderr.
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="tta-codegen")
def app() -> None:
    """AI code generation for editors and CI."""
