"""Inline completion statistics: suggestions shown and accepted, per model.

LSP has no "accepted" event, so clients report it (``tta.completionAccepted``). Counts
live in a small SQLite file beside the cost ledger (one row per event), kept across
restarts and shared by editor windows, so ``tta.stats`` and ``tta-codegen stats`` show
the same numbers. Writes run in a worker thread; a broken file is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from tta_codegen.models.paths import ledger_path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completion_events (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    model TEXT NOT NULL,
    event TEXT NOT NULL,  -- "shown" | "accepted"
    chars INTEGER NOT NULL
);
"""


def acceptance_path(ledger: Path | None = None) -> Path:
    return (ledger or ledger_path()).with_name("completions.sqlite")


class AcceptanceLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or acceptance_path()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.executescript(_SCHEMA)
        return conn

    def record_sync(self, model: str, event: str, chars: int) -> None:
        conn = self._connect()
        try:
            conn.execute(
                "INSERT INTO completion_events (ts, model, event, chars) VALUES (?, ?, ?, ?)",
                (time.time(), model, event, chars),
            )
        finally:
            conn.close()

    async def record(self, model: str, event: str, chars: int = 0) -> None:
        try:
            await asyncio.to_thread(self.record_sync, model, event, chars)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot write completion stats %s: %s", self.path, exc)

    def summary_sync(self) -> list[dict[str, Any]]:
        """Per model: shown, accepted, chars_accepted, acceptance_rate (accepted/shown)."""
        if not self.path.exists():
            return []  # reading stats must not create files
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT model, "
                "SUM(event = 'shown'), SUM(event = 'accepted'), "
                "SUM(CASE WHEN event = 'accepted' THEN chars ELSE 0 END) "
                "FROM completion_events GROUP BY model ORDER BY model"
            ).fetchall()
        finally:
            conn.close()
        out = []
        for model, shown, accepted, chars in rows:
            out.append(
                {
                    "model": model,
                    "shown": int(shown or 0),
                    "accepted": int(accepted or 0),
                    "chars_accepted": int(chars or 0),
                    "acceptance_rate": round(accepted / shown, 4) if shown else None,
                }
            )
        return out

    async def summary(self) -> list[dict[str, Any]]:
        try:
            return await asyncio.to_thread(self.summary_sync)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot read completion stats %s: %s", self.path, exc)
            return []
