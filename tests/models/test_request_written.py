"""The HTTP providers tell the path (``background.request_written``) when a request is on
the wire, so background work held back for a starting generation runs from then on, not
only when the generation ends."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S
from tests.models.conftest import make_config, make_router, request
from tta_codegen import background
from tta_codegen.background import hold_path, path_held, spawn_after_path
from tta_codegen.models.base import TextDelta


async def test_the_path_is_free_once_the_provider_request_is_written(
    fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the request being written may release the path here, never the hold's limit.
    monkeypatch.setattr(background, "MAX_HOLD_S", HANG_GUARD_S)
    release = asyncio.Event()
    fake.add(Reply(chunks=["```python\n", "x = 1\n", "```\n"], hold=release))
    router = make_router(
        make_config(
            providers={"p": {"kind": "openai", "base_url": fake.base_url}},
            models=[{"id": "a", "provider": "p"}],
            routing={"default": "a"},
        )
    )
    ran: list[int] = []

    async def work() -> None:
        ran.append(len(fake.requests))

    try:
        with hold_path():
            job = spawn_after_path(work())
            stream = router.stream(request())
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
            # The reply is still open (the fake holds it): the generation is running.
            assert not path_held()
            await asyncio.wait_for(job, HANG_GUARD_S)
            assert ran == [1]  # it ran after the request reached the provider
            release.set()
            await stream.aclose()
    finally:
        release.set()
        await router.aclose()
