"""The router's view of the ledger's history (``ModelRouter.prepare``): read before the
first request, then refreshed in the background instead of on a request's way."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.models.conftest import make_config, make_router
from tta_codegen.models import router as router_module
from tta_codegen.models.ledger import CostLedger, LedgerRow


def row(outcome: str) -> LedgerRow:
    return LedgerRow(
        ts=time.time(),
        model="fast",
        provider="p",
        task_type="code_generation",
        prompt_tokens=1,
        completion_tokens=1,
        cost_usd=0.0,
        cost_source="free",
        latency_s=0.1,
        ttft_s=0.05,
        outcome=outcome,
        error_kind=None if outcome == "ok" else "server",
    )


async def test_history_is_read_first_then_refreshed_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = CostLedger(tmp_path / "ledger.db")
    ledger.record_sync(row("ok"))
    router = make_router(
        make_config(
            providers={"p": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}},
            models=[{"id": "fast", "provider": "p"}],
            routing={"default": "fast"},
        ),
        ledger=ledger,
    )
    try:
        await router.prepare()  # the first request waits for the history
        assert router.observed["fast"].requests == 1
        ledger.record_sync(row("error"))
        monkeypatch.setattr(router_module, "_OBSERVED_REFRESH_S", 0.0)  # it is stale now
        await router.prepare()
        assert router.observed["fast"].requests == 1  # this request did not wait for it
        await router.flush()  # background work, as at shutdown
        assert (router.observed["fast"].requests, router.observed["fast"].failures) == (2, 1)
    finally:
        await router.aclose()
