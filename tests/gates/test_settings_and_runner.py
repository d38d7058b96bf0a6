"""`[gates]` settings through the real config loader, and what run_gates reports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.gates.conftest import MODULE, one, run
from tta_codegen.config import load_config
from tta_codegen.gates.python import _has_module
from tta_codegen.gates.runner import GateResult, failure_summary
from tta_codegen.gates.settings import GatesConfig
from tta_codegen.gates.types import GateDiagnostic

TOML = """
[gates]
enabled = ["syntax", "ruff", "lint-twice"]
timeout_s = 12
memory_mb = 1024

[gates.ruff]
select = ["F"]

[[gates.commands]]
name = "lint-twice"
command = "ruff check {file}"
timeout_s = 5

[gates.languages.python]
enabled = ["syntax", "tests"]

[refine]
max_iterations = 2
"""


def test_gates_section_loads_from_the_workspace_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    (tmp_path / "tta-codegen.toml").write_text(TOML)
    loaded = load_config(tmp_path, environ={}, trusted=True)
    assert loaded.ok, loaded.issues
    gates = loaded.config.gates
    assert gates.timeout_s == 12 and gates.memory_mb == 1024 and gates.ruff.select == ["F"]
    assert gates.command("lint-twice") is not None
    assert gates.enabled_for("python") == ["syntax", "tests"]
    assert gates.enabled_for("rust") == ["syntax", "ruff", "lint-twice"]
    assert loaded.config.refine.max_iterations == 2


def test_unknown_gate_names_are_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    (tmp_path / "tta-codegen.toml").write_text('[gates]\nenabled = ["syntax", "pylint"]\n')
    loaded = load_config(tmp_path, environ={})
    assert not loaded.ok
    assert "unknown gate(s) pylint" in loaded.error_message()
    assert "[[gates.commands]]" in loaded.error_message()


@pytest.mark.parametrize(
    "data, words",
    [
        ({"commands": [{"name": "ruff", "command": "x"}]}, "built-in gate"),
        ({"commands": [{"name": "a b", "command": "x"}]}, "letters, digits"),
        ({"commands": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]}, "unique"),
        ({"languages": {"python": {"enabled": ["nope"]}}}, "languages.python.enabled"),
        ({"timeout_s": 0}, "greater than 0"),
    ],
)
def test_bad_gate_settings(data: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        GatesConfig.model_validate(data)


def test_defaults() -> None:
    gates = GatesConfig()
    assert gates.enabled == ["syntax", "definition", "ruff", "examples", "tests"]
    assert not gates.allow_network and gates.memory_mb == 2048


def test_failure_summary_names_each_failed_gate_and_why() -> None:
    results = [
        GateResult("syntax", True),
        GateResult(
            "ruff",
            False,
            "line 2, column 16: Undefined name `c` [F821]",
            [GateDiagnostic(1, 15, "Undefined name `c`", "F821")],
        ),
        GateResult("tests", False, "1 of 1 test(s) failed\n- test_add: assert -1 == 3"),
    ]
    summary = failure_summary(results)
    assert summary == (
        "Gate `ruff` failed:\nline 2, column 16: Undefined name `c` [F821]\n\n"
        "Gate `tests` failed:\n1 of 1 test(s) failed\n- test_add: assert -1 == 3"
    )
    assert failure_summary(results[:1]) == ""
    assert results[1].to_answer() == {
        "name": "ruff",
        "passed": False,
        "message": results[1].message,
    }


async def test_paths_escaping_the_copy_are_refused(workspace: Path) -> None:
    results = await run(workspace, MODULE, enabled=["tests"], targets=["../elsewhere/test_x.py"])
    result = one(results, "tests")
    assert not result.passed and "no '..'" in (result.message or "")


async def test_absolute_path_without_a_workspace(tmp_path: Path) -> None:
    results = await run(
        None,
        "def f():\n    return 1\n",
        path=str(tmp_path / "loose.py"),
        enabled=["syntax", "ruff", "named"],
        commands=[{"name": "named", "command": "test $(basename {file}) = loose.py"}],
    )
    assert [(r.name, r.passed) for r in results] == [
        ("syntax", True),
        ("ruff", True),
        ("named", True),
    ]
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(
    not _has_module(__import__("sys").executable, "mypy"), reason="mypy not installed"
)
async def test_mypy_gate_reports_type_errors_in_the_region(workspace: Path) -> None:
    text = "def add(a: int, b: int) -> int:\n    return str(a + b)\n"
    result = one(await run(workspace, text, enabled=["mypy"]), "mypy")
    assert not result.passed
    assert [(d.line, d.code) for d in result.diagnostics] == [(1, "return-value")]
    typed = "def add(a: int, b: int) -> int:\n    return a + b\n"
    assert one(await run(workspace, typed, enabled=["mypy"]), "mypy").passed
