"""The one composition root: where the engine every client runs is built and closed.

The language server, the CLI and the benchmarks all build their :class:`Engine` here, so
they route, price, prompt and gate the same way: one router over one provider registry
(ledger, breakers, sleep and rand injectable, as tests need), a prompt builder that knows
the workspace (its ``.tta-codegen/prompts`` and relative ``[prompts] paths``), and the
workspace context when the client has one. :meth:`Engine.aclose` closes what
:func:`build_engine` opened; :func:`engine_for_run` is the whole life of a one-shot engine
(a CLI command, a benchmark) including what outlives a single engine in a long-lived
server (the context index, this loop's warm ruff workers).

This module only assembles; it owns no behaviour of the pieces it wires.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from tta_codegen.config import Config
from tta_codegen.context.provider import WorkspaceContext
from tta_codegen.context.types import ContextProvider
from tta_codegen.engine import Engine
from tta_codegen.gates.ruff_worker import close_ruff_workers
from tta_codegen.models.breaker import BreakerBoard
from tta_codegen.models.ledger import LedgerBackend
from tta_codegen.models.registry import ProviderRegistry
from tta_codegen.models.router import ModelRouter
from tta_codegen.prompts.builder import PromptBuilder

log = logging.getLogger(__name__)

__all__ = ["build_engine", "build_router", "engine_for_run", "workspace_context"]


def build_engine(
    config: Config,
    *,
    workspace_root: Path | None,
    context: ContextProvider | None = None,
    ledger: LedgerBackend | None = None,
    breakers: BreakerBoard | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> Engine:
    """The engine for ``config`` in ``workspace_root`` (None: each document's folder decides
    where the team's templates are, see :func:`~tta_codegen.prompts.roots.find_workspace_root`).

    ``context`` is borrowed, not owned: the server keeps one index across config reloads
    (and engines), so closing an engine never closes it. ``ledger`` and ``breakers``
    default to the config's ledger and the process-wide breaker board.
    """
    router = build_router(config, ledger=ledger, breakers=breakers, sleep=sleep, rand=rand)
    prompts = PromptBuilder(config, workspace_root=workspace_root)
    return Engine(config, router, context=context, prompts=prompts)


def build_router(
    config: Config,
    *,
    ledger: LedgerBackend | None = None,
    breakers: BreakerBoard | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> ModelRouter:
    """The model layer alone (an engine's, or ``tta-codegen models``' listing); close it
    with :meth:`ModelRouter.aclose`."""
    return ModelRouter(
        config, ProviderRegistry(config), ledger=ledger, breakers=breakers, sleep=sleep, rand=rand
    )


def workspace_context(roots: list[Path], config: Config) -> WorkspaceContext:
    """The context stage over ``roots`` (index, retrieval, repo map, project rules), not yet
    started: the server starts it in the background with progress, a run awaits it."""
    return WorkspaceContext(roots, config.context)


def _read_prompt_library(prompts: PromptBuilder) -> None:
    """Read the prompt library ahead of the first prompt; what fails is left to the prompt,
    which reports it as the request's error."""
    try:
        prompts.library()
    except Exception as exc:
        log.debug("prompt library not read ahead: %s", exc)


@asynccontextmanager
async def engine_for_run(
    config: Config, *, workspace_root: Path, use_context: bool = False
) -> AsyncIterator[Engine]:
    """An engine for one run, closed with everything started for it when the run ends.

    With ``use_context`` (and ``[context] index`` on) the workspace is indexed first (reused
    from the on-disk cache when nothing changed), as the server's context stage does.
    Meanwhile the model layer is warmed as the server warms it after ``initialized``
    (:meth:`ModelRouter.warm`: the HTTP clients and what their first request imports,
    ~100-180 ms a fresh process otherwise spends on the way to the first token), and the
    router loads its catalog caches and recent history (:meth:`ModelRouter.prepare`) and the
    prompt library is read (the first prompt would read it; reading it here overlaps it
    with the clients' CA-bundle loads, which run without the GIL).
    """
    context: WorkspaceContext | None = None
    if use_context and config.context.index:
        context = workspace_context([workspace_root], config)
    engine = build_engine(config, workspace_root=workspace_root, context=context)
    try:
        await asyncio.gather(
            engine.router.warm(),
            engine.router.prepare(),
            asyncio.to_thread(_read_prompt_library, engine.prompts),
            *([context.start()] if context is not None else []),
        )
        yield engine
    finally:
        await engine.aclose()
        await close_ruff_workers()  # this loop's warm ruff servers: the run is over
        if context is not None:
            await context.close()
