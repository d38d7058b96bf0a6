"""The path (``background.hold_path``): background work waits while a generation is on
its way to the provider, and only then.

Behaviour only: what runs, in which order, and that nothing waits for ever. No test here
measures how long anything takes; every timeout is a hang guard.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import Coroutine
from typing import Any

import pytest

from tests.guards import HANG_GUARD_S
from tta_codegen import background
from tta_codegen.background import (
    after_path,
    hold_path,
    path_held,
    request_written,
    spawn_after_path,
)


@pytest.fixture(autouse=True)
def _holds_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """Holds outlast any test step (however busy the machine), unless a test says otherwise:
    what releases the path here is what the test does, not the clock."""
    monkeypatch.setattr(background, "MAX_HOLD_S", HANG_GUARD_S)


async def _turns(n: int = 5) -> None:
    """Let the loop run everything that is ready (a deferred job would have started)."""
    for _ in range(n):
        await asyncio.sleep(0)


def _recorded() -> tuple[list[str], Coroutine[Any, Any, None]]:
    """A job that only records that it ran."""
    ran: list[str] = []

    async def work() -> None:
        ran.append("work")

    return ran, work()


async def test_deferred_work_waits_until_the_request_is_written() -> None:
    ran, work = _recorded()
    with hold_path():
        job = spawn_after_path(work)
        await _turns()
        assert ran == [] and path_held()
        request_written()
        assert not path_held()
        await asyncio.wait_for(job, HANG_GUARD_S)
        assert ran == ["work"]  # while the generation itself still runs


async def test_a_generation_that_ends_before_its_request_releases_the_path() -> None:
    ran, work = _recorded()
    with hold_path():
        job = spawn_after_path(work)
        await _turns()
        assert ran == []
    # The block ended (a prompt error, a budget refusal, a cancel): nothing holds the path.
    await asyncio.wait_for(job, HANG_GUARD_S)
    assert ran == ["work"]


async def test_work_waits_for_every_generation_on_the_path() -> None:
    ran: list[str] = []

    async def work() -> None:
        ran.append("work")

    async def generation(written: asyncio.Event) -> None:
        with hold_path():
            await written.wait()
            request_written()

    first, second = asyncio.Event(), asyncio.Event()
    gens = [asyncio.ensure_future(generation(e)) for e in (first, second)]
    await _turns()
    job = spawn_after_path(work())
    first.set()
    await _turns()
    assert ran == [] and path_held()  # the second one is still on its way
    second.set()
    await asyncio.wait_for(asyncio.gather(job, *gens), HANG_GUARD_S)
    assert ran == ["work"]


async def test_deferred_work_starts_in_the_order_it_was_deferred() -> None:
    ran: list[int] = []

    async def work(i: int) -> None:
        ran.append(i)

    with hold_path():
        jobs = [spawn_after_path(work(i)) for i in range(5)]
        await _turns()
        request_written()
        await asyncio.wait_for(asyncio.gather(*jobs), HANG_GUARD_S)
    assert ran == [0, 1, 2, 3, 4]


async def test_a_hold_past_its_limit_delays_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generation stuck before its request (the embedded model loading, a slow budget
    check) holds background work back for at most MAX_HOLD_S."""
    ran: list[str] = []

    async def work() -> None:
        ran.append("work")

    monkeypatch.setattr(background, "MAX_HOLD_S", 0.0)
    with hold_path():
        assert not path_held()
        await asyncio.wait_for(spawn_after_path(work()), HANG_GUARD_S)
        assert ran == ["work"]
    monkeypatch.setattr(background, "MAX_HOLD_S", 0.05)
    with hold_path():
        # Never written: the hold runs out on its own (the guard only stops a hang).
        await asyncio.wait_for(spawn_after_path(work()), HANG_GUARD_S)
        assert ran == ["work", "work"] and not path_held()


async def test_with_the_path_clear_work_starts_without_a_loop_turn() -> None:
    ran: list[str] = []

    async def work() -> str:
        ran.append("work")
        return "done"

    deferred = after_path(work())
    with pytest.raises(StopIteration) as stopped:
        deferred.send(None)  # ran to the end in one step: it never waited
    assert stopped.value.value == "done" and ran == ["work"]


async def test_work_cancelled_before_it_started_is_closed_unstarted() -> None:
    async def work() -> None:
        raise AssertionError("must not run")

    coro = work()
    with hold_path():
        job = spawn_after_path(coro)
        await _turns()
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(job, HANG_GUARD_S)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


async def test_document_event_work_settles_first_then_waits_for_the_path() -> None:
    """didOpen/didClose work (settle > 0) still waits for a generation that began to hold
    the path after the event: the command the event led to."""
    ran: list[str] = []

    async def work() -> None:
        ran.append("work")

    job = spawn_after_path(work(), settle=background.EVENT_SETTLE_S)
    with hold_path():  # the command arrives right after the event
        await asyncio.sleep(background.EVENT_SETTLE_S * 2)
        await _turns()
        assert ran == []
        request_written()
        await asyncio.wait_for(job, HANG_GUARD_S)
    assert ran == ["work"]


async def test_request_written_outside_a_generation_changes_nothing() -> None:
    request_written()
    assert not path_held()
    with hold_path():
        assert path_held()
        request_written()
        request_written()  # the second time: nothing left to release
        assert not path_held()


async def test_run_to_end_outlives_a_cancel_and_logs_what_it_then_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A restore cancelled a second time goes on; its later failure is logged, not lost
    as "Task exception was never retrieved"."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    release = asyncio.Event()
    steps: list[str] = []

    async def restore() -> None:
        steps.append("started")
        await release.wait()
        steps.append("finished")
        raise RuntimeError("document closed")

    caller = asyncio.ensure_future(background.run_to_end(restore(), "restore of m.py"))
    await _turns()
    caller.cancel()
    await asyncio.wait_for(caller, HANG_GUARD_S)  # returns at once: the cancel is absorbed
    assert steps == ["started"]
    release.set()
    await _turns()
    assert steps == ["started", "finished"]  # the work went on to its end
    gc.collect()
    await _turns()
    assert not unhandled, unhandled
    messages = [r.getMessage() for r in caplog.records]
    assert "restore of m.py goes on after a second cancel" in messages
    assert "restore of m.py failed: document closed" in messages


async def test_run_to_end_hands_an_uncancelled_error_to_the_caller() -> None:
    async def restore() -> None:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no"):
        await background.run_to_end(restore(), "restore")
