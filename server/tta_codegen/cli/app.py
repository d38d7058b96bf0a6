"""The ``tta-codegen`` click group every subcommand module registers on.

Exit codes, with these values and nowhere else: 0 success, 1 generation failed, 2 usage or
config error, 130 interrupted. Every failure is one line on stderr starting with
``tta-codegen:``. Subcommands report their own failures that way; everything click itself
rejects (a bad flag or value, a missing argument) and Ctrl-C at a prompt go through
:meth:`OneLineErrors.main`, the CLI's single error path, instead of click's multi-line
``Usage: ... Error: ...`` block, so CI logs get one greppable line per failure.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from tta_codegen import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's convention for Ctrl-C


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


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="tta-codegen")
def app() -> None:
    """AI code generation for editors and CI."""
