"""Outcomes from a real Neovim: Accept, an edit of half the accepted function, save,
Regenerate and Discard produce the expected ledger rows and a retention of about 50%."""

from __future__ import annotations

import sqlite3

import pytest
from tests.fakes.provider import FakeProvider, Reply
from tests.nvim.conftest import Nvim

from tta_codegen.models.ledger import CostLedger

BEFORE = "import os\n\n\nprint(os.sep)\n"
FUNC = (
    "def mean(values):\n"
    "    total = 0\n"
    "    for v in values:\n"
    "        total += v\n"
    "    return total / len(values)\n"
)


async def test_accept_edit_save_regenerate_and_discard_are_recorded(
    nvim: Nvim, fake: FakeProvider
) -> None:
    fake.add(Reply.text(f"```python\n{FUNC}```\n", size=7, delay=0.003))
    path = nvim.workspace / "m.py"
    path.write_text(BEFORE)
    ledger = nvim.home / ".local" / "share" / "tta-codegen" / "ledger.sqlite3"

    def idle_measured() -> bool:
        """The accepted function, left alone, had its idle retention measured."""
        if not ledger.exists():
            return False
        try:
            return any(x.stage == "idle" for x in CostLedger(ledger).retention_sync())
        except sqlite3.Error:
            return False  # the server is creating or writing it: ask again

    run = await nvim.run(
        "outcomes",
        file=path,
        line=3,
        description="mean of a list",
        # The function lands on buffer lines 2-6 (0-based); its last two lines are the
        # second half of its text.
        # The function's last two lines: the insertion is framed by PEP 8 blank lines.
        rewrite_from=6,
        rewrite_to=8,
        rewrite_with=["        raise NotImplementedError('todo')"],
        proceed=("idle retention", idle_measured),
        settings=nvim.settings(gates={"enabled": []}, outcomes={"retention_idle_s": 0.5}),
    )
    r = run.result
    assert r["generate"]["status"] == "completed", run.why()
    assert "raise NotImplementedError('todo')" in r["after_edit"], run.why()
    assert r["after_discard"] == r["after_edit"], run.why()
    book = CostLedger(ledger)
    rows = book.outcomes_sync()
    assert r["regenerate"]["status"] == "completed", run.why()
    assert sorted(o.outcome for o in rows) == ["accepted", "discarded", "regenerated"], run.why()
    accepted = next(o for o in rows if o.outcome == "accepted")
    assert accepted.lines == 7 and accepted.source == "lsp" and accepted.model == "fake-a"
    ratios = {x.stage: x.ratio for x in book.retention_sync() if x.outcome_uid == accepted.uid}
    assert set(ratios) == {"save", "idle"}, (ratios, run.why())
    # The accepted region: the function and its framing blank lines (2 lines, all kept).
    kept = (2 + FUNC.index("        total += v")) / (2 + len(FUNC))
    assert ratios["idle"] == pytest.approx(kept, abs=0.1)
    assert ratios["save"] == ratios["idle"]
