"""The side-by-side driver (benchmarks/tabby_bench.py) measures what it says, on both sides.

Our side always runs (two real servers, a couple of interleaved runs); tabby-agent's side
runs only when ``TTA_BENCH_TABBY_AGENT`` names a build, as in ``python -m benchmarks``.
Nothing here compares a latency with a target: the checks are that every figure was
measured (present, positive, ordered) and that the edits were what the client saw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmarks.__main__ import table
from benchmarks._common import BenchmarkError
from benchmarks.tabby_bench import CODE, ENV_VAR, TabbyBenchConfig, agent_from_env, run

from tests.guards import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "first_line_after_model",
    "first_line_added",
    "last_token_to_answer",
    "answer_added",
    "request_to_model",
    "model_first_line",
    "model_last_token",
)


def _measured(client: dict[str, Any], runs: int) -> None:
    for key in FIGURES:
        s = client[key]
        assert s["n"] == runs, key
        assert 0 < s["p50_ms"] <= s["p90_ms"] <= s["max_ms"], (key, s)
    # The fake wrote the first line well before [DONE], as the reply is laid out.
    assert client["model_first_line"]["p50_ms"] < client["model_last_token"]["p50_ms"]
    assert client["apply_edits_per_run"] >= 1
    assert client["code_bytes"] == len(CODE.encode())


@pytest.mark.slow
async def test_our_side_runs_interleaved_and_reports_every_figure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    report = await run(TabbyBenchConfig(agent=agent_from_env(), runs=2, warmup=1), lambda _m: None)
    assert set(report["clients"]) == {"tta-default", "tta-fast"}
    assert report["tabby_agent"].startswith("skipped") and ENV_VAR in report["tabby_agent"]
    assert report["fake"]["chunk_chars"] == 7 and report["fake"]["chunk_interval_ms"] == 5
    for client in report["clients"].values():
        _measured(client, 2)
        # Ours sends each character of the code once: linear traffic.
        # The code once, plus only the PEP 8 framing newlines around it: linear traffic.
        assert 0 <= client["edit_bytes_per_run"] - len(CODE.encode()) <= 4
        assert client["bytes_ratio_to_code"] < 1.02
    rendered = table({"tabby": report})
    assert "first code line in the document - model wrote it: tta-default" in rendered
    assert "applyEdits per generation: tta-fast" in rendered


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get(ENV_VAR), reason=f"{ENV_VAR} names no tabby-agent build")
async def test_tabby_agent_side_when_a_build_is_given() -> None:
    report = await run(TabbyBenchConfig(agent=agent_from_env(), runs=2, warmup=1), lambda _m: None)
    assert set(report["clients"]) == {"tabby-agent", "tta-default", "tta-fast"}
    peer = report["clients"]["tabby-agent"]
    _measured(peer, 2)
    # tabby-agent resends its whole preview (header, code so far, footer) at each line.
    assert peer["edit_bytes_per_run"] > len(CODE.encode())
    assert "tabby-agent" in table({"tabby": report})


def test_a_set_but_unusable_build_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing" / "index.js"))
    with pytest.raises(BenchmarkError, match=f"{ENV_VAR}=.*no such file"):
        agent_from_env()
    bundle = tmp_path / "dist" / "node" / "index.js"
    bundle.parent.mkdir(parents=True)
    bundle.write_text("// not a real build\n")
    monkeypatch.setenv(ENV_VAR, str(bundle))
    with pytest.raises(BenchmarkError, match="no wasm/ folder"):
        agent_from_env()
    (bundle.parent / "wasm").mkdir()
    assert agent_from_env() == bundle
    monkeypatch.setenv(ENV_VAR, "  ")
    assert agent_from_env() is None


def test_the_section_skips_with_a_line_when_no_build_is_named(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "tabby", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,  # nothing runs, the command takes ~1 s
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"tabby-agent side by side skipped: set {ENV_VAR}" in done.stderr
    assert json.loads(out.read_text())["tabby"].startswith("skipped")


def test_a_broken_build_stops_the_run_naming_it(tmp_path: Path) -> None:
    env = dict(os.environ) | {ENV_VAR: str(tmp_path / "nowhere.js")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "tabby", "--out", str(tmp_path / "r.json")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
    )
    assert done.returncode == 1
    assert ENV_VAR in done.stderr and "nowhere.js" in done.stderr
    assert not (tmp_path / "r.json").exists()


def test_the_build_script_refuses_a_folder_that_is_not_a_tabby_checkout(tmp_path: Path) -> None:
    # Building itself needs a TabbyML/tabby checkout and the npm registry (docs/performance.md);
    # what runs everywhere is that a wrong path stops it before anything is copied or installed.
    script = ROOT / "scripts" / "build-tabby-agent.sh"
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(script), str(tmp_path), str(out)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,  # checks arguments only: well under a second
    )
    assert done.returncode == 2, done.stderr
    assert "clients/tabby-agent" in done.stderr and "TabbyML/tabby checkout" in done.stderr
    assert not out.exists()
    usage = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, timeout=HANG_GUARD_S
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr
