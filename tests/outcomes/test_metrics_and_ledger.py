"""Outcome metrics, retention ratios, the ledger migration and budget reservations on
SQLite (real files, real processes)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tta_codegen.models.ledger import (
    BudgetRefusal,
    CostLedger,
    LedgerRow,
    OutcomeRow,
    RetentionRow,
)
from tta_codegen.outcomes.metrics import grouped, outcome_metrics, parse_since
from tta_codegen.outcomes.retention import retained_ratio


def outcome(decision: str, **kw: object) -> OutcomeRow:
    base: dict[str, object] = {
        "ts": 1_700_000_000.0,
        "kind": "generate",
        "source": "lsp",
        "template": "python/function",
        "category": "python",
        "model": "m1",
        "language": "python",
        "gates_first": True,
        "gates_final": True,
        "outcome": decision,
        "generation_s": 2.0,
        "decision_s": 3.0,
        "lines": 10,
        "cost_usd": 0.01,
    }
    base.update(kw)
    return OutcomeRow(**base)  # type: ignore[arg-type]


def test_metrics_by_hand() -> None:
    a = outcome("accepted", gates_first=False)
    b = outcome("accepted", generation_s=4.0, decision_s=6.0, model="m2", lines=30)
    rows = [a, b, outcome("discarded"), outcome("regenerated"), outcome("cancelled")]
    rows.append(outcome("failed", gates_first=None, gates_final=None, source="ci"))
    retention = [
        RetentionRow(a.uid, "save", 1.0, 1.0),
        RetentionRow(a.uid, "idle", 0.9, 2.0),  # idle wins over save
        RetentionRow(b.uid, "save", 0.5, 1.0),
    ]
    m = outcome_metrics(rows, retention)
    assert m["generations"] == 6 and m["accepted"] == 2 and m["ci_runs"] == 1
    assert m["acceptance_rate"] == pytest.approx(2 / 4)  # cancel/fail are no decision
    assert m["gates_pass_rate_first"] == pytest.approx(4 / 5)
    assert m["gates_pass_rate_final"] == 1.0
    assert m["retention_p50"] == pytest.approx(0.7)
    assert m["minimal_editing_share"] == 0.5
    assert m["request_to_accept_p50_s"] == pytest.approx(7.5)
    assert m["cost_per_accepted_line_usd"] == pytest.approx(0.06 / 40)
    assert m["components_per_week"] == {"python": {"2023-W46": 2}}
    by_model = grouped(rows, retention, "model")
    assert set(by_model) == {"m1", "m2"} and by_model["m2"]["acceptance_rate"] == 1.0
    with pytest.raises(ValueError, match="--by"):
        grouped(rows, retention, "colour")


def test_inline_suggestions_have_their_own_numbers_and_leave_the_plans_alone() -> None:
    gen = outcome("accepted")
    shown = [
        outcome(d, kind="inline", template=None, category=None)
        for d in ("accepted",) + ("dismissed",) * 3
    ]
    retention = [
        RetentionRow(gen.uid, "idle", 0.6, 1.0),
        RetentionRow(shown[0].uid, "save", 1.0, 1.0),
    ]
    m = outcome_metrics([gen, *shown], retention)
    # The plan's metrics: over the one generation only.
    assert m["generations"] == 1 and m["accepted"] == 1 and m["acceptance_rate"] == 1.0
    assert m["retention_p50"] == 0.6 and m["accepted_lines"] == 10
    assert m["components_per_week"] == {"python": {"2023-W46": 1}}
    assert "dismissed" not in m
    assert m["inline_suggestions"] == 4 and m["inline_accepted"] == 1
    assert m["inline_acceptance_rate"] == 0.25 and m["inline_retention_p50"] == 1.0
    empty = outcome_metrics([gen], [])
    assert empty["inline_suggestions"] == 0 and empty["inline_acceptance_rate"] is None


def test_empty_metrics_say_none_not_zero() -> None:
    m = outcome_metrics([], [])
    assert m["acceptance_rate"] is None and m["retention_p50"] is None
    assert m["cost_per_accepted_line_usd"] is None


def test_since_parsing() -> None:
    assert parse_since("30d", now=100 * 86_400) == pytest.approx(70 * 86_400)
    assert parse_since("12h", now=86_400) == pytest.approx(43_200)
    assert parse_since(None) is None
    assert parse_since("2026-11-01") is not None
    with pytest.raises(ValueError, match="30d"):
        parse_since("last tuesday")


def test_retention_ratio() -> None:
    text = "def f(x):\n    y = x * 2\n    return y + 1\n"
    assert retained_ratio(text, text) == 1.0
    assert retained_ratio(text, "") == 0.0
    half = text[: len(text) // 2]
    assert retained_ratio(text, half) == pytest.approx(0.5, abs=0.05)
    # A rename costs only the renamed characters.
    assert retained_ratio(text, text.replace("y", "z")) > 0.75
    # Whitespace and stray letters shared by chance are not code that was kept.
    assert retained_ratio(text, "        q\n") == 0.0


V1_SCHEMA = """
CREATE TABLE requests (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL,
    task_type TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, cost_source TEXT NOT NULL,
    latency_s REAL NOT NULL, ttft_s REAL, outcome TEXT NOT NULL, error_kind TEXT
);
"""


def test_migration_from_the_first_schema_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    for i in range(5):
        conn.execute(
            "INSERT INTO requests (ts, model, provider, task_type, prompt_tokens, "
            "completion_tokens, cost_usd, cost_source, latency_s, ttft_s, outcome) "
            "VALUES (?, 'old', 'p', 'code_generation', 10, 20, 0.5, 'priced', 1.0, 0.1, 'ok')",
            (1000.0 + i,),
        )
    conn.commit()
    conn.close()
    ledger = CostLedger(path)
    rows = ledger.rows_sync()
    assert [r.ts for r in rows] == [1000.0 + i for i in range(5)]
    assert len({r.uid for r in rows}) == 5 and all(len(r.uid) == 32 for r in rows)
    assert ledger.spent_since_sync(0) == pytest.approx(2.5)
    o = outcome("accepted")
    ledger.write_sync(o)
    ledger.write_sync(o)  # the same uid twice: stored once
    assert ledger.outcomes_sync() == [o]
    (version,) = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    assert version == 2


def test_reservations_count_until_settled(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "l.sqlite3")
    limits = [("daily_usd", 1.0, 0.0)]
    first = ledger.reserve_sync(0.6, limits)
    with pytest.raises(BudgetRefusal) as refused:
        ledger.reserve_sync(0.6, limits)  # 0.6 reserved + 0.6 > 1.0
    assert refused.value.name == "daily_usd" and refused.value.spent == pytest.approx(0.6)
    row = LedgerRow(time.time(), "m", "p", "code_generation", 1, 1, 0.2, "priced", 1.0, None, "ok")
    ledger.record_sync(row, first)  # settles: 0.2 spent, nothing reserved
    second = ledger.reserve_sync(0.8, limits)
    ledger.release_sync(second)
    assert ledger.spent_since_sync(0) == pytest.approx(0.2)
    ledger.reserve_sync(0.8, limits)
