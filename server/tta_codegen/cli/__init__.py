"""The ``tta-codegen`` command. Each subcommand lives in its own module in this package
and registers itself on :data:`tta_codegen.cli.app.app`; the group imports a module only
when its subcommand runs (see :mod:`tta_codegen.cli.app`).

:func:`main` first offers the command to this install's warm process, if one runs
(:mod:`tta_codegen.cli.warm`, ``tta-codegen daemon``); that check imports only the
standard library, so it is the one thing imported here.
"""

from __future__ import annotations

import sys

__all__ = ["main", "run_here"]


def main() -> None:
    from tta_codegen.cli import warm

    argv = sys.argv[1:]
    if warm.wanted(argv):
        code = warm.run_warm(argv)
        if code is not None:
            sys.exit(code)
    run_here()


def run_here() -> None:
    """Run the command line in ``sys.argv`` in this process."""
    from tta_codegen.cli.app import app, exit_now

    try:
        app(prog_name="tta-codegen")  # also under python -m: messages name the command
    except SystemExit as done:
        exit_now(done)
