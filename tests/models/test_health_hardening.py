"""Issue 19, items 10-11: what counts against a model's health, per provider and model,
and a breaker that counts failed requests (as docs/models.md says), not tries."""

from __future__ import annotations

from typing import Any

from tests.fakes.provider import FakeProvider, Reply
from tests.models.conftest import make_config, make_router, request
from tta_codegen.models.breaker import BreakerBoard
from tta_codegen.models.router import AllModelsFailed, ModelRouter, Retrying, RouterEvent

GOOD = "```python\ngood = 1\n```\n"
TOO_LONG = Reply(
    status=400, error={"error": {"message": "This model's maximum context length is 4096 tokens"}}
)


async def collect(router: ModelRouter) -> list[RouterEvent]:
    """The events of one request that fails on every model."""
    events: list[RouterEvent] = []
    try:
        async for event in router.stream(request()):
            events.append(event)
    except AllModelsFailed:
        return events
    raise AssertionError(f"expected the request to fail: {events}")


def config(base_url: str, *, key_env: str | None = None, **routing: Any) -> Any:
    provider: dict[str, Any] = {"kind": "openai", "base_url": base_url}
    if key_env:
        provider["api_key_env"] = key_env
    return make_config(
        providers={"p": provider},
        models=[{"id": "fast", "provider": "p"}],
        routing={"default": "fast", **routing},
    )


async def test_the_breaker_counts_failed_requests_not_tries(fake: FakeProvider) -> None:
    fake.add(Reply(status=500), model="fast")
    cfg = config(
        fake.base_url,
        retry={"max_retries": 2, "base_delay_s": 0.001, "max_delay_s": 0.001},
        breaker={"failure_threshold": 5, "recovery_timeout_s": 60},
    )
    router = make_router(cfg, breakers=BreakerBoard())
    for n in range(1, 5):
        events = await collect(router)
        assert sum(isinstance(e, Retrying) for e in events) == 2  # 3 tries per request
        assert router.health("fast")["consecutive_failures"] == n
        assert router.health("fast")["circuit"] == "closed", n
    await collect(router)  # the fifth failed request opens it
    assert router.health("fast")["circuit"] == "open"
    assert len(fake.requests) == 15


async def test_missing_key_and_too_long_input_do_not_count(
    fake: FakeProvider, monkeypatch: Any
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_FOR_HEALTH", raising=False)
    board = BreakerBoard()
    cfg = config(fake.base_url, key_env="NO_SUCH_KEY_FOR_HEALTH", breaker={"failure_threshold": 1})
    router = make_router(cfg, breakers=board)
    for _ in range(3):
        events = await collect(router)
        assert events[-1].kind == "auth"  # type: ignore[union-attr]
    assert fake.requests == []  # nothing was sent
    assert router.health("fast")["consecutive_failures"] == 0
    assert router.health("fast")["health"] == "unknown"

    fake.add(TOO_LONG, model="fast")
    router = make_router(config(fake.base_url, breaker={"failure_threshold": 1}), breakers=board)
    for _ in range(3):
        events = await collect(router)
        assert events[-1].kind == "context_length"  # type: ignore[union-attr]
    await router.flush()
    assert router.health("fast")["circuit"] == "closed"
    assert router.health("fast")["consecutive_failures"] == 0
    fresh = make_router(config(fake.base_url), breakers=board)
    await fresh.prepare()  # the ledger's history (3 requests) does not count them either
    assert (fresh.observed["fast"].requests, fresh.observed["fast"].failures) == (3, 0)
    assert fresh.health("fast")["health"] == "ok"


async def test_health_is_per_provider_and_model(fake: FakeProvider) -> None:
    board = BreakerBoard()  # process-wide in the server: shared by every workspace
    fake.add(Reply(status=500), model="fast")
    broken = make_router(
        config(fake.base_url, retry={"max_retries": 0}, breaker={"failure_threshold": 1}),
        breakers=board,
    )
    await collect(broken)
    assert broken.health("fast")["health"] == "down"
    elsewhere = make_config(
        providers={"q": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        models=[{"id": "fast", "provider": "q"}],
        routing={"default": "fast"},
    )
    other = make_router(elsewhere, breakers=board)
    await other.prepare()
    assert other.health("fast")["health"] == "unknown"
    assert other.health("fast")["consecutive_failures"] == 0
