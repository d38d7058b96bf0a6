"""Fire-and-forget work: started, never awaited, kept alive until it ends.

asyncio holds only a weak reference to a task; one nobody references can be collected
mid-run. :func:`spawn` keeps the reference until the task is done. It is for work whose
result nobody waits for (closing an old router, creating a progress token, indexing in
the background); anything a caller needs must be awaited instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

_running: set[asyncio.Future[Any]] = set()


def spawn(work: Awaitable[Any]) -> asyncio.Future[Any]:
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
