"""One start-up for every VS Code end-to-end test: the fake provider, code-server with the
packaged extension, and a Playwright driver script run against it.

``test_vscode_e2e.py`` (commands, review, outcomes) and ``test_vscode_completion.py``
(inline completion) differ only in their workspace, settings, provider script and
driver; this module holds the rest (see shared/design/vscode-e2e.md for the recipe).

The tools come from ``scripts/setup.d/50-vscode.sh`` (Debian chromium, and Node 24,
code-server and playwright-core under ``.tools/vscode``); :func:`skip_unless_tools`
skips, naming what is missing, only when they are absent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.guards import HANG_GUARD_MS, HANG_GUARD_S, SLOW_HANG_GUARD_S
from tta_codegen.models.ledger import CostLedger

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "vscode"
NODE24_BIN = TOOLS / "node24" / "node_modules" / "node" / "bin"
CODE_SERVER = TOOLS / "code-server" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
PLAYWRIGHT = TOOLS / "playwright"
EXTENSION = ROOT / "vscode-extension"
# The server under test: this checkout's, next to the interpreter running pytest
# (TTA_VSCODE_SERVER points elsewhere, e.g. at an instrumented build while debugging).
SERVER = Path(os.environ.get("TTA_VSCODE_SERVER") or Path(sys.executable).parent / "tta-codegen")

# Keep the workbench quiet and deterministic (see shared/design/vscode-e2e.md).
WORKBENCH_SETTINGS: dict[str, Any] = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "extensions.ignoreRecommendations": True,
    "git.enabled": False,
    "files.autoSave": "off",
    "editor.formatOnSave": False,
    "editor.acceptSuggestionOnEnter": "off",
    "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
    "editor.suggestOnTriggerCharacters": False,
    "editor.lightbulb.enabled": "off",
    "chat.disableAIFeatures": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.colorTheme": "Default Light Modern",
    # The review diff is shown side by side even in the test's small window.
    "diffEditor.useInlineViewWhenSpaceIsLimited": False,
}


def missing_tools() -> list[str]:
    missing = []
    if not (NODE24_BIN / "node").exists():
        missing.append(f"Node 24 ({NODE24_BIN / 'node'})")
    if not CODE_SERVER.exists():
        missing.append(f"code-server ({CODE_SERVER})")
    if not (PLAYWRIGHT / "node_modules" / "playwright-core").exists():
        missing.append(f"playwright-core ({PLAYWRIGHT})")
    if not shutil.which("chromium"):
        missing.append("Debian chromium")
    if not shutil.which("node"):
        missing.append("node on PATH")
    if not list(EXTENSION.glob("*.vsix")):
        missing.append("the packaged extension (vscode-extension/*.vsix)")
    if not SERVER.exists():
        missing.append(f"tta-codegen next to the interpreter ({SERVER})")
    return missing


def skip_unless_tools() -> None:
    missing = missing_tools()
    if missing:
        pytest.skip(
            "VS Code e2e tools missing (run bash scripts/setup.d/50-vscode.sh): "
            + "; ".join(missing)
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fake_provider(tmp_path: Path, rules: list[dict[str, Any]]) -> Iterator[tuple[int, Path]]:
    """``tests.fakes.provider`` in its own process on loopback: its port and request log."""
    script = tmp_path / "rules.json"
    script.write_text(json.dumps(rules), encoding="utf-8")
    log = tmp_path / "provider.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.provider", "--port", "0", "--script", str(script),
         "--log", str(log)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield int(line.split()[1]), log
    finally:
        proc.terminate()
        proc.wait(HANG_GUARD_S)


def provider_settings(port: int, key_env: str | None = None, **model: Any) -> dict[str, Any]:
    """``ttaCodegen.*`` settings naming the fake as the only provider and model ``fake-a``
    (``model``: more keys of its model entry, e.g. ``fim=True``)."""
    provider: dict[str, Any] = {"kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1"}
    if key_env:
        provider["api_key_env"] = key_env
    return {
        "ttaCodegen.providers": {"fake": provider},
        "ttaCodegen.models": [{"id": "fake-a", "provider": "fake", **model}],
        "ttaCodegen.routing": {"default": "fake-a"},
    }


HEALTH_ATTEMPT_S = 2.0  # one /healthz request; code-server answers it in milliseconds


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + HANG_GUARD_S  # a few seconds idle
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"code-server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            # Not a guard: one attempt; the deadline above is the hang guard.
            with urllib.request.urlopen(f"{url}/healthz", timeout=HEALTH_ATTEMPT_S):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(
        f"code-server did not answer /healthz within the {HANG_GUARD_S:.0f} s hang guard:\n"
        f"{log.read_text()[-3000:]}"
    )


def logs_text(user_data: Path) -> str:
    parts = []
    for path in sorted((user_data / "logs").rglob("*.log")):
        parts.append(f"--- {path.relative_to(user_data)}\n{path.read_text(errors='replace')}")
    return "\n".join(parts)


@dataclass
class Drive:
    """What a driver script reported (its last stdout line, JSON) and the logs after it."""

    report: dict[str, Any]
    logs: str
    context: str  # everything above, for assertion messages


@dataclass
class Workbench:
    """A running code-server on ``ws`` with the extension installed."""

    tmp_path: Path
    ws: Path
    url: str
    user_data: Path
    env: dict[str, str]  # code-server's (and so the server's) environment

    def ledger(self) -> CostLedger:
        """The server's ledger (its XDG data folder is the test's)."""
        return CostLedger(self.tmp_path / "xdg-data" / "tta-codegen" / "ledger.sqlite3")

    def drive(self, script: Path, **env: str) -> Drive:
        """Run a Playwright driver script against the workbench (URL, WS, PW, CHROMIUM,
        FAILURE_SHOTS and HANG_GUARD_MS are set for it). The step screenshots (for the
        docs) are taken only when TTA_VSCODE_SHOTS names a folder (SHOTS): a test run
        keeps just the one of a failure, in the test's temporary folder."""
        shots = os.environ.get("TTA_VSCODE_SHOTS", "")
        failure_shots = shots or str(self.tmp_path / "shots")
        driver = subprocess.run(
            ["node", str(script)],
            env={
                **os.environ, "URL": self.url, "WS": str(self.ws), "PW": str(PLAYWRIGHT),
                "CHROMIUM": str(shutil.which("chromium")), "SHOTS": shots,
                "FAILURE_SHOTS": failure_shots,
                "HANG_GUARD_MS": str(HANG_GUARD_MS), **env,
            },
            # The whole browser session (~1-2 min idle); each step has its own guard.
            capture_output=True, text=True, timeout=2 * SLOW_HANG_GUARD_S, check=False,
        )  # fmt: skip
        lines = driver.stdout.strip().splitlines()
        report = json.loads(lines[-1]) if lines else {}
        logs = logs_text(self.user_data)
        context = (
            f"driver exit {driver.returncode}\nreport: {json.dumps(report, indent=1)}\n"
            f"driver stderr:\n{driver.stderr[-3000:]}\nlogs:\n{logs[-6000:]}"
        )
        return Drive(report, logs, context)


@contextmanager
def workbench(
    tmp_path: Path,
    files: dict[str, str],
    settings: dict[str, Any],
    *,
    drop_env: tuple[str, ...] = (),
) -> Iterator[Workbench]:
    """code-server on a workspace of ``files`` with the packaged extension and ``settings``
    (over :data:`WORKBENCH_SETTINGS`); stopped with its whole process group on exit.

    ``drop_env``: variables kept out of code-server's environment (a test that stores an
    API key through the UI must not find it there already).
    """
    skip_unless_tools()
    vsix = sorted(EXTENSION.glob("*.vsix"), key=lambda p: p.stat().st_mtime)[-1]
    ws = tmp_path / "ws"
    ws.mkdir()
    for name, text in files.items():
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(text, encoding="utf-8")
    user_data, extensions = tmp_path / "ud", tmp_path / "ext"
    (user_data / "User").mkdir(parents=True)
    merged = {**WORKBENCH_SETTINGS, "ttaCodegen.server.path": str(SERVER), **settings}
    if os.environ.get("TTA_VSCODE_TRACE"):  # debugging aid: LSP traffic in the output channel
        merged["ttaCodegen.trace.server"] = "verbose"
    (user_data / "User" / "settings.json").write_text(
        json.dumps(merged, indent=2), encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    env.update(
        PATH=f"{NODE24_BIN}{os.pathsep}{SERVER.parent}{os.pathsep}{env.get('PATH', '')}",
        # Isolate the server's user config and ledger, and code-server's own files.
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
    )
    node24 = str(NODE24_BIN / "node")
    common = [
        "--user-data-dir", str(user_data),
        "--extensions-dir", str(extensions),
        "--config", str(tmp_path / "config.yaml"),
    ]  # fmt: skip
    installed = subprocess.run(
        [node24, str(CODE_SERVER), "--install-extension", str(vsix), *common],
        env=env, capture_output=True, text=True, timeout=SLOW_HANG_GUARD_S, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "successfully installed" in installed.stdout, installed.stdout

    url = f"http://127.0.0.1:{free_port()}"
    cs_log = tmp_path / "code-server.log"
    with cs_log.open("wb") as out:
        cs = subprocess.Popen(
            [
                node24, str(CODE_SERVER), "--bind-addr", url.removeprefix("http://"),
                "--auth", "none", "--disable-telemetry", "--disable-update-check",
                "--disable-workspace-trust", "--disable-getting-started-override", *common,
                str(ws),
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group: extension hosts outlive the browser otherwise
        )  # fmt: skip
    try:
        _wait_healthy(url, cs, cs_log)
        yield Workbench(tmp_path, ws, url, user_data, env)
    finally:
        # code-server, its extension hosts, our language server, file watchers.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(cs.pid, sig)
            except ProcessLookupError:
                break
            try:
                cs.wait(10)  # then SIGKILL: an escalation step, not a guard
                break
            except subprocess.TimeoutExpired:
                continue


def wait_until(predicate: Any, timeout: float = HANG_GUARD_S) -> Any:
    """Poll ``predicate`` (rows the server writes in the background) until it is truthy;
    its last value either way, so the assertion after it says what was there."""
    deadline = time.monotonic() + timeout  # hang guard: the rows take well under a second
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
