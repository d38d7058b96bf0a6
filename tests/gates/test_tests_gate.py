"""The `tests` gate: real pytest runs on a copy where the candidate shadows the workspace."""

from __future__ import annotations

from pathlib import Path

from tests.gates.conftest import MODULE, one, run


async def test_passes_for_correct_code(workspace: Path) -> None:
    results = await run(workspace, MODULE, enabled=["tests"], targets=["tests/test_mod.py"])
    result = one(results, "tests")
    assert result.passed, result.message
    assert result.to_answer() == {"name": "tests", "passed": True}


async def test_fails_with_the_assertion_message_for_broken_code(workspace: Path) -> None:
    broken = "def add(a, b):\n    return a - b\n"
    result = one(
        await run(workspace, broken, enabled=["tests"], targets=["tests/test_mod.py"]), "tests"
    )
    assert not result.passed
    assert result.message is not None
    assert "1 of 1 test(s) failed" in result.message
    assert "add(1, 2) should be 3" in result.message
    assert "test_add" in result.message
    answer = result.to_answer()
    assert answer["passed"] is False and "add(1, 2) should be 3" in answer["message"]


async def test_points_at_the_candidate_line_the_failure_went_through(workspace: Path) -> None:
    broken = "def add(a, b):\n    return a + missing\n"
    result = one(
        await run(workspace, broken, enabled=["tests"], targets=["tests/test_mod.py"]), "tests"
    )
    assert not result.passed
    assert result.diagnostics[0].line == 1
    assert "NameError" in result.diagnostics[0].message


async def test_generated_tests_run_from_extra_files(workspace: Path) -> None:
    generated = {
        "tests/test_generated.py": "from mod import add\n\n\ndef test_zero():\n    assert add(0, 0) == 1\n"
    }
    result = one(await run(workspace, MODULE, enabled=["tests"], extra=generated), "tests")
    assert not result.passed
    assert "test_zero" in (result.message or "")
    assert not (workspace / "tests" / "test_generated.py").exists()


async def test_no_tests_means_no_result(workspace: Path) -> None:
    # other.py: no test in the workspace imports it (tests/test_mod.py imports mod).
    results = await run(workspace, MODULE, path="other.py", enabled=["syntax", "tests"])
    assert [r.name for r in results] == ["syntax"]


async def test_empty_generated_test_file_fails(workspace: Path) -> None:
    result = one(
        await run(
            workspace,
            MODULE,
            enabled=["tests"],
            targets=["tests/test_none.py"],
            extra={"tests/test_none.py": "x = 1\n"},
        ),
        "tests",
    )
    assert not result.passed
    assert "no tests were collected" in (result.message or "")


async def test_candidate_in_a_package_still_imports_its_siblings_from_the_workspace(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "proj"
    (ws / "pkg").mkdir(parents=True)
    (ws / "tests").mkdir()
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (ws / "pkg" / "calc.py").write_text("def quad(x):\n    raise NotImplementedError\n")
    (ws / "tests" / "test_calc.py").write_text(
        "from pkg.calc import quad\n\n\ndef test_quad():\n    assert quad(3) == 12\n"
    )
    candidate = "from pkg.helpers import double\n\n\ndef quad(x):\n    return double(double(x))\n"
    result = one(
        await run(
            ws, candidate, path="pkg/calc.py", enabled=["tests"], targets=["tests/test_calc.py"]
        ),
        "tests",
    )
    assert result.passed, result.message
    assert (ws / "pkg" / "calc.py").read_text().endswith("NotImplementedError\n")


async def test_default_plugin_autoload_still_runs(workspace: Path) -> None:
    results = await run(
        workspace,
        MODULE,
        enabled=["tests"],
        targets=["tests/test_mod.py"],
        tests={"autoload_plugins": True},
    )
    assert one(results, "tests").passed
