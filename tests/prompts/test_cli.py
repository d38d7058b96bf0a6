"""``tta-codegen prompts list|show`` as a user runs it: a real subprocess in a workspace."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.guards import HANG_GUARD_S
from tests.lsp.harness import tta_command

from .conftest import template, write


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def run(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTA_CODEGEN_")}
    env["XDG_CONFIG_HOME"] = str(ws.parent / "config")
    return subprocess.run(
        tta_command("prompts", *args, env=env),
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )


def test_list_json_matches_the_library_and_includes_workspace_templates(ws: Path) -> None:
    write(ws / ".tta-codegen" / "prompts" / "team" / "greeting.j2", template())
    write(ws / ".tta-codegen" / "prompts" / "broken.j2", "{#---\ntitle = \n---#}\n")
    result = run(ws, "list", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    by_id = {p["id"]: p for p in listing}
    assert len(listing) >= 21 and "circuit-breaker" in by_id
    assert by_id["greeting"]["source"] == "workspace"
    assert by_id["greeting"]["variables"] == [{"name": "who", "required": True, "example": "world"}]
    assert "broken" not in by_id
    assert (
        f"skipped broken template: {ws / '.tta-codegen' / 'prompts' / 'broken.j2'}:2:"
        in result.stderr
    )


def test_list_table(ws: Path) -> None:
    result = run(ws, "list")
    assert result.returncode == 0, result.stderr
    assert "agents:\n" in result.stdout and "testing:\n" in result.stdout
    line = next(x for x in result.stdout.splitlines() if "circuit-breaker" in x)
    assert "Circuit breaker" in line


def test_show_and_render(ws: Path) -> None:
    shown = run(ws, "show", "circuit-breaker")
    assert shown.returncode == 0, shown.stderr
    assert "circuit-breaker: Circuit breaker" in shown.stdout
    assert "name [required]" in shown.stdout and "failure_threshold [default 5]" in shown.stdout
    assert '{% extends "_base/task.j2" %}' in shown.stdout  # the source follows

    rendered = run(ws, "show", "circuit-breaker", "--render", "--var", "name=payments")
    assert rendered.returncode == 0, rendered.stderr
    assert "--- system ---" in rendered.stdout
    assert "protecting `payments`" in rendered.stdout and "Requirements:" in rendered.stdout


def test_show_errors_exit_2_with_a_clear_message(ws: Path) -> None:
    unknown = run(ws, "show", "nope")
    assert unknown.returncode == 2
    assert "unknown template 'nope' (see tta-codegen prompts list)" in unknown.stderr
    missing = run(ws, "show", "circuit-breaker", "--render")
    assert missing.returncode == 2
    assert "needs variable 'name'" in missing.stderr
