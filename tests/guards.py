"""Hang guards: the only kind of timeout a test may have.

A test never checks how fast something is; speed is measured in ``benchmarks/``. A timeout
in a test exists only so that a step that hangs (a deadlock, a lost message, a process that
never exits) ends the test with a reason instead of stalling the run. Each guard is at least
10x the time its step takes on an idle 2-core machine, so a busy machine (load average 4 and
more: the embedded model generating beside the suite, a CI runner shared with other jobs)
never fails a test that is right. ``bash scripts/test-under-load.sh`` checks exactly that.

Use these names rather than a number, so a reader sees at once that the timeout guards
against a hang; a step that needs its own guard gets a named constant with the idle time it
was measured against.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

# One step against a running server or the fake provider: an LSP request answered, an
# edit arriving in the editor, a stream closed, a short subprocess (the CLI with a fake
# provider, ``python -c``) finished. Idle: under 2 s (most well under 0.5 s).
HANG_GUARD_S = 60.0
# The same in milliseconds, for guards that run in another language (Lua, JavaScript).
HANG_GUARD_MS = int(HANG_GUARD_S * 1000)

# A step that runs the real embedded model or a whole real editor session: one CLI
# generation with SmolLM2, one headless Neovim case, loading the model. Idle: under 30 s.
SLOW_HANG_GUARD_S = 600.0


async def until(
    predicate: Callable[[], Any],
    what: str = "the condition",
    *,
    timeout: float = HANG_GUARD_S,
    interval: float = 0.005,
) -> Any:
    """Poll ``predicate`` (plain or async) until it returns something truthy, and return that.

    The deadline is wall-clock time, not a number of polls, so a slow poll (a request to a
    busy server) does not shorten it; ``timeout`` only guards against a hang, and the error
    names ``what`` was never reached.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} was not reached within the {timeout:.0f} s hang guard")
        await asyncio.sleep(interval)
