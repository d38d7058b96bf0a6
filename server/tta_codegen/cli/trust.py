"""``tta-codegen trust [DIR]``: trust a folder's own config, as it is now.

Records the folder and a hash of its config (``tta-codegen.toml`` and
``[tool.tta-codegen]``) in the user's data folder (see :mod:`tta_codegen.trust`); a later
edit of that config withdraws the trust. ``--revoke`` forgets the folder. Also home of
the ``--trust-workspace`` option the commands that load config share (trust for one run,
for CI).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console

from tta_codegen import trust
from tta_codegen.cli.app import EXIT_OK, EXIT_USAGE, app
from tta_codegen.config import file_layers, workspace_fingerprint

F = TypeVar("F", bound=Callable[..., object])


def trust_option(func: F) -> F:
    """``--trust-workspace``: honour this folder's whole config for this run only."""
    return click.option(
        "--trust-workspace",
        is_flag=True,
        help="Trust this folder's config for this run (CI): its providers' base_url/"
        "api_key_env/headers, command gates and gates.python are used.",
    )(func)


def warn_untrusted(console: Console, message: str | None) -> None:
    """Print the one line about ignored keys, if any (stderr: stdout carries results)."""
    if message:
        console.print(f"tta-codegen: {message}", markup=False, highlight=False, soft_wrap=True)


@app.command("trust")
@click.argument(
    "directory",
    required=False,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
)
@click.option("--revoke", is_flag=True, help="Forget the folder: its config is untrusted again.")
def trust_command(directory: Path | None, revoke: bool) -> None:
    """Trust DIR's own config (default: the current folder) until it changes."""
    out = Console(highlight=False, soft_wrap=True, emoji=False)
    root = (directory or Path.cwd()).resolve()
    if revoke:
        store = trust.record(root, None)
        out.print(f"{root} is no longer trusted ({store})", markup=False)
        sys.exit(EXIT_OK)
    own = {str(root / "tta-codegen.toml"), str(root / "pyproject.toml")}
    issues = [i for i in file_layers(root)[1] if i.source in own]
    if issues:
        # Trusting a file that does not parse would trust whatever it parses to later.
        out.print("tta-codegen: " + "; ".join(str(i) for i in issues), markup=False)
        sys.exit(EXIT_USAGE)
    digest = workspace_fingerprint(root)
    if digest is None:
        out.print(
            f"tta-codegen: {root} has no tta-codegen.toml or [tool.tta-codegen]; nothing to trust",
            markup=False,
        )
        sys.exit(EXIT_USAGE)
    store = trust.record(root, digest)
    out.print(
        f"trusted {root} with its config as it is now ({store}); "
        "editing the config withdraws this trust",
        markup=False,
    )
    sys.exit(EXIT_OK)
