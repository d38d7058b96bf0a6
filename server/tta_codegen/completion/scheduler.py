"""One live completion per document: debounce, supersede, cancel.

Editors ask on every keystroke. A request waits ``debounce`` first; a newer request for
the same document cancels the older one (which then answers empty) whether it is still
waiting or already streaming, and cancelling the request's own task ($/cancelRequest)
cancels its work too. Cancelling the work closes the model stream at once, since the
work holds the stream in ``aclosing``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CompletionScheduler:
    def __init__(self) -> None:
        self._live: dict[str, asyncio.Task[Any]] = {}
        self.model_calls = 0  # requests that got past the debounce

    async def run(self, key: str, debounce_s: float, work: Callable[[], Awaitable[T]]) -> T | None:
        """``work()`` after the debounce, or None when a newer request superseded this one."""
        previous = self._live.get(key)
        if previous is not None and not previous.done():
            previous.cancel()

        async def debounced() -> T:
            if debounce_s > 0:
                await asyncio.sleep(debounce_s)
            self.model_calls += 1
            return await work()

        task: asyncio.Task[T] = asyncio.ensure_future(debounced())
        self._live[key] = task
        try:
            return await task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                task.cancel()
                raise  # the request itself was cancelled
            return None  # superseded
        finally:
            if self._live.get(key) is task:
                del self._live[key]

    def cancel(self, key: str) -> None:
        task = self._live.pop(key, None)
        if task is not None:
            task.cancel()
