"""Outcome recording hooks: retention measured on save, and rows in flight written before
the server exits (``shutdown``), so the last decision of a session is not lost."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from tta_codegen.lsp import outcomes
from tta_codegen.lsp.server import TtaLanguageServer


def register(server: TtaLanguageServer) -> None:
    server.on_save.append(outcomes.on_save)
    server.feature(types.SHUTDOWN)(on_shutdown)


async def on_shutdown(ls: TtaLanguageServer, *args: Any) -> None:
    outcomes.measure_all(ls)  # accepted regions still watched: measure them now
    await outcomes.recorder(ls).flush()
    await ls.engine.router.flush()
