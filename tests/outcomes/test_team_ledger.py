"""Budgets across writers and the team ledger's outage behaviour, with real processes,
a real SQLite file and a real PostgreSQL server (tests/outcomes/pg.py)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guards import SLOW_HANG_GUARD_S
from tests.lsp.harness import python_module_command
from tests.outcomes import pg
from tta_codegen.models.ledger import CostLedger
from tta_codegen.models.ledger_pg import TeamLedger, open_ledger
from tta_codegen.models.settings import LedgerConfig


def env() -> dict[str, str]:
    return dict(os.environ, TTA_TEST_PG_PW=pg.PASSWORD)


def worker(*args: str) -> list[str]:
    """A writer process (ledger_worker.py), forked from the fork server: a real process
    of its own, without its second of imports."""
    return python_module_command("tests.outcomes.ledger_worker", *args, env=env())


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg.Cluster]:
    why = pg.missing()
    if why is not None:
        pytest.skip(f"needs {why}")
    c = pg.Cluster()
    try:
        c.start()
        yield c
    finally:
        c.remove()


def _fresh_db(cluster: pg.Cluster, name: str) -> str:
    import psycopg

    with psycopg.connect(cluster.url, password=pg.PASSWORD, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return cluster.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shared.sqlite3")
    return _fresh_db(request.getfixturevalue("cluster"), "spend")


def total_spent(target: str, tmp_path: Path) -> tuple[float, int]:
    if target.startswith("postgresql://"):
        os.environ["TTA_TEST_PG_PW"] = pg.PASSWORD
        ledger = TeamLedger(
            LedgerConfig(url=target, password_env="TTA_TEST_PG_PW"),
            CostLedger(tmp_path / "reader.sqlite3"),
        )
        rows = ledger.rows_sync()
    else:
        rows = CostLedger(Path(target)).rows_sync()
    return sum(r.cost_usd for r in rows), len(rows)


@pytest.mark.slow
def test_eight_processes_never_exceed_one_daily_budget(target: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            worker("spend", target, str(go)),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    # Every process connects before any spends, so they really race (asserted below).
    deadline = time.monotonic() + SLOW_HANG_GUARD_S  # a hang guard: they connect in seconds
    while len(list(tmp_path.glob("ready-*"))) < len(procs):
        failed = [p for p in procs if p.poll() is not None]
        assert not failed, failed[0].communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the writers did not connect within the hang guard"
        time.sleep(0.02)
    go.touch()
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=SLOW_HANG_GUARD_S)  # a hang guard: seconds idle
        assert p.returncode == 0, err[-2000:]
        counts.append(int(out.strip()))
    spent, rows = total_spent(target, tmp_path)
    # 10.0 / 0.125 = 80 requests fit exactly; a double-spend would make it more.
    assert spent <= 10.0 + 1e-9
    assert rows == sum(counts) == 80
    assert sum(1 for c in counts if c > 0) >= 2, counts  # they really raced


@pytest.mark.slow
def test_killing_the_database_mid_run_loses_and_duplicates_nothing(
    cluster: pg.Cluster, tmp_path: Path
) -> None:
    url = _fresh_db(cluster, "outage")
    procs = [
        subprocess.Popen(
            worker(
                "write", url, str(tmp_path / f"local{i}.sqlite3"), "300", str(tmp_path / f"uids{i}")
            ),
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    # Stop the database once every writer is well into its run.
    deadline = time.monotonic() + SLOW_HANG_GUARD_S  # a hang guard: writers start in seconds
    while time.monotonic() < deadline and not all(
        (tmp_path / f"uids{i}").exists()
        and len((tmp_path / f"uids{i}").read_text().splitlines()) >= 60
        for i in range(4)
    ):
        ended = [p for p in procs if p.poll() is not None]
        assert not ended, ended[0].communicate()[1][-2000:]  # a writer died before its run
        time.sleep(0.02)
    cluster.stop("immediate")  # a crash: no clean shutdown, connections cut
    time.sleep(1.0)  # an outage the writers live through (longer on a busy machine: fine)
    cluster.start()
    for p in procs:
        out, err = p.communicate(timeout=SLOW_HANG_GUARD_S)  # a hang guard: seconds idle
        assert p.returncode == 0, err[-2000:]
        assert out.strip() == "0", "the outbox was not emptied"
    written: dict[str, set[str]] = {"requests": set(), "outcomes": set()}
    for i in range(4):
        for line in (tmp_path / f"uids{i}").read_text().splitlines():
            table, uid = line.split()
            written[table].add(uid)
    assert len(written["requests"]) == len(written["outcomes"]) == 1200
    # Some rows really went to the fallback while the database was down.
    fell_back = sum(len(CostLedger(tmp_path / f"local{i}.sqlite3").rows_sync()) for i in range(4))
    assert fell_back > 0
    print(f"rows written to the local fallback while the database was down: {fell_back}")
    import psycopg

    with psycopg.connect(url, password=pg.PASSWORD) as conn:
        for table in ("requests", "outcomes"):
            stored = [r[0] for r in conn.execute(f"SELECT uid FROM {table}")]
            assert len(stored) == len(set(stored))  # no duplicates
            assert set(stored) == written[table]  # no loss


def test_unreachable_database_falls_back_to_the_local_file(tmp_path: Path) -> None:
    port = pg.free_port()  # nothing listens there
    cfg = LedgerConfig(url=f"postgresql://tta@127.0.0.1:{port}/x", retry_s=60)
    try:
        ledger = open_ledger(cfg, CostLedger(tmp_path / "local.sqlite3"))
    except ImportError:
        pytest.skip("psycopg not installed")
    assert isinstance(ledger, TeamLedger)
    from tests.outcomes.ledger_worker import row

    ledger.write_sync(row(0.5))
    assert ledger.spent_since_sync(0) == 0.5  # read from the local file
    assert len(ledger.local.outbox_sync()) == 1  # queued for the database
    assert "unreachable" in ledger.describe() and "tta@" not in ledger.describe()


def test_a_password_in_the_url_is_refused() -> None:
    with pytest.raises(ValueError, match="password_env"):
        LedgerConfig(url="postgresql://tta:secret@db/x")
