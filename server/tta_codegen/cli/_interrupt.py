"""``asyncio.run`` for the CLI, with a Ctrl-C that always ends the run.

``asyncio.run`` turns the first SIGINT into one ``cancel()`` of the main task and relies on
the signal interrupting the loop's ``epoll_wait``. Two things can defeat that: a cancellation
swallowed on the way (Python 3.11's ``asyncio.wait_for`` and ``asyncio.timeout`` drop one
that coincides with their own completion), and a signal the kernel hands to another thread,
which leaves the loop asleep until its next event — never, when the model's stream hangs.
Here the signal is watched through the loop's own wakeup pipe (``add_signal_handler``), and
once interrupted the task is cancelled again every :data:`RECANCEL_S` until it ends, so
cleanup still runs (nothing is written, the ledger row says ``cancelled``) but cannot be
talked out of stopping.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

RECANCEL_S = 0.5


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end; Ctrl-C raises KeyboardInterrupt once ``main`` has unwound."""
    return asyncio.run(_interruptible(main))


async def _interruptible(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    interrupted = False

    def recancel() -> None:
        if not task.done():
            task.cancel()
            loop.call_later(RECANCEL_S, recancel)

    def on_sigint() -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            recancel()

    watching = os.name == "posix"
    if watching:
        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        except (ValueError, RuntimeError):  # not the main thread: asyncio.run's own handling
            watching = False
    try:
        result = await task  # cancelling this coroutine (asyncio.run's handling) cancels it
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        if watching:
            loop.remove_signal_handler(signal.SIGINT)
    if interrupted:
        raise KeyboardInterrupt  # the run finished anyway; the user asked to stop
    return result
