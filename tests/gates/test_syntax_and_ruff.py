"""The in-process syntax gate and the ruff gate, on real files and the real ruff binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gates.conftest import MODULE, one, run
from tta_codegen.gates import python as ruff_python
from tta_codegen.gates.python import find_ruff


async def test_syntax_passes_valid_code(workspace: Path) -> None:
    result = one(await run(workspace, MODULE), "syntax")
    assert result.passed and result.diagnostics == [] and result.message is None


async def test_syntax_fails_with_line_and_column(workspace: Path) -> None:
    text = "import os\n\n\ndef add(a, b:\n    return a + b\n"
    result = one(await run(workspace, text), "syntax")
    assert not result.passed
    assert [(d.line, d.column) for d in result.diagnostics] == [(3, 7)]
    assert result.message is not None and result.message.startswith("line 4, column 8:")
    assert "never closed" in result.message


async def test_syntax_catches_compile_time_errors_ast_alone_accepts(workspace: Path) -> None:
    result = one(await run(workspace, "x = 1\nreturn x\n"), "syntax")
    assert not result.passed
    assert result.diagnostics[0].line == 1
    assert "outside function" in result.diagnostics[0].message


async def test_other_python_gates_wait_for_the_syntax(workspace: Path) -> None:
    results = await run(
        workspace, "def f(:\n", enabled=["syntax", "ruff", "tests"], targets=["tests/test_mod.py"]
    )
    assert [r.name for r in results] == ["syntax", "ruff", "tests"]
    assert all(not r.passed for r in results)
    assert "does not parse" in (one(results, "ruff").message or "")


needs_ruff = pytest.mark.skipif(find_ruff() is None, reason="ruff is not installed")


@needs_ruff
async def test_ruff_flags_an_undefined_name(workspace: Path) -> None:
    text = "def add(a, b):\n    return a + c\n"
    result = one(await run(workspace, text, enabled=["ruff"]), "ruff")
    assert not result.passed
    assert [(d.line, d.column, d.code) for d in result.diagnostics] == [(1, 15, "F821")]
    assert result.message == "line 2, column 16: Undefined name `c` [F821]"
    # The warm ruff server answered: no sandbox copy was made for it.
    assert result.sandbox is None


@needs_ruff
async def test_ruff_passes_clean_code(workspace: Path) -> None:
    result = one(await run(workspace, MODULE, enabled=["ruff"]), "ruff")
    assert result.passed and not result.skipped, result.message


@needs_ruff
async def test_a_ruff_without_a_server_falls_back_to_ruff_check(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ruff whose `server` fails (an old release, a broken install): the gate still
    answers, through a `ruff check` process in the sandbox."""
    real = find_ruff()
    fake = tmp_path / "bin" / "ruff"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\n[ "$1" = server ] && exit 2\nexec {real} "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(ruff_python, "find_ruff", lambda: str(fake))
    text = "def add(a, b):\n    return a + c\n"
    result = one(await run(workspace, text, enabled=["ruff"]), "ruff")
    assert [(d.line, d.column, d.code) for d in result.diagnostics] == [(1, 15, "F821")]
    assert result.sandbox is not None  # ran as a process in the sandbox


@needs_ruff
async def test_ruff_ignores_problems_outside_the_generated_region(workspace: Path) -> None:
    text = "def old():\n    return missing\n\n\ndef add(a, b):\n    return a + b\n"
    results = await run(workspace, text, enabled=["ruff"], region=(4, 6))
    assert one(results, "ruff").passed
    results = await run(workspace, text, enabled=["ruff"], region=(0, 2))
    assert [d.line for d in one(results, "ruff").diagnostics] == [1]


@needs_ruff
async def test_ruff_sees_the_candidate_in_its_project_and_honours_its_config(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "proj"
    (ws / "pkg").mkdir(parents=True)
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pyproject.toml").write_text(
        '[tool.ruff]\nline-length = 40\n[tool.ruff.lint]\nselect = ["E501"]\n'
    )
    long_line = "VALUE = 'a string long enough to pass forty characters'\n"
    result = one(await run(ws, long_line, path="pkg/mod.py", enabled=["ruff"]), "ruff")
    assert {d.code for d in result.diagnostics} == {"E501"}
    # The errors-only rules are added to the project's own selection.
    result = one(await run(ws, "x = y\n", path="pkg/mod.py", enabled=["ruff"]), "ruff")
    assert [d.code for d in result.diagnostics] == ["F821"]
    # Without the project's config, style is not checked.
    result = one(
        await run(
            ws, long_line, path="pkg/mod.py", enabled=["ruff"], ruff={"use_project_config": False}
        ),
        "ruff",
    )
    assert result.passed
