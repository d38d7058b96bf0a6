"""Routing against loopback fakes: fallback, retries, Retry-After, circuit breaker, budgets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.provider import FakeProvider, Reply
from tests.models.conftest import collect, make_config, make_router, no_retry, request
from tta_codegen.models.base import TextDelta
from tta_codegen.models.breaker import BreakerBoard
from tta_codegen.models.budget import BudgetExceeded
from tta_codegen.models.ledger import CostLedger, LedgerRow
from tta_codegen.models.router import (
    AllModelsFailed,
    AttemptFailed,
    AttemptStarted,
    Finished,
    Retrying,
)

GOOD = "```python\ngood = 1\n```\n"


def two_models(base_url: str, routing: dict[str, Any] | None = None, **extra: Any) -> Any:
    return make_config(
        providers={"p": {"kind": "openai", "base_url": base_url}},
        models=[{"id": "a", "provider": "p"}, {"id": "b", "provider": "p"}],
        routing={"default": "a", "fallbacks": ["b"], **(routing or {})},
        **extra,
    )


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def failed(events: list[Any]) -> list[AttemptFailed]:
    return [e for e in events if isinstance(e, AttemptFailed)]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(status=500), "server"),
        (Reply(status=429, error={"error": {"message": "slow down"}}), "rate_limit"),
        (Reply(status=503), "server"),
    ],
)
async def test_fallback_after_http_error(fake: FakeProvider, reply: Reply, kind: str) -> None:
    fake.add(reply, model="a")
    fake.add(Reply.text(GOOD), model="b")
    router = make_router(two_models(fake.base_url, no_retry()))
    events = await collect(router)
    assert [type(e).__name__ for e in events if not isinstance(e, TextDelta)] == [
        "AttemptStarted",
        "AttemptFailed",
        "AttemptStarted",
        "Finished",
    ]
    assert failed(events)[0].kind == kind and not failed(events)[0].streamed
    assert text_of(events) == GOOD
    assert isinstance(events[-1], Finished) and events[-1].model == "b"


async def test_fallback_after_dropped_stream_reports_streamed(fake: FakeProvider) -> None:
    fake.add(Reply.text("```python\nbad = 1\n" * 3, size=4, drop_after=3), model="a")
    fake.add(Reply.text(GOOD), model="b")
    router = make_router(two_models(fake.base_url))  # retries on: but text had streamed
    events = await collect(router)
    fails = failed(events)
    assert len(fails) == 1 and fails[0].model == "a" and fails[0].streamed
    assert fails[0].kind == "stream"
    assert not any(isinstance(e, Retrying) for e in events)
    # Only b's text follows the failure: the engine resets on streamed=True.
    after = events[events.index(fails[0]) :]
    assert text_of(after) == GOOD
    assert [r.body["model"] for r in fake.requests] == ["a", "b"]


async def test_fallback_after_overloaded_inside_anthropic_stream(
    fake: FakeProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.add(
        Reply.text(
            "```python\npartial", stream_error={"type": "overloaded_error", "message": "Overloaded"}
        )
    )
    fake.add(Reply.text(GOOD))
    config = make_config(
        providers={
            "claude": {"kind": "anthropic", "base_url": fake_anthropic.base_url},
            "oa": {"kind": "openai", "base_url": fake.base_url},
        },
        models=[{"id": "c", "provider": "claude"}, {"id": "o", "provider": "oa"}],
        routing={"default": "c", "fallbacks": ["o"]},
    )
    events = await collect(make_router(config))
    fails = failed(events)
    assert fails[0].model == "c" and fails[0].kind == "overloaded" and fails[0].streamed
    assert "Overloaded" in fails[0].error
    assert isinstance(events[-1], Finished) and events[-1].model == "o"


async def test_all_models_failed_lists_every_attempt(fake: FakeProvider) -> None:
    fake.add(Reply(status=500))
    router = make_router(two_models(fake.base_url, no_retry()))
    with pytest.raises(AllModelsFailed) as info:
        await collect(router)
    assert [a.model for a in info.value.attempts] == ["a", "b"]


async def test_retry_same_model_then_succeed(fake: FakeProvider) -> None:
    fake.add(Reply(status=500), model="a", times=1)
    fake.add(Reply.text(GOOD), model="a")
    router = make_router(two_models(fake.base_url, {"retry": {"base_delay_s": 0.01}}))
    events = await collect(router)
    retries = [e for e in events if isinstance(e, Retrying)]
    assert len(retries) == 1 and retries[0].model == "a" and retries[0].retry == 1
    assert 0.005 <= retries[0].delay_s <= 0.01
    assert not failed(events)
    done = events[-1]
    assert isinstance(done, Finished) and done.model == "a" and done.tries == 2
    assert [r.body["model"] for r in fake.requests] == ["a", "a"]


async def test_backoff_grows_exponentially_and_is_capped(fake: FakeProvider) -> None:
    fake.add(Reply(status=502), model="a")
    fake.add(Reply.text(GOOD), model="b")
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    cfg = two_models(
        fake.base_url, {"retry": {"max_retries": 4, "base_delay_s": 1.0, "max_delay_s": 3.0}}
    )
    events = await collect(make_router(cfg, sleep=sleep, rand=lambda: 1.0))
    assert slept == [1.0, 2.0, 3.0, 3.0]
    assert "after 5 tries" in failed(events)[0].error
    assert isinstance(events[-1], Finished) and events[-1].model == "b"


async def test_retry_after_header_is_honoured(fake: FakeProvider) -> None:
    fake.add(Reply(status=429, headers={"retry-after": "1"}), model="a", times=1)
    fake.add(Reply.text(GOOD), model="a")
    router = make_router(two_models(fake.base_url))
    events = await collect(router)
    assert [e.delay_s for e in events if isinstance(e, Retrying)] == [1.0]
    gap = fake.requests[1].at - fake.requests[0].at
    assert gap >= 0.95, gap  # a lower bound: the wait was honoured, however busy the machine
    assert isinstance(events[-1], Finished) and events[-1].model == "a"


async def test_retry_after_ms_header_is_honoured(fake: FakeProvider) -> None:
    fake.add(
        Reply(status=503, headers={"retry-after-ms": "300", "retry-after": "9"}), model="a", times=1
    )
    fake.add(Reply.text(GOOD), model="a")
    events = await collect(make_router(two_models(fake.base_url)))
    assert [e.delay_s for e in events if isinstance(e, Retrying)] == [0.3]
    assert fake.requests[1].at - fake.requests[0].at >= 0.28


async def test_long_retry_after_falls_back_and_cools_the_model_down(fake: FakeProvider) -> None:
    fake.add(Reply(status=429, headers={"retry-after": "120"}), model="a")
    fake.add(Reply.text(GOOD), model="b")
    board = BreakerBoard()
    router = make_router(two_models(fake.base_url), breakers=board)
    events = await collect(router)
    assert not any(isinstance(e, Retrying) for e in events)
    assert isinstance(events[-1], Finished) and events[-1].model == "b"
    assert router.health("a")["health"] == "down"
    assert router.health("a")["retry_in_s"] > 100
    # The next request skips a without sending to it.
    before = len(fake.requests)
    events = await collect(router)
    assert [r.body["model"] for r in fake.requests[before:]] == ["b"]
    assert failed(events)[0].kind == "circuit_open"


@pytest.mark.parametrize("status", [400, 401, 402, 403])
async def test_client_errors_are_never_retried(fake: FakeProvider, status: int) -> None:
    fake.add(Reply(status=status, error={"error": {"message": "nope"}}), model="a")
    fake.add(Reply.text(GOOD), model="b")
    events = await collect(make_router(two_models(fake.base_url)))
    assert [r.body["model"] for r in fake.requests] == ["a", "b"]
    assert not any(isinstance(e, Retrying) for e in events)


async def test_spend_limit_429_is_not_retried(fake: FakeProvider) -> None:
    fake.add(
        Reply(status=429, error={"error": {"message": "You exceeded your current quota"}}),
        model="a",
    )
    fake.add(Reply.text(GOOD), model="b")
    events = await collect(make_router(two_models(fake.base_url)))
    assert [r.body["model"] for r in fake.requests] == ["a", "b"]
    assert failed(events)[0].kind == "spend_limit"


async def test_context_length_error_falls_back_without_retry(fake: FakeProvider) -> None:
    fake.add(
        Reply(
            status=400,
            error={"error": {"message": "This model's maximum context length is 4096 tokens"}},
        ),
        model="a",
    )
    fake.add(Reply.text(GOOD), model="b")
    events = await collect(make_router(two_models(fake.base_url)))
    assert failed(events)[0].kind == "context_length"
    assert [r.body["model"] for r in fake.requests] == ["a", "b"]


async def test_circuit_opens_then_half_opens_and_closes(fake: FakeProvider) -> None:
    now = [1000.0]
    board = BreakerBoard(clock=lambda: now[0])
    fake.add(Reply(status=500), model="a", times=3)
    fake.add(Reply.text(GOOD))
    cfg = two_models(
        fake.base_url,
        {
            "retry": {"max_retries": 0},
            "breaker": {"failure_threshold": 3, "recovery_timeout_s": 30},
        },
    )
    router = make_router(cfg, breakers=board)
    for _ in range(3):
        await collect(router)
    assert router.health("a")["circuit"] == "open"
    assert router.health("a")["health"] == "down"
    sent_to_a = sum(1 for r in fake.requests if r.body["model"] == "a")
    assert sent_to_a == 3
    # While open, a is skipped: nothing is sent to it.
    events = await collect(router)
    assert failed(events)[0].kind == "circuit_open" and "circuit open" in failed(events)[0].error
    assert sum(1 for r in fake.requests if r.body["model"] == "a") == 3
    # After the recovery timeout one probe goes through; it succeeds and closes the circuit.
    now[0] += 31
    assert router.health("a")["circuit"] == "half_open"
    events = await collect(router)
    assert isinstance(events[-1], Finished) and events[-1].model == "a"
    assert router.health("a") == {"health": "ok", "circuit": "closed", "consecutive_failures": 0}


async def test_failed_half_open_probe_reopens(fake: FakeProvider) -> None:
    now = [0.0]
    board = BreakerBoard(clock=lambda: now[0])
    fake.add(Reply(status=500), model="a")
    fake.add(Reply.text(GOOD), model="b")
    cfg = two_models(
        fake.base_url,
        {
            "retry": {"max_retries": 0},
            "breaker": {"failure_threshold": 2, "recovery_timeout_s": 10},
        },
    )
    router = make_router(cfg, breakers=board)
    key = router.health_key(router.model("a"))  # type: ignore[arg-type]
    await collect(router)
    await collect(router)
    assert board.state(key, cfg.routing.breaker) == "open"
    now[0] += 11
    await collect(router)  # the probe fails
    assert board.state(key, cfg.routing.breaker) == "open"
    assert board.seconds_until_retry(key) == pytest.approx(10)
    assert sum(1 for r in fake.requests if r.body["model"] == "a") == 3


def _priced(base_url: str, budget: dict[str, Any], **model: Any) -> Any:
    return make_config(
        providers={"p": {"kind": "openai", "base_url": base_url}},
        models=[
            {
                "id": "pricey",
                "provider": "p",
                "input_cost_per_mtok": 10.0,
                "output_cost_per_mtok": 30.0,
                **model,
            }
        ],
        routing={"default": "pricey"},
        budget=budget,
    )


async def _spend(ledger: CostLedger, usd: float, ts: float | None = None) -> None:
    await ledger.record(
        LedgerRow(
            ts or time.time(),
            "pricey",
            "p",
            "code_generation",
            10,
            10,
            usd,
            "priced",
            1.0,
            0.1,
            "ok",
        )
    )


async def test_daily_budget_refusal_sends_nothing(fake: FakeProvider, tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "ledger.sqlite3")
    await _spend(ledger, 4.99)
    router = make_router(_priced(fake.base_url, {"daily_usd": 5.0}), ledger=ledger)
    with pytest.raises(BudgetExceeded) as info:
        await collect(router)
    message = str(info.value)
    assert "budget.daily_usd" in message and "$5.00" in message
    assert "left" in message and "$0.0100" in message
    assert info.value.budget == "daily_usd" and info.value.remaining_usd == pytest.approx(0.01)
    assert fake.requests == []


async def test_spending_from_yesterday_does_not_count_today(
    fake: FakeProvider, tmp_path: Path
) -> None:
    ledger = CostLedger(tmp_path / "ledger.sqlite3")
    await _spend(ledger, 100.0, ts=time.time() - 3 * 86_400 - 3600)
    router = make_router(_priced(fake.base_url, {"daily_usd": 5.0}), ledger=ledger)
    events = await collect(router)
    assert isinstance(events[-1], Finished)


async def test_monthly_and_per_request_budgets(fake: FakeProvider, tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "ledger.sqlite3")
    await _spend(ledger, 20.0)
    router = make_router(_priced(fake.base_url, {"monthly_usd": 20.0}), ledger=ledger)
    with pytest.raises(BudgetExceeded, match=r"budget\.monthly_usd .*\$0\.0000 left"):
        await collect(router)
    # 1024 max tokens at $30/Mtok is ~$0.03: over a $0.01 per-request cap.
    router = make_router(_priced(fake.base_url, {"per_request_usd": 0.01}), ledger=ledger)
    with pytest.raises(BudgetExceeded, match=r"budget\.per_request_usd"):
        await collect(router)
    assert fake.requests == []


async def test_free_models_always_pass_the_budget(fake: FakeProvider, tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "ledger.sqlite3")
    await _spend(ledger, 50.0)
    config = make_config(
        providers={"p": {"kind": "openai", "base_url": fake.base_url}},
        models=[
            {
                "id": "pricey",
                "provider": "p",
                "input_cost_per_mtok": 10.0,
                "output_cost_per_mtok": 30.0,
            },
            {"id": "meta/llama:free", "provider": "p", "free": True, "input_cost_per_mtok": 1.0},
        ],
        routing={"default": "pricey", "fallbacks": ["meta/llama:free"]},
        budget={"daily_usd": 1.0, "per_request_usd": 0.0},
    )
    events = await collect(make_router(config, ledger=ledger))
    assert failed(events)[0].kind == "budget"
    assert isinstance(events[-1], Finished) and events[-1].model == "meta/llama:free"
    assert [r.body["model"] for r in fake.requests] == ["meta/llama:free"]


async def test_ledger_counts_cost_from_prices_and_from_reported_cost(
    fake: FakeProvider, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.sqlite3"
    fake.add(
        Reply.text(GOOD, usage={"prompt_tokens": 1000, "completion_tokens": 500}), model="priced"
    )
    fake.add(
        Reply.text(GOOD, usage={"prompt_tokens": 1000, "completion_tokens": 500, "cost": 0.0123}),
        model="reported",
    )
    config = make_config(
        providers={"p": {"kind": "openai", "base_url": fake.base_url}},
        models=[
            {
                "id": "priced",
                "provider": "p",
                "input_cost_per_mtok": 3.0,
                "output_cost_per_mtok": 15.0,
            },
            {
                "id": "reported",
                "provider": "p",
                "input_cost_per_mtok": 3.0,
                "output_cost_per_mtok": 15.0,
            },
        ],
    )
    router = make_router(config, ledger=CostLedger(path))
    events = await collect(router, model_id="priced")
    assert isinstance(events[-1], Finished) and events[-1].cost_usd == pytest.approx(0.0105)
    events = await collect(router, model_id="reported")
    assert isinstance(events[-1], Finished) and events[-1].cost_usd == pytest.approx(0.0123)
    await router.aclose()
    # A new ledger object on the same file (a restarted server) sees both rows.
    rows = await CostLedger(path).rows()
    assert [(r.model, r.cost_source, r.outcome) for r in rows] == [
        ("priced", "priced", "ok"),
        ("reported", "reported", "ok"),
    ]
    assert sum(r.cost_usd for r in rows) == pytest.approx(0.0228)
    assert rows[0].prompt_tokens == 1000 and rows[0].completion_tokens == 500
    assert rows[0].ttft_s is not None and rows[0].latency_s >= rows[0].ttft_s
    assert await CostLedger(path).spent_since(0) == pytest.approx(0.0228)


async def test_ledger_records_failures_and_cancels(fake: FakeProvider, tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "l.sqlite3")
    fake.add(Reply(status=500), model="a")
    fake.add(Reply.text("```python\n" + "z = 1\n" * 50, size=3, delay=0.01), model="b")
    router = make_router(two_models(fake.base_url, no_retry()), ledger=ledger)
    stream = router.stream(request())
    async for event in stream:
        if isinstance(event, TextDelta):
            break  # the caller walks away mid-stream (a cancel)
    await stream.aclose()  # type: ignore[attr-defined]
    await router.flush()
    rows = await ledger.rows()
    assert [(r.model, r.outcome, r.error_kind) for r in rows] == [
        ("a", "error", "server"),
        ("b", "cancelled", None),
    ]


async def test_prompt_events_start_with_attempt_started(fake: FakeProvider) -> None:
    events = await collect(make_router(two_models(fake.base_url)))
    assert isinstance(events[0], AttemptStarted) and events[0].model == "a"


async def test_warm_builds_the_provider_client_and_sends_nothing(fake: FakeProvider) -> None:
    """``warm`` (run by the server after ``initialized``) makes the client the first
    request then uses; no connection is opened until that request."""
    fake.add(Reply.text(GOOD))
    router = make_router(two_models(fake.base_url, no_retry()))
    try:
        await router.warm()
        provider = router.registry.get("p")
        client = provider._client  # type: ignore[attr-defined]
        assert client is not None
        assert fake.connections == 0 and fake.requests == []
        assert text_of(await collect(router)) == GOOD
        assert provider._client is client  # type: ignore[attr-defined]
    finally:
        await router.aclose()
