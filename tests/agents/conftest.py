from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.openhands import FakeOpenHands


@pytest_asyncio.fixture
async def openhands() -> AsyncIterator[FakeOpenHands]:
    """A fake OpenHands server on 127.0.0.1, fresh for each test."""
    server = FakeOpenHands()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
