"""The VS Code extension end to end, in a real VS Code (code-server) driven by Chromium.

The packaged ``.vsix`` is installed into code-server; its language server is this
checkout's ``tta-codegen`` and its model is the fake provider on loopback. ``e2e.mjs``
uses the UI as a person would (palette, input boxes, the notification's Cancel button,
Ctrl+S) and this test checks what reached the disk and the logs.

The tools come from ``scripts/setup.d/50-vscode.sh`` (Debian chromium, and Node 24,
code-server and playwright-core under ``.tools/vscode``); the test skips, naming what is
missing, only when they are absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "vscode"
NODE24_BIN = TOOLS / "node24" / "node_modules" / "node" / "bin"
CODE_SERVER = TOOLS / "code-server" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
PLAYWRIGHT = TOOLS / "playwright"
EXTENSION = ROOT / "vscode-extension"
SCRIPT = Path(__file__).with_name("e2e.mjs")
# The server under test: this checkout's, next to the interpreter running pytest
# (TTA_VSCODE_SERVER points elsewhere, e.g. at an instrumented build while debugging).
SERVER = Path(os.environ.get("TTA_VSCODE_SERVER") or Path(sys.executable).parent / "tta-codegen")

KEY = "sk-e2e-0123456789abcdefSECRET"
ADD = "def add(a, b):\n    return a + b\n"
GEN_ORIGINAL = "import math\n\n\n"  # PEP 8's two blank lines already there: nothing added
REFINED = "def add(a: int, b: int) -> int:\n    return a + b\n"
CANCEL_ORIGINAL = "def keep():\n    return 1\n"  # not a stub: generating inserts, not implements
REVIEW_ORIGINAL = "x = 1\n"
REVIEW_BEFORE = "x = 1\ny = 2\n"  # after the user typed a line, before any generation
HELPERS = [
    "def one():\n",
    "    return 1\n",
    "\n",
    "\n",
    "def two():\n",
    "    return 2\n",
    "\n",
    "\n",
    "def three():\n",
    "    return 3\n",
]

RULES = [
    {
        "match": "please add type hints",
        "reply": {
            "chunks": [
                "```python\n",
                "def add(a: int, b: int) -> int:\n",
                "    return a + b\n",
                "```\n",
            ],
            "delay": 0.05,
        },
    },
    {
        "match": "a function add(a, b)",
        "reply": {
            "chunks": [
                "Here you go:\n```python\n",
                "def add(a, b):\n",
                "    return a + b\n",
                "```\nDone.\n",
            ],
            "delay": 0.05,
        },
    },
    {
        # One line per chunk, slow enough that each line is its own streamed edit.
        "match": "three small helpers",
        "reply": {"chunks": ["```python\n", *HELPERS, "```\n"], "delay": 0.1},
    },
    {
        # Long and slow enough to be cancelled mid-stream (about 60 s if left alone).
        "match": "slow: a long block",
        "reply": {"chunks": ["```python\n"] + ["y = 1\n"] * 300 + ["```\n"], "delay": 0.2},
    },
]

# Keep the workbench quiet and deterministic (see shared/design/vscode-e2e.md).
WORKBENCH_SETTINGS = {
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


def _missing_tools() -> list[str]:
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    script = tmp_path / "rules.json"
    script.write_text(json.dumps(RULES), encoding="utf-8")
    log = tmp_path / "provider.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.provider",
            "--port",
            "0",
            "--script",
            str(script),
            "--log",
            str(log),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield int(line.split()[1]), log
    finally:
        proc.terminate()
        proc.wait(10)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"code-server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"code-server did not answer /healthz in 60 s:\n{log.read_text()[-3000:]}")


def _logs_text(user_data: Path) -> str:
    parts = []
    for path in sorted((user_data / "logs").rglob("*.log")):
        parts.append(f"--- {path.relative_to(user_data)}\n{path.read_text(errors='replace')}")
    return "\n".join(parts)


def test_generate_and_cancel_in_vscode(tmp_path: Path, provider: tuple[int, Path]) -> None:
    missing = _missing_tools()
    if missing:
        pytest.skip(
            "VS Code e2e tools missing (run bash scripts/setup.d/50-vscode.sh): "
            + "; ".join(missing)
        )
    port, provider_log = provider
    vsix = sorted(EXTENSION.glob("*.vsix"), key=lambda p: p.stat().st_mtime)[-1]

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "gen.py").write_text(GEN_ORIGINAL, encoding="utf-8")
    (ws / "cancel.py").write_text(CANCEL_ORIGINAL, encoding="utf-8")
    (ws / "review.py").write_text(REVIEW_ORIGINAL, encoding="utf-8")
    user_data, extensions = tmp_path / "ud", tmp_path / "ext"
    (user_data / "User").mkdir(parents=True)
    settings = {
        **WORKBENCH_SETTINGS,
        "ttaCodegen.server.path": str(SERVER),
        "ttaCodegen.providers": {
            "fake": {
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{port}/v1",
                "api_key_env": "FAKE_API_KEY",
            }
        },
        "ttaCodegen.models": [{"id": "fake-a", "provider": "fake"}],
        "ttaCodegen.routing": {"default": "fake-a"},
    }
    if os.environ.get("TTA_VSCODE_TRACE"):  # debugging aid: LSP traffic in the output channel
        settings["ttaCodegen.trace.server"] = "verbose"
    (user_data / "User" / "settings.json").write_text(
        json.dumps(settings, indent=2), encoding="utf-8"
    )

    env = {k: v for k, v in os.environ.items() if k != "FAKE_API_KEY"}
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
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "successfully installed" in installed.stdout, installed.stdout

    cs_port = _free_port()
    url = f"http://127.0.0.1:{cs_port}"
    cs_log = tmp_path / "code-server.log"
    with cs_log.open("wb") as out:
        cs = subprocess.Popen(
            [
                node24, str(CODE_SERVER), "--bind-addr", f"127.0.0.1:{cs_port}", "--auth", "none",
                "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
                "--disable-getting-started-override", *common, str(ws),
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group: extension hosts outlive the browser otherwise
        )  # fmt: skip
    try:
        _wait_healthy(url, cs, cs_log)
        shots = os.environ.get("TTA_VSCODE_SHOTS", str(tmp_path / "shots"))
        driver = subprocess.run(
            ["node", str(SCRIPT)],
            env={
                **os.environ, "URL": url, "WS": str(ws), "PW": str(PLAYWRIGHT),
                "CHROMIUM": str(shutil.which("chromium")), "KEY": KEY, "SHOTS": shots,
                "REVIEW_BEFORE": REVIEW_BEFORE,
            },
            capture_output=True, text=True, timeout=420, check=False,
        )  # fmt: skip
        lines = driver.stdout.strip().splitlines()
        report = json.loads(lines[-1]) if lines else {}
        logs = _logs_text(user_data)
        context = (
            f"driver exit {driver.returncode}\nreport: {json.dumps(report, indent=1)}\n"
            f"driver stderr:\n{driver.stderr[-3000:]}\nlogs:\n{logs[-6000:]}"
        )
        assert "failure" not in report, context
        assert report["errors"] == [], context

        # The status bar named the default model (from tta.listModels).
        assert "fake-a" in report["statusBar"], context
        palette = " ".join(report["paletteRows"])
        for title in (
            "Generate Code…",
            "Generate Tests",
            "Pick Prompt Template…",
            "Set API Key…",
            "Accept Change",
            "Discard Change",
            "Show Change Diff",
            "Regenerate Change",
        ):
            assert f"TTA Codegen: {title}" in palette, context
        # With a selection, the editor's context menu offers the selection commands.
        assert {"Refine Selection…", "Generate Tests"} <= set(report["contextMenu"]), context

        # Generate: exactly the code (fences and prose stripped) at the cursor, saved.
        assert report["generateDisk"] == GEN_ORIGINAL + ADD, context
        assert "fake-a" in report["generateStatus"], context
        if "Accept" in report["generateStatus"]:  # review mode: the change had its lenses
            assert "Discard" in report["lenses"], context

        # Refine (from the editor's context menu): the selected function rewritten in place.
        assert report["refineDisk"] == GEN_ORIGINAL + REFINED, context
        assert (ws / "gen.py").read_text(encoding="utf-8") == GEN_ORIGINAL + REFINED, context

        # The key set through "Set API Key…" reached the server (the provider names
        # FAKE_API_KEY, absent from code-server's environment, and refuses to run
        # without it), and it never reached a log or the settings.
        requests = [json.loads(line) for line in provider_log.read_text().splitlines()]
        sent = [r for r in requests if "a function add(a, b)" in json.dumps(r["body"])]
        assert sent and sent[0]["body"]["model"] == "fake-a", requests
        assert KEY not in logs
        assert KEY not in (user_data / "User" / "settings.json").read_text()
        assert "stored a key for FAKE_API_KEY" in logs, logs[-4000:]

        # Cancel: the partial text was on disk mid-stream; after Cancel and a save the
        # file is exactly what it was.
        assert "y = 1" in report["midDisk"], context
        assert "cancelled" in report["cancelNotice"], context
        assert report["cancelDisk"] == CANCEL_ORIGINAL, context
        assert (ws / "cancel.py").read_text(encoding="utf-8") == CANCEL_ORIGINAL, context
        # The progress notification showed the server's work-done progress.
        assert "fake-a" in report["progressText"], context

        # Review. The pending change had its four lenses.
        assert report["reviewTyped"], context
        for title in ("Accept", "Discard", "Diff", "Regenerate"):
            assert title in report["reviewLenses"], context
        # Diff opened a diff editor titled for the file.
        assert "review.py (original ↔ generated)" in report["diffTab"], context
        # Discard: the file on disk is byte for byte what it was before the generation.
        assert report["discardDisk"] == REVIEW_BEFORE, context
        # One Ctrl+Z after a generation streamed in several edits restores the text before
        # it: not one line less (the stop before) and not one line more (no stops between).
        assert "def three():" in report["regeneratedDom"], context
        # PEP 8: the helpers start two blank lines below the user's code.
        assert report["generatedDisk"] == REVIEW_BEFORE + "\n\n" + "".join(HELPERS), context
        assert report["undoDisk"] == REVIEW_BEFORE, context
        grouped = [
            int(n)
            for n in re.findall(
                r"tta\.generate: (\d+) streamed edit\(s\) applied as one undo step", logs
            )
        ]
        assert grouped and max(grouped) >= 3, logs[-4000:]
        # After the undo the region no longer holds the generated text: Discard Change
        # (palette, the change found at the cursor via tta.listPending) is refused with
        # the server's message, and its "Discard anyway" button goes ahead.
        assert "You edited inside the generated code" in report["refusedText"], context
        assert report["forcedDisk"] == REVIEW_BEFORE, context
        assert (ws / "review.py").read_text(encoding="utf-8") == REVIEW_BEFORE, context
    finally:
        # code-server, its extension hosts, our language server, file watchers.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(cs.pid, sig)
            except ProcessLookupError:
                break
            try:
                cs.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
