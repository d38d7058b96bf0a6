"""The OpenHands backend against the fake server over real HTTP: lifecycle, paging,
file changes, the agent's own ends, and every guard (loop, hang, time, steps, cost)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import PurePosixPath
from typing import Any

import pytest

from tests.fakes.openhands import (
    FakeOpenHands,
    action,
    busy,
    create_file,
    fail,
    hang,
    observation,
    repeat,
    script,
    state,
    storm,
    str_replace,
    with_metrics,
)
from tta_codegen.agents.events import (
    AgentEnded,
    AgentEvent,
    AgentStarted,
    AgentStep,
    AgentTask,
    FileChange,
    InsertText,
    ReplaceText,
    WriteFile,
)
from tta_codegen.agents.openhands import OpenHandsBackend
from tta_codegen.agents.settings import OpenHandsSettings

TASK = AgentTask("Add a helper to a.py and use it in b.py", "/tmp/ws")


def settings(fake: FakeOpenHands, **kw: Any) -> OpenHandsSettings:
    kw.setdefault("poll_interval_s", 0.05)
    return OpenHandsSettings(enabled=True, base_url=fake.base_url, **kw)


async def run_all(
    fake: FakeOpenHands, environ: dict[str, str] | None = None, **kw: Any
) -> list[AgentEvent]:
    backend = OpenHandsBackend(settings(fake, **kw), environ=environ or {})
    try:
        return [e async for e in backend.start(TASK).events()]
    finally:
        await backend.aclose()


def ended(events: list[AgentEvent]) -> AgentEnded:
    last = events[-1]
    assert isinstance(last, AgentEnded), events
    assert sum(isinstance(e, AgentEnded) for e in events) == 1
    return last


def changes(events: list[AgentEvent]) -> list[FileChange]:
    return [e for e in events if isinstance(e, FileChange)]


async def test_success_yields_confirmed_file_changes_and_finishes(
    openhands: FakeOpenHands,
) -> None:
    openhands.scenario = script(
        [
            state("running"),
            action("run", command="ls /workspace"),
            observation("run", "a.py b.py", command="ls /workspace", exit_code=0),
            *create_file("/workspace/pkg/util.py", "def helper():\n    return 1\n"),
            *str_replace("/workspace/b.py", "x = 1", "from pkg.util import helper\nx = helper()"),
            action("edit", path="/workspace/b.py", command="insert", insert_line=0, new_str="#!"),
            observation("edit", "ok", path="/workspace/b.py"),
            action("write", path="c.txt", content="hello\n"),
            observation("write", "", path="/workspace/c.txt"),
            with_metrics(
                action("finish", final_thought="Added helper() and used it."), 0.0123, 900, 80
            ),
            state("finished"),
        ]
    )
    events = await run_all(openhands)
    assert isinstance(events[0], AgentStarted)
    end = ended(events)
    assert (end.outcome, end.reason) == ("finished", "finished")
    assert end.message == "Added helper() and used it."
    assert end.iterations == 6  # run, 3 edits, write, finish
    assert end.cost_usd == pytest.approx(0.0123)
    assert (end.usage.prompt_tokens, end.usage.completion_tokens) == (900, 80)
    assert [(c.path, c.op) for c in changes(events)] == [
        (PurePosixPath("pkg/util.py"), WriteFile("def helper():\n    return 1\n")),
        (PurePosixPath("b.py"), ReplaceText("x = 1", "from pkg.util import helper\nx = helper()")),
        (PurePosixPath("b.py"), InsertText(0, "#!")),
        (PurePosixPath("c.txt"), WriteFile("hello\n")),
    ]
    steps = [e.summary for e in events if isinstance(e, AgentStep)]
    assert "run: ls /workspace" in steps and "create /workspace/pkg/util.py" in steps
    # The start request is exactly what 0.62's model accepts.
    create = next(
        r for r in openhands.requests if r.method == "POST" and r.path == "/api/conversations"
    )
    assert set(create.body) == {"initial_user_msg"}
    assert create.body["initial_user_msg"] == TASK.description
    # Its sandbox stays up until stopped: the run stops it once it is done.
    assert len(openhands.stops) == 1


async def test_pages_through_events_with_has_more(openhands: FakeOpenHands) -> None:
    noise = [observation("run", f"line {i}", cause=None) for i in range(230)]
    openhands.scenario = script(
        [
            *noise,
            *create_file("/workspace/late.py", "x = 1\n"),
            action("finish"),
            state("finished"),
        ],
        delay=0,
    )
    events = await run_all(openhands)
    assert ended(events).reason == "finished"
    assert [c.path for c in changes(events)] == [PurePosixPath("late.py")]
    pages = [r for r in openhands.requests if r.path.endswith("/events")]
    assert all(1 <= int(r.query["limit"]) <= 100 for r in pages)
    starts = [int(r.query["start_id"]) for r in pages]
    assert starts == sorted(starts)  # never re-reads from the beginning
    assert len(set(starts)) >= 3  # 230+ events took several pages


async def test_agent_error_state_fails_with_its_reason(openhands: FakeOpenHands) -> None:
    openhands.scenario = fail("RuntimeError: the sandbox died")
    end = ended(await run_all(openhands))
    assert (end.outcome, end.reason) == ("failed", "agent_error")
    assert "the sandbox died" in end.message


async def test_condensation_storm_is_stopped_within_its_limit(openhands: FakeOpenHands) -> None:
    openhands.scenario = storm(delay=0.02)
    # The time and idle limits are far away: ending any other way than on the 4th
    # condensation gives another reason.
    events = await run_all(openhands, condensation_limit=4, time_limit_s=60, idle_timeout_s=60)
    end = ended(events)
    assert (end.outcome, end.reason) == ("failed", "condensation_loop")
    assert "condensed its context 4 times in a row" in end.message and "#8630" in end.message
    assert len(openhands.stops) == 1
    conv = openhands.only()
    assert conv.status == "STOPPED"
    # It ended on the 4th condensation, not 40 later.
    kinds = [e["action"] for e in conv.events if e.get("action", "").startswith("condensation")]
    assert len(kinds) < 20
    assert not changes(events)
    assert end.cost_usd > 0  # the llm_metrics of the storm were read


async def test_repeated_identical_action_is_a_loop(openhands: FakeOpenHands) -> None:
    openhands.scenario = repeat()
    end = ended(await run_all(openhands, repeat_limit=3, idle_timeout_s=60))
    assert (end.outcome, end.reason) == ("failed", "repeated_action")
    assert "3 times in a row" in end.message
    assert len(openhands.stops) == 1


async def test_hung_agent_is_stopped_after_its_idle_limit(openhands: FakeOpenHands) -> None:
    openhands.scenario = hang()
    t0 = time.perf_counter()
    end = ended(await run_all(openhands, idle_timeout_s=0.6, time_limit_s=60))
    took = time.perf_counter() - t0
    assert (end.outcome, end.reason) == ("failed", "idle_timeout")
    assert "sent nothing for 0.6s" in end.message
    # It waited out the idle limit (a lower bound: a busy machine only makes it longer);
    # the far time limit would have given another reason had the idle limit not fired.
    assert took > 0.5, took
    assert len(openhands.stops) == 1


async def test_time_limit_stops_a_busy_agent(openhands: FakeOpenHands) -> None:
    openhands.scenario = busy(0.0)
    t0 = time.perf_counter()
    end = ended(await run_all(openhands, time_limit_s=0.8, max_iterations=10_000))
    took = time.perf_counter() - t0
    assert end.reason == "time_limit" and "0.8s" in end.message
    assert took > 0.7, took  # a lower bound only: the limit was waited out, not skipped
    assert len(openhands.stops) == 1


async def test_max_iterations(openhands: FakeOpenHands) -> None:
    openhands.scenario = busy(0.0)
    end = ended(await run_all(openhands, max_iterations=5))
    assert end.reason == "max_iterations"
    assert end.iterations == 5
    assert len(openhands.stops) == 1


async def test_cost_cap(openhands: FakeOpenHands) -> None:
    openhands.scenario = busy(0.01)
    end = ended(await run_all(openhands, max_cost_usd=0.035))
    assert end.reason == "cost_cap"
    assert 0.035 < end.cost_usd < 0.06
    assert "$0.035" in end.message
    assert len(openhands.stops) == 1


async def test_paths_outside_the_workspace_are_refused(openhands: FakeOpenHands) -> None:
    openhands.scenario = script(
        [
            *create_file("/etc/cron.d/evil", "* * * * * root true\n"),
            *create_file("/workspace/../home/x.py", "x\n"),
            *create_file("/workspace/ok.py", "ok = 1\n"),
            action("finish"),
            state("finished"),
        ]
    )
    events = await run_all(openhands)
    assert [c.path for c in changes(events)] == [PurePosixPath("ok.py")]
    refused = [e.summary for e in events if isinstance(e, AgentStep) and e.kind == "refused"]
    assert len(refused) == 2 and all("outside the workspace" in r for r in refused)


async def test_edit_the_sandbox_rejected_is_not_mirrored(openhands: FakeOpenHands) -> None:
    openhands.scenario = script(
        [
            action(
                "edit", path="/workspace/a.py", command="str_replace", old_str="nope", new_str="y"
            ),
            observation("error", "No replacement was performed, old_str `nope` did not appear"),
            action("edit", path="/workspace/a.py", command="view"),
            observation("read", "x = 1"),
            action("finish"),
            state("finished"),
        ]
    )
    events = await run_all(openhands)
    assert changes(events) == []
    assert ended(events).reason == "finished"


async def test_cancel_stops_the_conversation(openhands: FakeOpenHands) -> None:
    openhands.scenario = busy(0.0, delay=0.05)
    backend = OpenHandsBackend(settings(openhands), environ={})
    seen: list[AgentEvent] = []

    async def consume() -> None:
        run = backend.start(TASK)
        async with contextlib.aclosing(run.events()) as events:
            async for e in events:
                seen.append(e)

    task = asyncio.ensure_future(consume())
    while not any(isinstance(e, AgentStep) for e in seen):
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await backend.aclose()
    assert len(openhands.stops) == 1
    assert openhands.only().status == "STOPPED"


async def test_key_from_env_var_session_header(openhands: FakeOpenHands) -> None:
    openhands.api_key = "s3cret-key"
    openhands.scenario = script([action("finish"), state("finished")])
    env = {"MY_OH_KEY": "s3cret-key"}
    end = ended(await run_all(openhands, environ=env, api_key_env="MY_OH_KEY"))
    assert end.reason == "finished"
    sent = [r for r in openhands.requests if r.path.startswith("/api/conversations")]
    assert sent and all(r.headers.get("x-session-api-key") == "s3cret-key" for r in sent)
    assert all("authorization" not in r.headers for r in sent)


async def test_bearer_auth_for_cloud(openhands: FakeOpenHands) -> None:
    openhands.api_key, openhands.auth = "cloud-key", "bearer"
    openhands.scenario = script([action("finish"), state("finished")])
    end = ended(
        await run_all(openhands, environ={"OH": "cloud-key"}, api_key_env="OH", auth="bearer")
    )
    assert end.reason == "finished"


async def test_missing_or_wrong_key_is_a_clear_error(openhands: FakeOpenHands) -> None:
    openhands.api_key = "right"
    end = ended(await run_all(openhands, environ={}, api_key_env="OH_KEY"))
    assert (end.outcome, end.reason) == ("failed", "unauthorized")
    assert "set OH_KEY" in end.message
    end = ended(await run_all(openhands, environ={"OH_KEY": "wrong"}, api_key_env="OH_KEY"))
    assert "refused the key in OH_KEY" in end.message
    assert "wrong" not in end.message  # the key itself is never shown
    assert not openhands.conversations


async def test_health(openhands: FakeOpenHands) -> None:
    backend = OpenHandsBackend(settings(openhands), environ={})
    try:
        assert (await backend.health()).ok
        openhands.api_key = "k"
        health = await backend.health()
        assert not health.ok and "wants a key" in health.detail
        openhands.healthy = False
        health = await backend.health()
        assert not health.ok and "HTTP 503" in health.detail
    finally:
        await backend.aclose()
    assert not openhands.conversations  # a health check starts nothing


async def test_unreachable_server_ends_cleanly() -> None:
    fake = FakeOpenHands()
    await fake.start()
    await fake.stop()  # the port is now closed
    backend = OpenHandsBackend(settings(fake, health_timeout_s=1), environ={})
    try:
        assert "cannot reach" in (await backend.health()).detail
        events = [e async for e in backend.start(TASK).events()]
    finally:
        await backend.aclose()
    end = ended(events)
    assert (end.outcome, end.reason) == ("failed", "unavailable")
    assert "cannot reach OpenHands" in end.message
