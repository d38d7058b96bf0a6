from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.provider import FakeProvider


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    """A fake OpenAI-compatible provider on 127.0.0.1, fresh for each test."""
    provider = FakeProvider()
    await provider.start()
    try:
        yield provider
    finally:
        await provider.stop()
