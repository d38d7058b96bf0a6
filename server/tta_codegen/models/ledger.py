"""The cost ledger: one SQLite row per request sent to a model, kept across restarts.

Budgets and ``tta.stats`` read it; the router writes it. SQLite in WAL mode with a busy
timeout lets two server processes (two editor windows) write at once. Every call opens
its own short-lived connection in a worker thread, so no blocking I/O runs on the event
loop and no connection is shared between threads. A broken ledger (read-only disk) is
logged and never stops a generation.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from pathlib import Path

from tta_codegen.models.paths import ledger_path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    task_type TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cost_source TEXT NOT NULL,
    latency_s REAL NOT NULL,
    ttft_s REAL,
    outcome TEXT NOT NULL,
    error_kind TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE INDEX IF NOT EXISTS requests_model ON requests (model, ts);
"""


@dataclass(frozen=True)
class LedgerRow:
    ts: float
    model: str
    provider: str
    task_type: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cost_source: str  # "reported" (the provider priced it) | "priced" (our prices) | "free"
    latency_s: float  # request sent -> stream ended
    ttft_s: float | None  # request sent -> first text
    outcome: str  # "ok" | "error" | "cancelled"
    error_kind: str | None = None


_COLUMNS = [f.name for f in fields(LedgerRow)]


def start_of_day(now: float | None = None) -> float:
    """Local midnight: "today" is the user's day, not UTC's."""
    dt = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    return dt.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def start_of_month(now: float | None = None) -> float:
    dt = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class CostLedger:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or ledger_path()
        self._ready = False

    # -- synchronous core, always run in a worker thread --------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        if not self._ready:
            try:
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
            self._ready = True
        return conn

    @staticmethod
    def _prepare(conn: sqlite3.Connection) -> None:
        """WAL mode and the schema, once per process.

        Switching the journal mode needs an exclusive lock and SQLite answers "database is
        locked" at once, without waiting, when another process holds the file (two editor
        windows starting together): retry for a while, and skip the switch when the file
        is already in WAL mode, which is the common case.
        """
        deadline = time.monotonic() + 10.0
        while True:
            try:
                (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def record_sync(self, row: LedgerRow) -> None:
        conn = self._connect()
        try:
            placeholders = ", ".join("?" for _ in _COLUMNS)
            conn.execute(
                f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                astuple(row),
            )
        finally:
            conn.close()

    def spent_since_sync(self, since: float) -> float:
        conn = self._connect()
        try:
            (total,) = conn.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE ts >= ?", (since,)
            ).fetchone()
            return float(total)
        finally:
            conn.close()

    def rows_sync(self, since: float | None = None, model: str | None = None) -> list[LedgerRow]:
        if not self.path.exists():
            return []  # reading stats must not create files
        conn = self._connect()
        try:
            sql = f"SELECT {', '.join(_COLUMNS)} FROM requests WHERE ts >= ?"
            args: list[object] = [since or 0.0]
            if model is not None:
                sql += " AND model = ?"
                args.append(model)
            return [LedgerRow(*r) for r in conn.execute(sql + " ORDER BY ts", args)]
        finally:
            conn.close()

    # -- async API for the event loop ----------------------------------------------------

    async def record(self, row: LedgerRow) -> None:
        await asyncio.to_thread(self.record_sync, row)

    async def spent_since(self, since: float) -> float:
        return await asyncio.to_thread(self.spent_since_sync, since)

    async def rows(self, since: float | None = None, model: str | None = None) -> list[LedgerRow]:
        return await asyncio.to_thread(self.rows_sync, since, model)
