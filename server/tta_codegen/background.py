"""Fire-and-forget work: started, never awaited, kept alive until it ends; and the path.

asyncio holds only a weak reference to a task; one nobody references can be collected
mid-run. :func:`spawn` keeps the reference until the task is done. It is for work whose
result nobody waits for (closing an old router, creating a progress token, indexing in
the background); anything a caller needs must be awaited instead.

**The path.** Between a generation's command and its provider request being written, the
user waits on nothing but that request: every millisecond there is added to the model's
time to the first line. Background work started meanwhile (the index updates of a
didClose/didOpen, outcome rows, a lens refresh, a progress token's round trip) competes
for the event loop and the GIL and used to cost ~5 ms of it. So a generation *holds the
path* (:func:`hold_path`) until its request is on the wire (:func:`request_written`,
called from the HTTP layer) or it ends, and such work waits for :func:`path_clear` first
(:func:`after_path`, :func:`spawn_after_path`).

Work a document event starts (didOpen, didClose) also waits :data:`EVENT_SETTLE_S`
first: an editor sends such events right before the command they lead to (open the
document, then generate into it), so that command's generation has not begun to hold
the path yet when the event's work would start.

The rule, which tests pin: deferred work starts when no generation holds the path, or at
the latest :data:`MAX_HOLD_S` after the newest hold began (a generation stuck before its
request — a slow budget check, the embedded model loading — delays nothing for longer);
it starts in the order it was deferred (for equal settle times); when nothing holds the
path and there is nothing to settle it starts at once, without a loop turn.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import weakref
from collections.abc import Awaitable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

_running: set[asyncio.Future[Any]] = set()

# The longest a hold delays deferred work (the path itself is ~10 ms).
MAX_HOLD_S = 0.25
# How long work started by a document event waits for the command that may follow it.
EVENT_SETTLE_S = 0.05


def spawn(work: Awaitable[Any]) -> asyncio.Future[Any]:
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


async def run_to_end(work: Coroutine[Any, Any, None], what: str) -> None:
    """Await ``work``, which a cancel must not stop half-way (putting a document back).

    Cancelled while waiting, this returns at once and the work goes on (kept alive by
    :func:`spawn`); an error it then ends with is logged against ``what``, never left as an
    unretrieved task exception. Uncancelled, the work's own error reaches the caller.
    """
    task = spawn(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        log.warning("%s goes on after a second cancel", what)
        task.add_done_callback(lambda t: _log_failure(t, what))


def _log_failure(task: asyncio.Future[Any], what: str) -> None:
    exc = None if task.cancelled() else task.exception()
    if exc is not None:
        log.error("%s failed: %s", what, exc)


class _Path:
    """One event loop's holds (id -> deadline on the loop's clock) and waiters."""

    def __init__(self) -> None:
        self.holds: dict[int, float] = {}
        self.waiters: list[asyncio.Future[None]] = []

    def release(self, hold: int) -> None:
        if self.holds.pop(hold, None) is not None and not self.holds:
            self.wake()

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for fut in waiters:  # in the order they began to wait
            if not fut.done():
                fut.set_result(None)


_paths: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Path] = weakref.WeakKeyDictionary()
_ids = itertools.count(1)
# The hold of the generation running in this context (its task and what it awaits).
_current: contextvars.ContextVar[tuple[_Path, int] | None] = contextvars.ContextVar(
    "tta_path_hold", default=None
)


def _path() -> _Path:
    loop = asyncio.get_running_loop()
    path = _paths.get(loop)
    if path is None:
        path = _paths[loop] = _Path()
    return path


@contextmanager
def hold_path() -> Iterator[None]:
    """Hold the path for the generation running in this context until its provider
    request is written (:func:`request_written`) or the block ends."""
    path = _path()
    hold = next(_ids)
    path.holds[hold] = asyncio.get_running_loop().time() + MAX_HOLD_S
    token = _current.set((path, hold))
    try:
        yield
    finally:
        _current.reset(token)
        path.release(hold)


def request_written() -> None:
    """The provider request of the generation running in this context is on the wire:
    its hold ends (nothing happens outside a held generation, or the second time)."""
    current = _current.get()
    if current is not None:
        path, hold = current
        path.release(hold)


def path_held() -> bool:
    """Whether some generation holds the path now (expired holds do not count)."""
    path = _paths.get(asyncio.get_running_loop())
    return path is not None and _live(path)


def _live(path: _Path) -> bool:
    if not path.holds:
        return False
    if max(path.holds.values()) <= asyncio.get_running_loop().time():
        path.holds.clear()  # every hold is past its deadline: none holds anything now
        return False
    return True


async def path_clear() -> None:
    """Return when no generation holds the path (at once, without a loop turn, if none
    does; at the latest when the newest hold's :data:`MAX_HOLD_S` is up)."""
    path = _path()
    loop = asyncio.get_running_loop()
    while _live(path):
        fut: asyncio.Future[None] = loop.create_future()
        path.waiters.append(fut)
        timer = loop.call_at(max(path.holds.values()), path.wake)
        try:
            await fut
        finally:
            timer.cancel()


async def after_path(work: Coroutine[Any, Any, T], *, settle: float = 0.0) -> T:
    """Run ``work`` ``settle`` seconds from now, once the path is clear; ``work`` is
    closed unstarted if this is cancelled first."""
    try:
        if settle > 0:
            await asyncio.sleep(settle)
        await path_clear()
    except BaseException:
        work.close()
        raise
    return await work


def spawn_after_path(work: Coroutine[Any, Any, Any], *, settle: float = 0.0) -> asyncio.Future[Any]:
    """:func:`spawn` for work that must not compete with a generation's path."""
    return spawn(after_path(work, settle=settle))
