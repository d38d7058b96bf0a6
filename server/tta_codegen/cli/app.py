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

import atexit
import gc
import importlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from tta_codegen import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_NOT_WHOLE = 3  # gates_failed or truncated: delivered on stdout, not written
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C

# name -> (module under tta_codegen.cli, one-line help shown by `tta-codegen --help`).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "daemon": ("daemon", "Keep a warm process so commands start fast (start, stop, status)."),
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


# Commands after which the process may end without the interpreter's teardown (exit_now).
# `serve` is left out: a language server's end is not on anyone's clock.
ONE_SHOT = frozenset(SUBCOMMANDS) - {"serve"}


class LazyGroup(OneLineErrors):
    """A group whose subcommands are imported on first use (see the module docstring)."""

    ran: str | None = None  # the subcommand this process resolved, for exit_now

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*SUBCOMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in SUBCOMMANDS:
            # The module registers its command on `app` as it is imported. A subcommand
            # that runs a generation imports ~400 modules (engine, pydantic models, httpx):
            # with the collector on, their allocations set off dozens of collections that
            # find nothing (~15% of the import). Off while importing, then the imported
            # objects are frozen out of later collections (they live as long as the process).
            enabled = gc.isenabled()
            gc.disable()
            try:
                importlib.import_module(f"tta_codegen.cli.{SUBCOMMANDS[cmd_name][0]}")
            finally:
                gc.freeze()
                if enabled:
                    gc.enable()
        LazyGroup.ran = cmd_name
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


def exit_now(done: SystemExit) -> NoReturn:
    """End a one-shot command's process as ``sys.exit`` would, minus the interpreter's
    teardown.

    Tearing down ~500 modules and collecting their objects took 100-250 ms after a
    ``generate`` had written its file and printed its summary: time the user waits for
    the prompt and nothing else. Here the streams are flushed and the ``atexit`` handlers
    run (logging's flush among them), as at a normal exit, then the process ends. Only
    when the command is a one-shot one (:data:`ONE_SHOT`), no other thread is alive (a
    normal exit would wait for it) and the code is an int or None; otherwise, or if a
    flush fails (a closed pipe), the normal exit runs, with its own handling of those.
    """
    code = 0 if done.code is None else done.code
    if LazyGroup.ran not in ONE_SHOT or not isinstance(code, int) or threading.active_count() > 1:
        raise done
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise done from None
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # what a normal exit would report is gone with the pipe; the code stays
    os._exit(code)


def load_subcommands() -> None:
    """Import every subcommand module (tests use it to check :data:`SUBCOMMANDS`)."""
    for module, _ in SUBCOMMANDS.values():
        importlib.import_module(f"tta_codegen.cli.{module}")
