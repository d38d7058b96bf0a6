"""The ``tta-codegen`` click group every subcommand module registers on.

The group is lazy: it knows each subcommand's name, module and one-line help from
:data:`SUBCOMMANDS`, and imports a subcommand's module (which pulls in the engine, httpx,
pydantic config models, the model runtimes) only when that subcommand runs. So
``tta-codegen --help`` and ``tta-codegen --version`` cost a Python start and click, not
the model stack. A test checks that the table and the modules' own registrations agree.

Errors are turned into a one-line message and an exit code in the subcommands, with
these codes and nowhere else: 0 success, 1 generation failed, 2 usage or config error.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from tta_codegen import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# name -> (module under tta_codegen.cli, one-line help shown by `tta-codegen --help`).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("doctor", "Check the configuration, keys, providers and model files."),
    "generate": ("generate", "Generate code from a description (stdout, --out or --file)."),
    "models": ("models", "List the configured models with price and health."),
    "prompts": ("prompts", "The prompt template library (list, show, render)."),
    "serve": ("serve", "Run the language server (LSP over stdio, or TCP with --tcp)."),
    "stats": ("stats", "Requests, tokens, cost and latency per model from the ledger."),
}


def setup_logging(level: str) -> None:
    # stdout carries the LSP stream in stdio mode (and results in the CLI): logs go to stderr.
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (see the module docstring)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*SUBCOMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            # The module registers its command on `app` as it is imported.
            importlib.import_module(f"tta_codegen.cli.{SUBCOMMANDS[cmd_name][0]}")
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit=70)))
            else:
                rows.append((name, SUBCOMMANDS[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="tta-codegen")
def app() -> None:
    """AI code generation for editors and CI."""


def load_subcommands() -> None:
    """Import every subcommand module (tests use it to check :data:`SUBCOMMANDS`)."""
    for module, _ in SUBCOMMANDS.values():
        importlib.import_module(f"tta_codegen.cli.{module}")
