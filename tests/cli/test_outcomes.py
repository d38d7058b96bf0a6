"""The CLI records outcomes like the editors: written code is accepted (``--yes``), a
failed generation is failed, and runs under CI are marked as CI."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import RunCli, fake_config
from tests.fakes.provider import FakeProvider, Reply
from tta_codegen.models.ledger import CostLedger

CODE = "def add(a, b):\n    return a + b\n"


def ledger(tmp_path: Path) -> CostLedger:
    return CostLedger(tmp_path / "home" / ".local" / "share" / "tta-codegen" / "ledger.sqlite3")


async def test_yes_records_an_accepted_outcome_marked_ci(
    ws: Path, tmp_path: Path, fake: FakeProvider, cli: RunCli
) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    fake.add(Reply.text(f"```python\n{CODE}```\n"), times=1)
    r = await cli("generate", "add two numbers", "--out", "add.py", "--yes", env={"CI": "true"})
    assert r.code == 0, r.stderr
    (row,) = ledger(tmp_path).outcomes_sync()
    assert (row.outcome, row.source, row.kind, row.lines) == ("accepted", "ci", "generate", 2)
    assert row.model == "fake-a" and row.generation_s is not None


async def test_a_failed_generation_is_recorded_as_failed_outside_ci(
    ws: Path, tmp_path: Path, fake: FakeProvider, cli: RunCli
) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    fake.add(Reply(status=400, error={"error": {"message": "bad request"}}))
    r = await cli("generate", "add two numbers", env={"CI": ""})
    assert r.code == 1, r.stderr
    (row,) = ledger(tmp_path).outcomes_sync()
    assert (row.outcome, row.source, row.lines) == ("failed", "cli", 0)
    stats = await cli("stats", "--json")
    assert '"failed": 1' in stats.stdout
