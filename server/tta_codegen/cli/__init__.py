"""The ``tta-codegen`` command. Each subcommand lives in its own module in this package
and registers itself on :data:`tta_codegen.cli.app.app`; ``main`` imports them all."""

from __future__ import annotations

import importlib
import pkgutil

from tta_codegen.cli.app import app


def load_subcommands() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "app" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def main() -> None:
    load_subcommands()
    app(prog_name="tta-codegen")  # also under python -m: messages name the command
