"""The ``tta-codegen`` click group every subcommand module registers on.

The group is lazy: it knows each subcommand's name, module and one-line help from
:data:`SUBCOMMANDS`, and imports a subcommand's module (which pulls in the engine, httpx,
pydantic config models, the model runtimes) only when that subcommand runs. So
``tta-codegen --help`` and ``tta-codegen --version`` cost a Python start and click, not
the model stack. A test checks that the table and the modules' own registrations agree.

Exit codes, with these values and nowhere else: 0 success (``completed``), 1 generation
failed, 2 usage or config error, 3 ``gates_failed`` or ``truncated``, 130 interrupted.
Every failure is one line on stderr starting with ``tta-codegen:``. Subcommands report
their own failures that way; everything click itself rejects (a bad flag or value, a
missing argument) and Ctrl-C at a prompt go through :meth:`OneLineErrors.main`, the CLI's
single error path, instead of click's multi-line ``Usage: ... Error: ...`` block, so CI
logs get one greppable line per failure.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from tta_codegen import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_NOT_WHOLE = 3  # gates_failed or truncated: delivered on stdout, not written
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C

# name -> (module under tta_codegen.cli, one-line help shown by `tta-codegen --help`).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("doctor", "Check the configuration, keys, providers and model files."),
    "generate": ("generate", "Generate code from a description (stdout, --out or --file)."),
    "implement": ("rewrite", "Write the body of a stub function in --file, in place."),
    "models": ("models", "List the configured models with price and health."),
    "prompts": ("prompts", "The prompt template library (list, show, render)."),
    "refine": ("rewrite", "Rewrite --lines A-B of --file following an instruction."),
    "report": ("report", "Write an offline HTML report of outcomes, cost and latency."),
    "serve": ("serve", "Run the language server (LSP over stdio, or TCP with --tcp)."),
    "stats": ("stats", "Requests, tokens, cost and latency per model from the ledger."),
    "trust": ("trust", "Trust a workspace's config (provider URLs, keys, command gates)."),
}


def setup_logging(level: str) -> None:
    # stdout carries the LSP stream in stdio mode (and results in the CLI): logs go to stderr.
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def fail(message: str, code: int) -> NoReturn:
    """Print the one ``tta-codegen:`` line for a failure and exit with ``code``."""
    click.echo(f"tta-codegen: {' '.join(message.split())}", err=True)
    sys.exit(code)


class OneLineErrors(click.Group):
    """The group, with click's errors and aborts turned into one line and an exit code."""

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        extra.pop("standalone_mode", None)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.UsageError as exc:
            # exc.ctx is the (sub)command that rejected its input: point at its --help.
            command = exc.ctx.command_path if exc.ctx is not None else "tta-codegen"
            fail(f"{exc.format_message()} (see {command} --help)", EXIT_USAGE)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt, EOFError):
            # Ctrl-C (or end of input) at a prompt: nothing was written after it.
            fail("interrupted; nothing was written", EXIT_INTERRUPTED)
        # standalone_mode=False returns --help's and --version's exit code instead of exiting.
        sys.exit(code if isinstance(code, int) else EXIT_OK)


class LazyGroup(OneLineErrors):
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
