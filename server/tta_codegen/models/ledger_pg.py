"""The team ledger: requests, outcomes and budgets shared on PostgreSQL.

Every machine and CI runner that names the same ``[ledger] url`` spends against one
budget and reports into one set of metrics. Budgets hold across writers because a
request *reserves* its worst-case cost before it is sent, in a transaction that takes a
transaction-level advisory lock, reads what is spent and reserved, and adds the
reservation; the request's row replaces the reservation in a second transaction. Two
writers racing for the last dollar are serialised by the lock: one gets it.

When the database cannot be reached the ledger keeps working on the local SQLite file
(:class:`~tta_codegen.models.ledger.CostLedger`): rows are written there and queued in
its outbox, budgets are checked locally, and the database is tried again after
``retry_s``. Once it answers, the outbox is replayed; every row carries a uid and is
inserted with ``ON CONFLICT DO NOTHING``, so a row whose first write reached the
database before the connection died is not stored twice.

psycopg 3 is an optional dependency (the ``team`` extra); it is imported only here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from tta_codegen.models.ledger import (
    RESERVATION_TTL_S,
    TABLES,
    AnyRow,
    AsyncLedgerAPI,
    BudgetRefusal,
    CostLedger,
    LedgerBackend,
    LedgerRow,
    Limit,
    OutcomeRow,
    RetentionRow,
    columns,
    from_db,
    new_uid,
    table_of,
    to_db,
)
from tta_codegen.models.settings import LedgerConfig

log = logging.getLogger(__name__)

# The advisory lock that serialises schema set-up and budget reservations.
_LOCK = 0x7474_6163  # "ttac"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    uid TEXT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    task_type TEXT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    cost_source TEXT NOT NULL,
    latency_s DOUBLE PRECISION NOT NULL,
    ttft_s DOUBLE PRECISION,
    outcome TEXT NOT NULL,
    error_kind TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE TABLE IF NOT EXISTS outcomes (
    uid TEXT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    template TEXT,
    category TEXT,
    model TEXT,
    language TEXT,
    gates_first SMALLINT,
    gates_final SMALLINT,
    outcome TEXT NOT NULL,
    generation_s DOUBLE PRECISION,
    decision_s DOUBLE PRECISION,
    lines BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS outcomes_ts ON outcomes (ts);
CREATE TABLE IF NOT EXISTS retention (
    uid TEXT PRIMARY KEY,
    outcome_uid TEXT NOT NULL,
    stage TEXT NOT NULL,
    ratio DOUBLE PRECISION NOT NULL,
    ts DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    uid TEXT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    amount_usd DOUBLE PRECISION NOT NULL,
    expires DOUBLE PRECISION NOT NULL
);
"""


class TeamLedger(AsyncLedgerAPI):
    """PostgreSQL first, the local SQLite ledger while it is unreachable."""

    def __init__(self, config: LedgerConfig, local: CostLedger | None = None) -> None:
        import psycopg  # the optional dependency, only when a team ledger is configured

        self._psycopg = psycopg
        # Any database error (unreachable, dropped connection, but also a missing
        # privilege) sends the work to the local ledger: recording never stops a generation.
        self._down_errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        assert config.url is not None
        self.url = config.url
        self.config = config
        self.local = local or CostLedger()
        self.path: Path = self.local.path
        self._ready = False
        self._down_until = 0.0
        self._backlog: bool | None = None  # None: not looked yet
        self._sync_lock = threading.Lock()
        self._conn_lock = threading.Lock()
        self._conn: Any = None

    def describe(self) -> str:
        state = "" if self.available() else f" (unreachable; recording to {self.local.path})"
        return _redact(self.url) + state

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    # -- the database -------------------------------------------------------------------

    def _connect(self) -> Any:
        password = None
        if self.config.password_env:
            password = os.environ.get(self.config.password_env)
        kwargs: dict[str, Any] = {"connect_timeout": max(1, round(self.config.connect_timeout_s))}
        if password:
            kwargs["password"] = password
        conn = self._psycopg.connect(self.url, **kwargs)
        if not self._ready:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                    conn.execute(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._ready = True
        return conn

    def _went_down(self, exc: BaseException) -> None:
        if self.available():
            log.warning(
                "team ledger %s unreachable (%s): recording to %s until it answers",
                _redact(self.url),
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                self.local.path,
            )
        self._down_until = time.monotonic() + self.config.retry_s
        self._backlog = True

    @staticmethod
    def _insert(conn: Any, row: AnyRow) -> None:
        cols = columns(type(row))
        conn.execute(
            f"INSERT INTO {table_of(row)} ({', '.join(cols)}) "
            f"VALUES ({', '.join('%s' for _ in cols)}) ON CONFLICT (uid) DO NOTHING",
            to_db(row),
        )

    def _on_db(self, work: Any) -> tuple[bool, Any]:
        """Run ``work(conn)`` in one transaction: (True, result), or (False, None) if down.

        One connection is kept and shared by the worker threads, one transaction at a
        time (a new connection per row costs a server process and an authentication).
        """
        if not self.available():
            return False, None
        with self._conn_lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                with self._conn.transaction():
                    result = work(self._conn)
            except self._down_errors as exc:
                self._drop()
                self._went_down(exc)
                return False, None
        if self._backlog is not False:
            self.sync_sync()
        return True, result

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:  # a dead connection may fail to close; it is gone
                log.debug("closing a dead ledger connection: %s", exc)
            self._conn = None

    def close(self) -> None:
        with self._conn_lock:
            self._drop()

    # -- the ledger API (synchronous core, run in worker threads) -----------------------

    def write_sync(
        self, row: AnyRow, reservation: str | None = None, *, outbox: bool = False
    ) -> None:
        def work(conn: Any) -> None:
            self._insert(conn, row)
            if reservation is not None:
                conn.execute("DELETE FROM reservations WHERE uid = %s", (reservation,))

        ok, _ = self._on_db(work)
        if not ok:
            # Local reservations (taken while down) are settled locally; one taken on
            # the database expires there on its own.
            self.local.write_sync(row, reservation, outbox=True)

    def record_sync(self, row: LedgerRow, reservation: str | None = None) -> None:
        self.write_sync(row, reservation)

    def reserve_sync(self, amount: float, limits: list[Limit], now: float | None = None) -> str:
        now = time.time() if now is None else now

        def work(conn: Any) -> str:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            for name, limit, since in limits:
                # One statement, so one snapshot: a settle committing between two reads
                # (row added, reservation gone) would otherwise be missed by both.
                spent, held = conn.execute(
                    "SELECT (SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE ts >= %s), "
                    "(SELECT COALESCE(SUM(amount_usd), 0) FROM reservations "
                    "WHERE ts >= %s AND expires > %s)",
                    (since, since, now),
                ).fetchone()
                if amount > limit - (float(spent) + float(held)) + 1e-12:
                    raise BudgetRefusal(name, limit, float(spent) + float(held))
            uid = new_uid()
            conn.execute(
                "INSERT INTO reservations (uid, ts, amount_usd, expires) VALUES (%s, %s, %s, %s)",
                (uid, now, amount, now + RESERVATION_TTL_S),
            )
            return uid

        ok, uid = self._on_db(work)
        if ok:
            return str(uid)
        return self.local.reserve_sync(amount, limits, now)

    def release_sync(self, reservation: str) -> None:
        self._on_db(
            lambda conn: conn.execute("DELETE FROM reservations WHERE uid = %s", (reservation,))
        )
        self.local.release_sync(reservation)

    def spent_since_sync(self, since: float) -> float:
        ok, total = self._on_db(
            lambda conn: conn.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM requests WHERE ts >= %s", (since,)
            ).fetchone()[0]
        )
        return float(total) if ok else self.local.spent_since_sync(since)

    def _select(self, cls: type[AnyRow], since: float | None) -> list[AnyRow] | None:
        table = next(name for name, c in TABLES.items() if c is cls)
        sql = f"SELECT {', '.join(columns(cls))} FROM {table} WHERE ts >= %s ORDER BY ts"
        ok, rows = self._on_db(
            lambda conn: [from_db(cls, r) for r in conn.execute(sql, (since or 0.0,))]
        )
        return rows if ok else None

    def rows_sync(self, since: float | None = None, model: str | None = None) -> list[LedgerRow]:
        got = self._select(LedgerRow, since)
        if got is None:
            return self.local.rows_sync(since, model)
        rows = [r for r in got if isinstance(r, LedgerRow)]
        return rows if model is None else [r for r in rows if r.model == model]

    def outcomes_sync(self, since: float | None = None) -> list[OutcomeRow]:
        got = self._select(OutcomeRow, since)
        if got is None:
            return self.local.outcomes_sync(since)
        return [r for r in got if isinstance(r, OutcomeRow)]

    def retention_sync(self, since: float | None = None) -> list[RetentionRow]:
        got = self._select(RetentionRow, since)
        if got is None:
            return self.local.retention_sync(since)
        return [r for r in got if isinstance(r, RetentionRow)]

    def sync_sync(self) -> int:
        """Replay the local outbox into the database; returns the rows sent.

        Each batch is inserted in one transaction and only then removed from the outbox:
        a crash in between replays the batch again, and ``ON CONFLICT DO NOTHING`` keeps
        it from being stored twice.
        """
        if not self.local.path.exists():
            self._backlog = False  # never fell back: nothing to replay
            return 0
        if not self._sync_lock.acquire(blocking=False):
            return 0  # another thread is replaying
        sent = 0
        try:
            while self.available():
                batch = self.local.outbox_sync()
                if not batch:
                    self._backlog = False
                    break
                try:
                    with self._conn_lock:
                        if self._conn is None or self._conn.closed:
                            self._conn = self._connect()
                        with self._conn.transaction():
                            for _, row in batch:
                                self._insert(self._conn, row)
                except self._down_errors as exc:
                    with self._conn_lock:
                        self._drop()
                    self._went_down(exc)
                    break
                self.local.outbox_done_sync([seq for seq, _ in batch])
                sent += len(batch)
        finally:
            self._sync_lock.release()
        if sent:
            log.info("team ledger: replayed %d rows recorded while it was unreachable", sent)
        return sent

    async def sync(self) -> int:
        return await asyncio.to_thread(self.sync_sync)


def _redact(url: str) -> str:
    """The url without any user info, for logs and ``tta.stats``."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def open_ledger(config: LedgerConfig, local: CostLedger | None = None) -> LedgerBackend:
    """The ledger ``[ledger]`` asks for: the team ledger for a url, else the local file.

    A team ledger that cannot be used at all (psycopg not installed) is reported once and
    the local file is used: recording never stops a generation.
    """
    if config.url is None:
        return local or CostLedger()
    try:
        return TeamLedger(config, local)
    except ImportError:
        log.error(
            "ledger.url is set but psycopg is not installed: pip install 'tta-codegen[team]'; "
            "recording to the local ledger"
        )
        return local or CostLedger()
