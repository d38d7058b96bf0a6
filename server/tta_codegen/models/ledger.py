"""The ledger: one SQLite row per request sent to a model, and what became of the code.

Budgets, ``tta.stats`` and ``tta-codegen report`` read it; the router writes requests,
the editors and the CLI write outcomes (``outcomes/``). SQLite in WAL mode with a busy
timeout lets two server processes (two editor windows) write at once. Every call runs in
a worker thread, so no blocking I/O runs on the event loop, on one connection per ledger
kept open and used by one thread at a time (a lock): a connection per row cost a connect,
the schema check and the last-connection checkpoint with its fsyncs on every row, ~1 ms
each on a generation's way. If the file is deleted or replaced, the next call opens the
new one. A broken ledger (read-only disk) is logged and never stops a generation.

Every row carries a ``uid`` so a row written twice (a replay to the team database after
an outage, see ``models/ledger_pg.py``) is stored once. Budgets are enforced with
reservations: :meth:`CostLedger.reserve` checks what is spent *and reserved* and adds
the request's worst case in one write transaction, and the request's row replaces the
reservation in another (:meth:`CostLedger.record` with ``reservation``), so writers
racing for the last dollar cannot both get it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from tta_codegen.models.paths import ledger_path

# Version 1: requests only (the first releases). Version 2 adds uids, outcomes,
# retention, reservations and the outbox for the team ledger. Migrations only add.
SCHEMA_VERSION = 2

_SCHEMA_V1 = """
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

_MIGRATE_V2 = """
ALTER TABLE requests ADD COLUMN uid TEXT;
UPDATE requests SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS requests_uid ON requests (uid);
CREATE TABLE IF NOT EXISTS outcomes (
    uid TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    template TEXT,
    category TEXT,
    model TEXT,
    language TEXT,
    gates_first INTEGER,
    gates_final INTEGER,
    outcome TEXT NOT NULL,
    generation_s REAL,
    decision_s REAL,
    lines INTEGER NOT NULL,
    cost_usd REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outcomes_ts ON outcomes (ts);
CREATE TABLE IF NOT EXISTS retention (
    uid TEXT PRIMARY KEY,
    outcome_uid TEXT NOT NULL,
    stage TEXT NOT NULL,
    ratio REAL NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS retention_ts ON retention (ts);
CREATE TABLE IF NOT EXISTS reservations (
    uid TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    amount_usd REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    reservation TEXT
);
"""

# A reservation outlives a crashed writer only this long; then it stops counting.
RESERVATION_TTL_S = 600.0


def new_uid() -> str:
    return uuid.uuid4().hex


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
    uid: str = field(default_factory=new_uid)


@dataclass(frozen=True)
class OutcomeRow:
    """What became of one generation (refine, tests, inline suggestion). Never its text."""

    ts: float  # when it was requested
    kind: str  # "generate" | "refine" | "tests" | "inline"
    source: str  # "lsp" | "cli" | "ci"
    template: str | None
    category: str | None
    model: str | None
    language: str | None
    gates_first: bool | None  # None: no gate ran
    gates_final: bool | None
    outcome: str  # accepted | discarded | regenerated | cancelled | failed
    generation_s: float | None  # request -> code complete
    decision_s: float | None  # code complete -> the user's decision
    lines: int
    cost_usd: float
    uid: str = field(default_factory=new_uid)


@dataclass(frozen=True)
class RetentionRow:
    """How much of an accepted generation's text is still there: a ratio, never the text."""

    outcome_uid: str
    stage: str  # "save" (first save after accepting) | "idle" (region left alone)
    ratio: float
    ts: float
    uid: str = ""

    def __post_init__(self) -> None:
        if not self.uid:
            # One row per (outcome, stage): recording it again changes nothing.
            object.__setattr__(self, "uid", f"{self.outcome_uid}:{self.stage}")


TABLES: dict[str, type[LedgerRow] | type[OutcomeRow] | type[RetentionRow]] = {
    "requests": LedgerRow,
    "outcomes": OutcomeRow,
    "retention": RetentionRow,
}
AnyRow = LedgerRow | OutcomeRow | RetentionRow


def table_of(row: AnyRow) -> str:
    return next(name for name, cls in TABLES.items() if isinstance(row, cls))


def columns(cls: type[AnyRow]) -> list[str]:
    return [f.name for f in fields(cls)]


def to_db(row: AnyRow) -> tuple[object, ...]:
    """Column values; booleans as 0/1 so SQLite and PostgreSQL store the same thing."""
    return tuple(int(v) if isinstance(v, bool) else v for v in astuple(row))


def from_db(cls: type[AnyRow], values: tuple[Any, ...] | list[Any]) -> AnyRow:
    out: list[Any] = list(values)
    if cls is OutcomeRow:
        for name in ("gates_first", "gates_final"):
            i = columns(cls).index(name)
            out[i] = None if out[i] is None else bool(out[i])
    return cls(*out)


class BudgetRefusal(Exception):
    """A reservation did not fit: ``name`` is the budget, ``spent`` includes reservations."""

    def __init__(self, name: str, limit: float, spent: float) -> None:
        super().__init__(name)
        self.name, self.limit, self.spent = name, limit, spent


# (budget name, limit in USD, start of its period)
Limit = tuple[str, float, float]


def start_of_day(now: float | None = None) -> float:
    """Local midnight: "today" is the user's day, not UTC's."""
    dt = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    return dt.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def start_of_month(now: float | None = None) -> float:
    dt = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class _Blocking(Protocol):
    """The blocking calls :class:`AsyncLedgerAPI` runs in a thread."""

    def record_sync(self, row: LedgerRow, reservation: str | None = None) -> None: ...
    def write_sync(self, row: AnyRow) -> None: ...
    def spent_since_sync(self, since: float) -> float: ...
    def reserve_sync(self, amount: float, limits: list[Limit]) -> str: ...
    def release_sync(self, reservation: str) -> None: ...
    def rows_sync(
        self, since: float | None = None, model: str | None = None
    ) -> list[LedgerRow]: ...
    def outcomes_sync(self, since: float | None = None) -> list[OutcomeRow]: ...
    def retention_sync(self, since: float | None = None) -> list[RetentionRow]: ...


class AsyncLedgerAPI:
    """The event loop's side of a ledger: each call runs its ``*_sync`` twin in a thread.

    Shared by the local :class:`CostLedger` and the team ledger (``ledger_pg.py``), which
    differ only in their blocking implementations.
    """

    async def record(self: _Blocking, row: LedgerRow, reservation: str | None = None) -> None:
        await asyncio.to_thread(self.record_sync, row, reservation)

    async def write(self: _Blocking, row: AnyRow) -> None:
        await asyncio.to_thread(self.write_sync, row)

    async def spent_since(self: _Blocking, since: float) -> float:
        return await asyncio.to_thread(self.spent_since_sync, since)

    async def reserve(self: _Blocking, amount: float, limits: list[Limit]) -> str:
        return await asyncio.to_thread(self.reserve_sync, amount, limits)

    async def release(self: _Blocking, reservation: str) -> None:
        await asyncio.to_thread(self.release_sync, reservation)

    async def rows(
        self: _Blocking, since: float | None = None, model: str | None = None
    ) -> list[LedgerRow]:
        return await asyncio.to_thread(self.rows_sync, since, model)

    async def outcomes(self: _Blocking, since: float | None = None) -> list[OutcomeRow]:
        return await asyncio.to_thread(self.outcomes_sync, since)

    async def retention(self: _Blocking, since: float | None = None) -> list[RetentionRow]:
        return await asyncio.to_thread(self.retention_sync, since)


class CostLedger(AsyncLedgerAPI):
    """The local ledger (SQLite): the default, and the team ledger's fallback."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or ledger_path()
        self._lock = threading.Lock()  # one thread at a time on the connection
        self._conn: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) the connection has open

    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        """Close the connection (a later call opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- synchronous core, always run in a worker thread --------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The ledger's connection, this thread's alone until the block ends; a
        transaction an error left open is rolled back."""
        with self._lock:
            conn = self._open()
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def _open(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is not None:
            if self._file == _identity(self.path):
                return conn
            conn.close()  # the file was deleted or replaced: open what is there now
            self._conn = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn, self._file = conn, _identity(self.path)
        return conn

    @staticmethod
    def _prepare(conn: sqlite3.Connection) -> None:
        """WAL mode, the schema and its migrations, once per connection.

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
                conn.executescript(_SCHEMA_V1)
                CostLedger._migrate(conn)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Bring an older ledger up to :data:`SCHEMA_VERSION`; one transaction, no row lost."""
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version < 2:
                for statement in _MIGRATE_V2.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _insert(conn: sqlite3.Connection, row: AnyRow) -> bool:
        """Insert unless a row with the same uid is there; True if it was new."""
        cols = columns(type(row))
        cur = conn.execute(
            f"INSERT OR IGNORE INTO {table_of(row)} ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})",
            to_db(row),
        )
        return cur.rowcount > 0

    def write_sync(
        self, row: AnyRow, reservation: str | None = None, *, outbox: bool = False
    ) -> None:
        """Write a row (settling ``reservation`` in the same transaction).

        ``outbox``: also queue the row for the team database (it was unreachable).
        """
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert(conn, row)
                if reservation is not None:
                    conn.execute("DELETE FROM reservations WHERE uid = ?", (reservation,))
                if outbox:
                    conn.execute(
                        "INSERT OR IGNORE INTO outbox (tbl, uid) VALUES (?, ?)",
                        (table_of(row), row.uid),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def record_sync(self, row: LedgerRow, reservation: str | None = None) -> None:
        self.write_sync(row, reservation)

    def spent_since_sync(self, since: float) -> float:
        with self._connection() as conn:
            (total,) = conn.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE ts >= ?", (since,)
            ).fetchone()
            return float(total)

    def reserve_sync(self, amount: float, limits: list[Limit], now: float | None = None) -> str:
        """Reserve ``amount`` against every limit at once, or raise :class:`BudgetRefusal`.

        ``BEGIN IMMEDIATE`` takes SQLite's write lock before reading, so two processes
        cannot both see the same money left.
        """
        now = time.time() if now is None else now
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for name, limit, since in limits:
                    (spent,) = conn.execute(
                        "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE ts >= ?",
                        (since,),
                    ).fetchone()
                    (held,) = conn.execute(
                        "SELECT COALESCE(SUM(amount_usd), 0) FROM reservations "
                        "WHERE ts >= ? AND expires > ?",
                        (since, now),
                    ).fetchone()
                    if amount > limit - (spent + held) + 1e-12:
                        raise BudgetRefusal(name, limit, float(spent + held))
                uid = new_uid()
                conn.execute(
                    "INSERT INTO reservations (uid, ts, amount_usd, expires) VALUES (?, ?, ?, ?)",
                    (uid, now, amount, now + RESERVATION_TTL_S),
                )
                conn.execute("COMMIT")
                return uid
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def release_sync(self, reservation: str) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM reservations WHERE uid = ?", (reservation,))

    def select_sync(self, cls: type[AnyRow], since: float | None = None) -> list[AnyRow]:
        if not self.path.exists():
            return []  # reading stats must not create files
        with self._connection() as conn:
            table = next(name for name, c in TABLES.items() if c is cls)
            sql = f"SELECT {', '.join(columns(cls))} FROM {table} WHERE ts >= ? ORDER BY ts"
            return [from_db(cls, r) for r in conn.execute(sql, (since or 0.0,))]

    def rows_sync(self, since: float | None = None, model: str | None = None) -> list[LedgerRow]:
        rows = [r for r in self.select_sync(LedgerRow, since) if isinstance(r, LedgerRow)]
        return rows if model is None else [r for r in rows if r.model == model]

    def outcomes_sync(self, since: float | None = None) -> list[OutcomeRow]:
        return [r for r in self.select_sync(OutcomeRow, since) if isinstance(r, OutcomeRow)]

    def retention_sync(self, since: float | None = None) -> list[RetentionRow]:
        return [r for r in self.select_sync(RetentionRow, since) if isinstance(r, RetentionRow)]

    # -- the outbox (rows the team database has not seen yet) ----------------------------

    def outbox_sync(self, limit: int = 500) -> list[tuple[int, AnyRow]]:
        with self._connection() as conn:
            out: list[tuple[int, AnyRow]] = []
            for seq, tbl, uid in conn.execute(
                "SELECT seq, tbl, uid FROM outbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall():
                cls = TABLES[tbl]
                found = conn.execute(
                    f"SELECT {', '.join(columns(cls))} FROM {tbl} WHERE uid = ?", (uid,)
                ).fetchone()
                if found is not None:
                    out.append((seq, from_db(cls, found)))
                else:
                    conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            return out

    def outbox_done_sync(self, seqs: list[int]) -> None:
        with self._connection() as conn:
            conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class LedgerBackend(Protocol):
    """What the router, budgets, outcomes and stats need of a ledger: the local
    :class:`CostLedger`, or the team ledger on PostgreSQL (``models/ledger_pg.py``)."""

    path: Path  # the local file (the team ledger's fallback)

    def describe(self) -> str: ...
    def close(self) -> None: ...
    def write_sync(
        self, row: AnyRow, reservation: str | None = None, *, outbox: bool = False
    ) -> None: ...
    def reserve_sync(self, amount: float, limits: list[Limit], now: float | None = None) -> str: ...
    def release_sync(self, reservation: str) -> None: ...
    def spent_since_sync(self, since: float) -> float: ...
    def rows_sync(
        self, since: float | None = None, model: str | None = None
    ) -> list[LedgerRow]: ...
    def outcomes_sync(self, since: float | None = None) -> list[OutcomeRow]: ...
    def retention_sync(self, since: float | None = None) -> list[RetentionRow]: ...
    async def record(self, row: LedgerRow, reservation: str | None = None) -> None: ...
    async def write(self, row: AnyRow) -> None: ...
    async def spent_since(self, since: float) -> float: ...
    async def reserve(self, amount: float, limits: list[Limit]) -> str: ...
    async def release(self, reservation: str) -> None: ...
    async def rows(
        self, since: float | None = None, model: str | None = None
    ) -> list[LedgerRow]: ...
    async def outcomes(self, since: float | None = None) -> list[OutcomeRow]: ...
    async def retention(self, since: float | None = None) -> list[RetentionRow]: ...
