"""``tta-codegen report`` end to end: the real CLI on a seeded ledger, the page opened in
headless Chromium (Debian's, installed by scripts/setup.d/50-vscode.sh) with the network
off, every chart checked for rendered traces and points."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.guards import HANG_GUARD_S, SLOW_HANG_GUARD_S
from tests.lsp.harness import tta_command
from tests.outcomes.seed import seed
from tta_codegen.models.ledger import CostLedger, OutcomeRow
from tta_codegen.outcomes.report import CHART_IDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_args(profile: Path) -> list[str]:
    assert CHROMIUM is not None
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # Offline means offline: any fetch the page tried would fail and leave a chart empty.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
    ]


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path))
    return subprocess.run(
        tta_command(*args, env=env),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,  # a hang guard: the command takes about a second idle
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    seed(CostLedger(tmp_path / "data" / "tta-codegen" / "ledger.sqlite3"))
    return tmp_path


def test_report_is_one_offline_file(seeded: Path) -> None:
    out = seeded / "report.html"
    done = run_cli(seeded, "report", "--out", str(out), "--since", "30d")
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    # Nothing fetched at view time: no external script, stylesheet or image.
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", page)
    # plotly.js itself is inlined (its bundle names a CDN only for geo maps' topojson,
    # which the report does not draw; the Chromium test below runs with no network).
    assert page.count("<script") >= len(CHART_IDS) + 1 and len(page) > 3_000_000
    for cid in CHART_IDS:
        assert f'id="{cid}"' in page


def test_bad_since_is_one_clear_line(seeded: Path) -> None:
    done = run_cli(seeded, "report", "--since", "last week")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("tta-codegen: --since")
    assert not (seeded / "report.html").exists()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium (scripts/setup.d/50-vscode.sh)")
def test_every_chart_renders_in_headless_chromium(seeded: Path) -> None:
    out = seeded / "report.html"
    assert run_cli(seeded, "report", "--out", str(out)).returncode == 0
    dom = subprocess.run(
        [*chromium_args(seeded / "profile"), "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=SLOW_HANG_GUARD_S,  # a hang guard: Chromium renders it in a few seconds idle
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="render-check">(.*?)</pre>', dom.stdout, re.S)
    assert found is not None and found.group(1), "the render check did not run"
    rendered = json.loads(found.group(1))
    assert set(rendered) == set(CHART_IDS)
    for cid, seen in rendered.items():
        assert seen["svg"] > 0, cid
        assert seen["traces"] > 0, cid
        assert seen["points"] > 0, cid


def test_stats_json_has_the_plan_metrics(seeded: Path) -> None:
    done = run_cli(seeded, "stats", "--json", "--since", "30d", "--by", "template")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    o = data["outcomes"]
    for key in (
        "acceptance_rate",
        "retention_p50",
        "minimal_editing_share",
        "gates_pass_rate_first",
        "gates_pass_rate_final",
        "request_to_accept_p50_s",
        "cost_per_accepted_line_usd",
        "components_per_week",
    ):
        assert o[key] is not None, key
    assert o["generations"] == 14 * 8
    assert set(data["outcomes_by"]["template"]) == {
        "python/function",
        "python/class",
        "tests/pytest",
        "(none)",
    }
    assert len(data["models"]) == 3
    recent = json.loads(run_cli(seeded, "stats", "--json", "--since", "3d").stdout)
    assert 0 < recent["outcomes"]["generations"] < o["generations"]
    table = run_cli(seeded, "stats", "--by", "model")
    assert table.returncode == 0 and "acceptance" in table.stdout and "model qwen" in table.stdout


def test_stats_table_shows_inline_suggestions(tmp_path: Path) -> None:
    ledger = CostLedger(tmp_path / "data" / "tta-codegen" / "ledger.sqlite3")
    for decision in ("accepted", "dismissed", "dismissed", "dismissed"):
        ledger.write_sync(
            OutcomeRow(
                ts=time.time(), kind="inline", source="lsp", template=None, category=None,
                model="m", language="python", gates_first=None, gates_final=None,
                outcome=decision, generation_s=0.1, decision_s=1.0, lines=1, cost_usd=0.0,
            )
        )  # fmt: skip
    done = run_cli(tmp_path, "stats")
    assert done.returncode == 0, done.stderr
    assert "inline suggestions: 4 · 1 accepted (25%)" in done.stdout, done.stdout
    assert "generations" not in done.stdout  # no generation yet: no outcomes line
