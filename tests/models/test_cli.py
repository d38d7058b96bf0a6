"""``tta-codegen models`` and ``tta-codegen stats`` as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.guards import HANG_GUARD_S
from tests.lsp.harness import tta_command
from tests.models.openrouter_fake import FakeOpenRouter
from tta_codegen import trust
from tta_codegen.config import workspace_fingerprint
from tta_codegen.models.ledger import CostLedger, LedgerRow


@pytest_asyncio.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    server = FakeOpenRouter()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def run_cli(cwd: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTA_CODEGEN_")}
    proc = await asyncio.create_subprocess_exec(
        *tta_command(*args, env=env),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD_S)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def workspace(tmp_path: Path, base_url: str, extra: str = "") -> Path:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    (ws / "tta-codegen.toml").write_text(
        f"""
[providers.or]
kind = "openai"
base_url = "{base_url}"

[[models]]
id = "anthropic/claude-sonnet"
provider = "or"

[[models]]
id = "meta-llama/llama-3.3-70b-instruct:free"
provider = "or"

[routing]
default = "anthropic/claude-sonnet"
{extra}
""",
        encoding="utf-8",
    )
    # Trusted as `tta-codegen trust` would (the store is under the XDG_DATA_HOME the
    # command inherits): these tests are about models, not trust.
    digest = workspace_fingerprint(ws)
    assert digest is not None
    trust.record(ws, digest)
    return ws


async def test_models_refresh_caches_prices_and_lists_them(
    openrouter: FakeOpenRouter, tmp_path: Path
) -> None:
    ws = workspace(tmp_path, openrouter.base_url)
    code, out, err = await run_cli(ws, "models", "--json")
    assert code == 0, err
    before = {m["id"]: m for m in json.loads(out)}
    assert before["anthropic/claude-sonnet"]["input_cost_per_mtok"] == 0.0
    assert before["anthropic/claude-sonnet"]["health"] == "unknown"

    code, out, err = await run_cli(ws, "models", "--refresh", "--json")
    assert code == 0, err
    assert "or: 3 models" in err
    assert (tmp_path / "cache" / "tta-codegen" / "catalog" / "or.json").is_file()
    listed = {m["id"]: m for m in json.loads(out)}
    sonnet = listed["anthropic/claude-sonnet"]
    assert (sonnet["input_cost_per_mtok"], sonnet["output_cost_per_mtok"]) == (3.0, 15.0)
    assert sonnet["context_window"] == 200000 and sonnet["default"] and not sonnet["free"]
    assert listed["meta-llama/llama-3.3-70b-instruct:free"]["free"]

    # The table form shows the same, and the cache is reused without --refresh.
    code, out, err = await run_cli(ws, "models")
    assert code == 0, err
    assert "*anthropic/claude-sonnet" in out and "$3" in out and "$15" in out and "free" in out


async def test_models_refresh_failure_exits_1(tmp_path: Path) -> None:
    ws = workspace(tmp_path, "http://127.0.0.1:9/v1")
    code, out, err = await run_cli(ws, "models", "--refresh", "--json")
    assert code == 1
    assert "refresh failed" in err and "cannot connect" in err
    assert len(json.loads(out)) == 2  # the listing still comes out


async def test_models_reports_config_errors_with_exit_2(tmp_path: Path) -> None:
    ws = workspace(tmp_path, "http://127.0.0.1:9/v1", "bogus_key = 1\n")
    code, _out, err = await run_cli(ws, "models", "--json")
    assert code == 2 and "routing.bogus_key" in err


async def test_stats_json_and_table(tmp_path: Path) -> None:
    ledger = CostLedger()  # XDG_DATA_HOME points into tmp_path
    now = time.time()
    for latency, outcome in ((1.0, "ok"), (2.0, "ok"), (0.1, "error")):
        await ledger.record(
            LedgerRow(
                now,
                "m1",
                "p",
                "code_generation",
                100,
                40,
                0.02 if outcome == "ok" else 0.0,
                "priced",
                latency,
                0.2,
                outcome,
                None if outcome == "ok" else "server",
            )
        )
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tta-codegen.toml").write_text("[budget]\ndaily_usd = 1.0\n", encoding="utf-8")
    code, out, err = await run_cli(ws, "stats", "--json")
    assert code == 0, err
    data = json.loads(out)
    (m,) = data["models"]
    assert (m["model"], m["requests"], m["failures"]) == ("m1", 3, 1)
    assert m["total_p50_ms"] == 1000.0 and m["total_p95_ms"] == 2000.0
    assert m["cost_today_usd"] == 0.04
    assert data["budget"]["daily_usd"]["left"] == 0.96
    assert data["ledger"].startswith(str(tmp_path))
    code, out, err = await run_cli(ws, "stats")
    assert code == 0 and "m1" in out and "budget.daily_usd: $0.9600 left" in out


async def test_stats_with_no_ledger_yet(tmp_path: Path) -> None:
    code, out, _ = await run_cli(tmp_path, "stats")
    assert code == 0 and "no requests recorded yet" in out
    assert not (tmp_path / "data" / "tta-codegen" / "ledger.sqlite3").exists()


async def test_models_health_and_default_from_the_ledger_history(
    openrouter: FakeOpenRouter, tmp_path: Path
) -> None:
    """The CLI's process has no breaker history: the ledger's recent requests decide, by
    the same rule as tta.listModels (degraded above half failed; tests/models/test_listing.py)."""
    ws = workspace(tmp_path, openrouter.base_url)
    ledger = CostLedger()  # XDG_DATA_HOME points into tmp_path, as for the command
    now = time.time()
    rows = {
        "anthropic/claude-sonnet": ["ok", "error", "error"],
        "meta-llama/llama-3.3-70b-instruct:free": ["ok", "ok", "ok", "error"],
    }
    for model, outcomes in rows.items():
        for outcome in outcomes:
            await ledger.record(
                LedgerRow(
                    now, model, "or", "code_generation", 10, 5, 0.0, "free", 0.5, 0.1, outcome
                )
            )
    code, out, err = await run_cli(ws, "models", "--json")
    assert code == 0, err
    listed = {m["id"]: (m["health"], m["default"]) for m in json.loads(out)}
    assert listed == {
        "anthropic/claude-sonnet": ("degraded", True),
        "meta-llama/llama-3.3-70b-instruct:free": ("ok", False),
    }
