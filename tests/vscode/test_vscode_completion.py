"""Inline completion end to end in a real VS Code (code-server) driven by Chromium.

Same machinery as ``test_vscode_e2e.py`` (whose helpers this reuses): the packaged
extension, this checkout's server, the fake provider answering the FIM endpoint. The
driver (``completion_e2e.mjs``) types as a person would; this test checks the disk, the
fake's request log (the cache answered while the user typed over a suggestion) and the
completion statistics the acceptance produced.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vscode.test_vscode_e2e import (
    CODE_SERVER,
    EXTENSION,
    NODE24_BIN,
    PLAYWRIGHT,
    ROOT,
    SERVER,
    WORKBENCH_SETTINGS,
    _free_port,
    _logs_text,
    _missing_tools,
    _wait_healthy,
)

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("completion_e2e.mjs")
ORIGINAL = "import math\n\n"
RULES = [
    # Most specific first: the fake matches a substring of the FIM prompt (code before the cursor).
    {"match": "    return ", "reply": {"chunks": ["a + b\n"]}},
    {"match": "def add(a, b):", "reply": {"chunks": ["\n    return a + b\n"]}},
    {"reply": {"chunks": []}},  # anything else: no suggestion
]


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    script = tmp_path / "rules.json"
    script.write_text(json.dumps(RULES), encoding="utf-8")
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
        proc.wait(10)


def test_inline_completion_in_vscode(tmp_path: Path, provider: tuple[int, Path]) -> None:
    missing = _missing_tools()
    if missing:
        pytest.skip("VS Code e2e tools missing: " + "; ".join(missing))
    port, provider_log = provider
    vsix = sorted(EXTENSION.glob("*.vsix"), key=lambda p: p.stat().st_mtime)[-1]
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "add.py").write_text(ORIGINAL, encoding="utf-8")
    user_data, extensions = tmp_path / "ud", tmp_path / "ext"
    (user_data / "User").mkdir(parents=True)
    settings = {
        **WORKBENCH_SETTINGS,
        "editor.inlineSuggest.enabled": True,
        "ttaCodegen.server.path": str(SERVER),
        "ttaCodegen.providers": {
            "fake": {"kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1"}
        },
        "ttaCodegen.models": [{"id": "fake-a", "provider": "fake", "fim": True}],
        "ttaCodegen.routing": {"default": "fake-a"},
        "ttaCodegen.review": {"mode": "auto"},
    }
    (user_data / "User" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    env = dict(os.environ)
    env.update(
        PATH=f"{NODE24_BIN}{os.pathsep}{SERVER.parent}{os.pathsep}{env.get('PATH', '')}",
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
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_healthy(url, cs, cs_log)
        shots = os.environ.get("TTA_VSCODE_SHOTS", str(tmp_path / "shots"))
        driver = subprocess.run(
            ["node", str(SCRIPT)],
            env={**os.environ, "URL": url, "WS": str(ws), "PW": str(PLAYWRIGHT),
                 "CHROMIUM": str(shutil.which("chromium")), "SHOTS": shots},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        lines = driver.stdout.strip().splitlines()
        report = json.loads(lines[-1]) if lines else {}
        logs = _logs_text(user_data)
        context = (
            f"driver exit {driver.returncode}\nreport: {json.dumps(report, indent=1)}\n"
            f"driver stderr:\n{driver.stderr[-3000:]}\nlogs:\n{logs[-6000:]}"
        )
        assert "failure" not in report, context
        assert any("TTA" in s for s in report["statusItems"]), context
        # Typing the signature showed the body as ghost text; Esc dismissed it.
        # (Ghost text is drawn token by token: compare without whitespace.)
        assert "returna+b" in "".join(report["signatureGhost"].split()), context
        assert report["ghostAfterEscape"] == 0, context
        # Typing what the signature's suggestion predicted (Enter, "return ", "a") kept
        # the rest on screen with no model call: the server answered from its cache.
        assert "".join(report["returnGhost"].split()) == "a+b", context
        assert "".join(report["ghostAfterTyping"].split()) == "+b", context
        requests = [json.loads(line) for line in provider_log.read_text().splitlines()]
        prompts = [r["body"].get("prompt", "") for r in requests if r["path"] == "/v1/completions"]
        # (On a loaded machine a slow keystroke is a pause and may earn its own call.)
        assert any(p.endswith("def add(a, b):") for p in prompts), prompts
        typed_over = ("    ", "return", "return ", "return a")
        assert not any(p.endswith(typed_over) for p in prompts), prompts
        # Tab accepted it.
        assert report["disk"].startswith(ORIGINAL + "def add(a, b):\n    return a + b"), context
        # The acceptance reached the server's statistics.
        stats = subprocess.run(
            [str(SERVER), "stats", "--json"], env=env, capture_output=True, text=True,
            timeout=60, check=False, cwd=ws,
        )  # fmt: skip
        completions = json.loads(stats.stdout)["completions"]
        assert completions and completions[0]["accepted"] >= 1, stats.stdout + stats.stderr
    finally:
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
