"""The local ledger keeps one connection open (models/ledger.py): what that must not change.

Rows land and are seen by other connections at once, a refused reservation leaves no
transaction open, a deleted or replaced file is followed, and closing is not final.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tta_codegen.models.ledger import BudgetRefusal, CostLedger, LedgerRow


def row(model: str = "m", cost: float = 0.0) -> LedgerRow:
    return LedgerRow(
        ts=time.time(),
        model=model,
        provider="p",
        task_type="code_generation",
        prompt_tokens=1,
        completion_tokens=1,
        cost_usd=cost,
        cost_source="priced",
        latency_s=0.1,
        ttft_s=0.05,
        outcome="ok",
    )


def test_rows_are_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "ledger.db")
    ledger.record_sync(row("a"))
    other = CostLedger(tmp_path / "ledger.db")  # a second server process, say
    assert [r.model for r in other.rows_sync()] == ["a"]
    other.record_sync(row("b"))
    assert [r.model for r in ledger.rows_sync()] == ["a", "b"]
    with sqlite3.connect(tmp_path / "ledger.db") as plain:
        assert plain.execute("SELECT COUNT(*) FROM requests").fetchone() == (2,)


def test_a_refused_reservation_leaves_no_transaction_open(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "ledger.db")
    ledger.record_sync(row(cost=1.0))
    with pytest.raises(BudgetRefusal):
        ledger.reserve_sync(0.5, [("daily_usd", 1.2, 0.0)])
    ledger.record_sync(row("after"))  # would fail inside a transaction still open
    assert ledger.reserve_sync(0.1, [("daily_usd", 1.2, 0.0)])
    other = CostLedger(tmp_path / "ledger.db")
    assert [r.model for r in other.rows_sync()] == ["m", "after"]


def test_a_deleted_ledger_file_is_created_again(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = CostLedger(path)
    ledger.record_sync(row("before"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    assert ledger.rows_sync() == []  # reading does not create it
    ledger.record_sync(row("after"))
    assert [r.model for r in CostLedger(path).rows_sync()] == ["after"]


def test_closing_is_not_final(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "ledger.db")
    ledger.record_sync(row("a"))
    ledger.close()
    ledger.record_sync(row("b"))
    assert [r.model for r in ledger.rows_sync()] == ["a", "b"]
    ledger.close()


def test_writes_from_many_threads_all_land(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "ledger.db")
    threads = [
        threading.Thread(target=lambda i=i: [ledger.record_sync(row(f"t{i}")) for _ in range(5)])
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ledger.rows_sync()) == 20
