"""The pure parts: sandbox paths, edit operations, routing, the loop guard."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from tta_codegen.agents.edits import (
    AgentEditError,
    replacement,
    sandbox_relative,
    workspace_file,
)
from tta_codegen.agents.events import InsertText, ReplaceText, WriteFile
from tta_codegen.agents.guards import LoopGuard
from tta_codegen.agents.routing import wants_agent
from tta_codegen.agents.settings import OpenHandsSettings
from tta_codegen.config import Config


def apply(text: str | None, op: object) -> str:
    start, end, new = replacement(text, op, "f.py")  # type: ignore[arg-type]
    base = text or ""
    return base[:start] + new + base[end:]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/workspace/a.py", "a.py"),
        ("/workspace/pkg/./b.py", "pkg/b.py"),
        ("pkg/c.py", "pkg/c.py"),
        ("/workspace/pkg/../d.py", "d.py"),
    ],
)
def test_sandbox_paths_map_into_the_workspace(path: str, expected: str) -> None:
    assert sandbox_relative(path, "/workspace") == PurePosixPath(expected)


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "/workspace/../etc/x", "../x.py", "/workspace", "/workspaces/a.py", ""]
)
def test_paths_leaving_the_workspace_are_refused(path: str) -> None:
    with pytest.raises(AgentEditError):
        sandbox_relative(path, "/workspace")


def test_symlink_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    assert workspace_file(root, PurePosixPath("pkg/a.py")) == root.resolve() / "pkg" / "a.py"
    with pytest.raises(AgentEditError, match="outside the workspace"):
        workspace_file(root, PurePosixPath("link/a.py"))


def test_edit_operations() -> None:
    text = "a = 1\nb = 2\n"
    assert apply(text, ReplaceText("b = 2", "b = 3")) == "a = 1\nb = 3\n"
    assert apply(text, InsertText(0, "import os")) == "import os\na = 1\nb = 2\n"
    assert apply(text, InsertText(1, "# mid")) == "a = 1\n# mid\nb = 2\n"
    assert apply("a = 1", InsertText(1, "b = 2")) == "a = 1\nb = 2"
    assert apply(None, WriteFile("new\n")) == "new\n"
    assert apply(text, WriteFile("a = 1\nc = 3\n")) == "a = 1\nc = 3\n"
    # The replacement is minimal: only the changed middle is sent.
    assert replacement(text, WriteFile("a = 1\nb = 3\n"), "f.py") == (10, 11, "3")
    with pytest.raises(AgentEditError, match="not in the editor's copy"):
        replacement(text, ReplaceText("zzz", "y"), "f.py")
    with pytest.raises(AgentEditError, match="2 times"):
        replacement("x\nx\n", ReplaceText("x", "y"), "f.py")
    with pytest.raises(AgentEditError, match="does not exist"):
        replacement(None, ReplaceText("x", "y"), "f.py")
    with pytest.raises(AgentEditError, match="has 3 lines"):
        replacement(text, InsertText(9, "x"), "f.py")


@pytest.mark.parametrize(
    ("description", "mode", "wanted"),
    [
        ("write a fibonacci function", None, False),
        ("add a docstring to parse_config", None, False),
        ("fix the bug in utils.py", None, False),
        ("write a fibonacci function", "agent", True),
        ("rename load to read across the codebase", "direct", False),
        ("move the parser from api.py into parser.py and update tests/test_api.py", None, True),
        ("rename load() to read() across the codebase", None, True),
        ("refactor all handlers to use the new logger", None, True),
        ("add type hints to every module in the whole project", None, True),
        ("update the import in several files", None, True),
    ],
)
def test_wants_agent(description: str, mode: str | None, wanted: bool) -> None:
    got, reason = wants_agent(description, mode)
    assert got is wanted, reason
    assert reason


def test_loop_guard_counts_both_condensation_kinds_in_a_row() -> None:
    guard = LoopGuard(condensation_limit=3, repeat_limit=3)
    cond = {"source": "agent", "action": "condensation", "args": {}}
    req = {"source": "agent", "action": "condensation_request", "args": {}}
    work = {"source": "agent", "action": "run", "args": {"command": "ls"}}
    assert guard.observe(cond) is None
    assert guard.observe({"observation": "run", "content": "", "extras": {}}) is None
    assert guard.observe(work) is None  # real work resets the run of condensations
    assert guard.observe(req) is None and guard.observe(cond) is None
    verdict = guard.observe(req)
    assert verdict is not None and verdict.reason == "condensation_loop"


def test_loop_guard_repeats_ignore_thoughts_but_not_arguments() -> None:
    guard = LoopGuard(condensation_limit=3, repeat_limit=3)

    def run(cmd: str, thought: str) -> dict[str, object]:
        return {"source": "agent", "action": "run", "args": {"command": cmd, "thought": thought}}

    assert guard.observe(run("ls", "one")) is None
    assert guard.observe(run("ls", "two")) is None
    assert guard.observe(run("ls -a", "three")) is None  # different arguments: no repeat
    assert guard.observe(run("ls -a", "four")) is None
    assert guard.observe({"source": "user", "action": "message", "args": {}}) is None
    verdict = guard.observe(run("ls -a", "five"))
    assert verdict is not None and verdict.reason == "repeated_action"


def test_settings_read_the_contract_keys_from_config() -> None:
    table = {"enabled": True, "base_url": "http://h:1", "api_key_env": "K"}
    s = Config.model_validate({"agents": {"openhands": table}}).agents.openhands
    assert isinstance(s, OpenHandsSettings)  # the table is the agent package's own model
    assert (s.enabled, s.base_url, s.api_key_env) == (True, "http://h:1", "K")
    assert s.condensation_limit == 3 and s.max_iterations == 50
    assert not OpenHandsSettings().enabled  # off unless enabled
