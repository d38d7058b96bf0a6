"""The model listing's one definition of "default" and "health", in-process.

``tta.listModels`` and ``tta-codegen models`` both answer with
:func:`~tta_codegen.models.listing.model_listing`; the CLI side of the same rows is in
tests/models/test_cli.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.models.conftest import make_config, make_router
from tta_codegen.models.ledger import CostLedger, LedgerRow
from tta_codegen.models.listing import model_listing

MODELS = [{"id": "a", "provider": "p"}, {"id": "b", "provider": "p"}, {"id": "c", "provider": "p"}]


def config(**routing: Any) -> Any:
    return make_config(
        providers={"p": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        models=MODELS,
        routing=routing,
    )


async def record(ledger: CostLedger, model: str, ok: int, failed: int) -> None:
    now = time.time()
    for outcome in ["ok"] * ok + ["error"] * failed:
        await ledger.record(
            LedgerRow(now, model, "p", "code_generation", 10, 5, 0.0, "free", 0.5, 0.1, outcome)
        )


async def test_the_default_is_the_head_of_the_plan(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "l.db")
    plain = make_router(config(default="b"), ledger=ledger)
    assert plain.default_model() == "b"
    assert [m["id"] for m in await model_listing(plain) if m["default"]] == ["b"]
    # A task rule beats routing.default for what a plain tta.generate would use.
    ruled = make_router(
        config(default="b", tasks={"code_generation": {"model": "c"}}), ledger=ledger
    )
    assert [m["id"] for m in await model_listing(ruled) if m["default"]] == ["c"]
    assert make_router(make_config(), ledger=ledger).default_model() is None


async def test_health_before_any_request_comes_from_the_ledger_history(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "l.db")
    await record(ledger, "a", ok=2, failed=3)  # 60 % failed: degraded
    await record(ledger, "b", ok=3, failed=1)  # 25 % failed: ok
    router = make_router(config(default="a"), ledger=ledger)
    health = {m["id"]: m["health"] for m in await model_listing(router)}
    assert health == {"a": "degraded", "b": "ok", "c": "unknown"}
    await router.aclose()
