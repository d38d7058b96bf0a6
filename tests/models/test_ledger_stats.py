"""The ledger on real SQLite files: WAL, two writer processes, stats from its rows."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.guards import HANG_GUARD_S
from tta_codegen.models.ledger import CostLedger, LedgerRow, start_of_day
from tta_codegen.models.paths import ledger_path
from tta_codegen.models.settings import BudgetConfig
from tta_codegen.models.stats import model_stats, percentile, summary


def row(model: str = "m", ts: float | None = None, **kw: object) -> LedgerRow:
    base: dict[str, object] = {
        "ts": time.time() if ts is None else ts,
        "model": model,
        "provider": "p",
        "task_type": "code_generation",
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "cost_usd": 0.01,
        "cost_source": "priced",
        "latency_s": 1.0,
        "ttft_s": 0.5,
        "outcome": "ok",
        "error_kind": None,
    }
    base.update(kw)
    return LedgerRow(**base)  # type: ignore[arg-type]


def test_default_path_follows_xdg_data_home(xdg_dirs: Path) -> None:
    assert ledger_path() == xdg_dirs / "data" / "tta-codegen" / "ledger.sqlite3"
    assert CostLedger().path == ledger_path()


async def test_wal_mode_and_rows_survive_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.sqlite3"
    await CostLedger(path).record(row(cost_usd=0.5))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    again = CostLedger(path)
    assert [r.cost_usd for r in await again.rows()] == [0.5]
    assert await again.spent_since(start_of_day()) == pytest.approx(0.5)


def test_reading_stats_does_not_create_the_ledger(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "none.sqlite3")
    assert ledger.rows_sync() == [] and not ledger.path.exists()


WRITER = """
import sys, time
from pathlib import Path
from tta_codegen.models.ledger import CostLedger, LedgerRow
ledger = CostLedger(Path(sys.argv[1]))
for i in range(60):
    ledger.record_sync(LedgerRow(time.time(), sys.argv[2], "p", "tests", 1, 1, 0.001, "priced", 0.1, 0.01, "ok"))
"""


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    CostLedger(path).rows_sync()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in ("one", "two")
    ]
    assert [p.wait(timeout=HANG_GUARD_S) for p in procs] == [0, 0]
    rows = CostLedger(path).rows_sync()
    assert len(rows) == 120
    assert {r.model for r in rows} == {"one", "two"}
    assert sum(r.cost_usd for r in rows) == pytest.approx(0.12)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


def test_model_stats_numbers() -> None:
    now = time.time()
    rows = [
        row("a", ts=now, latency_s=1.0, ttft_s=0.2, completion_tokens=80, cost_usd=0.02),
        row("a", ts=now, latency_s=3.0, ttft_s=1.0, completion_tokens=120, cost_usd=0.03),
        row("a", ts=now, outcome="error", error_kind="server", completion_tokens=0, cost_usd=0.0),
        row(
            "a", ts=now - 40 * 86_400, cost_usd=1.0, latency_s=2.0, ttft_s=0.4, completion_tokens=0
        ),
        row("b", ts=now, outcome="cancelled"),
    ]
    stats = {s.model: s for s in model_stats(rows, now)}
    a = stats["a"]
    assert (a.requests, a.failures, a.cancelled) == (4, 1, 0)
    assert a.ttft_p50_ms == 400.0 and a.ttft_p95_ms == 1000.0
    assert a.total_p50_ms == 2000.0 and a.total_p95_ms == 3000.0
    # 200 tokens over (0.8 + 2.0 + 1.6) s of generation after the first token.
    assert a.tokens_per_s == pytest.approx(200 / 4.4, abs=0.1)
    assert a.cost_today_usd == pytest.approx(0.05) and a.cost_total_usd == pytest.approx(1.05)
    assert stats["b"].cancelled == 1 and stats["b"].failures == 0
    out = summary(rows, now, budget=BudgetConfig(daily_usd=1.0))
    assert out["totals"]["requests"] == 5
    assert out["budget"]["daily_usd"]["left"] == pytest.approx(1.0 - 0.06)
