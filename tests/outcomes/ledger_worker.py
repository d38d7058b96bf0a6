"""One writer process for the team-ledger tests (run as a script, not collected).

``spend URL_OR_PATH GO_FILE``: connect, say so (``ready-PID`` beside GO_FILE), wait for
GO_FILE, then spend 0.125 per request against a
daily budget of 10.0 through the real budget check (reserve, then the row settles it)
until refused; print how many requests it sent.

``write URL LOCAL N OUT``: write N request and N outcome rows through the team ledger,
appending each uid to OUT, then replay the local outbox until it is empty.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from tests.guards import SLOW_HANG_GUARD_S
from tta_codegen.models.budget import BudgetExceeded, check_budget
from tta_codegen.models.ledger import CostLedger, LedgerBackend, LedgerRow, OutcomeRow
from tta_codegen.models.ledger_pg import TeamLedger
from tta_codegen.models.settings import BudgetConfig, LedgerConfig, ModelConfig

PRICE = 0.125
MODEL = ModelConfig(id="paid", provider="p", input_cost_per_mtok=1.0, output_cost_per_mtok=1.0)


def open_backend(target: str, local: Path) -> LedgerBackend:
    if target.startswith("postgresql://"):
        cfg = LedgerConfig(url=target, password_env="TTA_TEST_PG_PW", retry_s=0.2)
        return TeamLedger(cfg, CostLedger(local))
    return CostLedger(Path(target))


def row(cost: float) -> LedgerRow:
    return LedgerRow(
        time.time(), "paid", "p", "code_generation", 10, 10, cost, "priced", 0.1, None, "ok"
    )


async def spend(target: str, go: Path) -> int:
    ledger = open_backend(target, go.parent / f"local-{os.getpid()}.sqlite3")
    ledger.spent_since_sync(0)  # connect and set up before the start line
    (go.parent / f"ready-{os.getpid()}").touch()
    while not go.exists():
        await asyncio.sleep(0.005)
    budget = BudgetConfig(daily_usd=10.0)
    sent = 0
    while True:
        try:
            reservation = await check_budget(budget, ledger, MODEL, PRICE)
        except BudgetExceeded:
            return sent
        await asyncio.sleep(0.001)  # the request "streams"
        await ledger.record(row(PRICE), reservation)
        sent += 1


def write(url: str, local: Path, n: int, out: Path) -> None:
    ledger = open_backend(url, local)
    assert isinstance(ledger, TeamLedger)
    with out.open("a") as f:
        for i in range(n):
            r = row(0.0)
            ledger.write_sync(r)
            o = OutcomeRow(
                time.time(),
                "generate",
                "ci",
                None,
                None,
                "paid",
                "python",
                True,
                True,
                "accepted",
                1.0,
                0.0,
                i,
                0.0,
            )
            ledger.write_sync(o)
            f.write(f"requests {r.uid}\noutcomes {o.uid}\n")
            f.flush()
            time.sleep(0.01)
    # A hang guard: the database is back within seconds.
    deadline = time.monotonic() + SLOW_HANG_GUARD_S
    while ledger.local.outbox_sync() and time.monotonic() < deadline:
        ledger.sync_sync()
        time.sleep(0.1)
    print(len(ledger.local.outbox_sync()))


if __name__ == "__main__":
    if sys.argv[1] == "spend":
        print(asyncio.run(spend(sys.argv[2], Path(sys.argv[3]))))
    else:
        write(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
