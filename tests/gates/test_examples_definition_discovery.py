"""The `examples` and `definition` gates, and finding a module's own tests in the workspace."""

from __future__ import annotations

from pathlib import Path

from tests.gates.conftest import config, one
from tta_codegen.gates.definition import required_definitions
from tta_codegen.gates.examples import Example, extract_examples
from tta_codegen.gates.python import discover_tests
from tta_codegen.gates.runner import GateInput, run_gates
from tta_codegen.gates.types import RequiredDefinition

STUB = '''def add(a, b):
    """Add two numbers.

    >>> add(2, 3)
    5
    >>> add('a', 'b')
    'ab'

    Examples:
        add(1, 1) == 2
        add(0, 4) ➞ 4
    """
'''


def test_examples_are_read_from_doctests_and_example_sections() -> None:
    found = extract_examples(
        ["Adds.\n>>> add(2, 3)\n5\n>>> x = add(1,\n...     2)\n>>> x\n3\n",
         "For example:\n  f(1) == 2\n  add(0, 4) ➞ 4.\n  prose that is no example\n"],
        ["add"],
    )  # fmt: skip
    assert found == [
        Example("add(2, 3)", "5"),
        Example("x = add(1,\n    2)", None),
        Example("x", "3"),
        Example("add(0, 4)", "4"),
    ]
    # Only calls of the requested function count (any call in an Example section when no
    # function was asked for); both sides must be values, not formulas.
    assert extract_examples(["g(1) == 2"], ["add"]) == []
    assert extract_examples(["Examples:\n g(1) == 2"], []) == [Example("g(1)", "2")]
    assert extract_examples(["add(1) == 2 and more words"], ["add"]) == []
    assert extract_examples(["add(n) == add(n - 1) + 1"], ["add"]) == []
    assert extract_examples(["add(1, 0) => true"], ["add"]) == [Example("add(1, 0)", "True")]
    # A doctest whose source does not compile (a docstring's "\n" broke a string) is dropped.
    assert extract_examples(['>>> add("a\nb")\n1'], ["add"]) == []


def test_required_definition_is_the_stub_at_the_cursor_or_a_signature_in_words() -> None:
    text = "import os\n\n" + STUB + "\n\ndef done():\n    return 1\n"
    at_end = text.index("\n\ndef done")
    (req,) = required_definitions(text, at_end, at_end, "")
    assert req.name == "add" and req.params == ("a", "b") and ">>> add(2, 3)" in req.docstring
    inside = text.index("Add two")
    assert required_definitions(text, inside, inside, "")[0].name == "add"
    # Not on a stub: nothing in particular, unless the description spells a signature.
    in_done = text.index("return 1")
    assert required_definitions(text, in_done, in_done, "") == []
    (spelled,) = required_definitions("", 0, 0, "write def area(w, h, *rest, **kw) please")
    assert spelled == RequiredDefinition("area", ("w", "h", "*rest", "**kw"))
    # The README's request spells it in words.
    readme = "a function is_prime(n) that checks whether n is prime"
    assert required_definitions("", 0, 0, readme) == [RequiredDefinition("is_prime", ("n",))]
    assert required_definitions("", 0, 0, "a function that checks whether n is prime") == []


def inp(text: str, workspace: Path | None, *, required: list[RequiredDefinition], description: str = "",
        path: str = "mod.py") -> GateInput:  # fmt: skip
    return GateInput(path=path, text=text, language="python", workspace_root=workspace,
                     description=description, required=required)  # fmt: skip


ADD = RequiredDefinition("add", ("a", "b"), STUB.split('"""')[1])


async def test_examples_gate_passes_for_code_that_satisfies_them(tmp_path: Path) -> None:
    good = STUB + "    return a + b\n"
    results = await run_gates(
        inp(good, tmp_path, required=[ADD]), config(enabled=["syntax", "definition", "examples"])
    )
    assert [(r.name, r.passed) for r in results] == [
        ("syntax", True),
        ("definition", True),
        ("examples", True),
    ], results
    examples = one(results, "examples")
    assert examples.fraction == 1.0 and examples.observed == ["5", "'ab'", "2", "4"]


async def test_examples_gate_reports_each_failure_and_partial_credit(tmp_path: Path) -> None:
    wrong = STUB + "    return a * b if a != 2 else 5\n"  # right for add(2, 3) only
    result = one(
        await run_gates(inp(wrong, tmp_path, required=[ADD]), config(enabled=["examples"])),
        "examples",
    )
    assert not result.passed
    assert result.fraction == 0.25
    assert result.message is not None and "3 of 4 example(s) failed" in result.message
    assert "add(1, 1) gave 1, expected 2" in result.message
    assert "TypeError" in result.message  # 'a' * 'b'


async def test_examples_gate_is_bounded_and_reports_an_import_failure(tmp_path: Path) -> None:
    # Loops for add(2, 3) only: that example is cut at its 2 s bound (once, not once per
    # example), and the ones after it still run.
    looping = STUB + "    while a == 2:\n        pass\n    return a + b\n"
    result = one(
        await run_gates(inp(looping, tmp_path, required=[ADD]), config(enabled=["examples"])),
        "examples",
    )
    assert not result.passed and "took more than 2 s" in (result.message or "")
    assert result.fraction == 0.75, result.message
    broken_import = "import no_such_module_xyz\n\n" + STUB + "    return a + b\n"
    result = one(
        await run_gates(inp(broken_import, tmp_path, required=[ADD]), config(enabled=["examples"])),
        "examples",
    )
    assert not result.passed and "importing the module failed" in (result.message or "")
    assert "no_such_module_xyz" in (result.message or "")


async def test_examples_from_the_description_and_no_examples_no_result(tmp_path: Path) -> None:
    code = "def square(x):\n    return x * x\n"
    said = "a function square, for example: square(3) == 9 and square(-2) == 4"
    results = await run_gates(inp(code, tmp_path, required=[], description="For example:\n square(3) == 9\n"),
                              config(enabled=["examples"]))  # fmt: skip
    assert one(results, "examples").passed
    assert await run_gates(inp(code, tmp_path, required=[], description=said.split(",")[0]),
                           config(enabled=["examples"])) == []  # fmt: skip


async def test_definition_gate_catches_a_renamed_function_and_changed_parameters(
    tmp_path: Path,
) -> None:
    conf = config(enabled=["syntax", "definition"])
    renamed = STUB + "    return 0\n\n\ndef plus(a, b):\n    return a + b\n"
    assert one(await run_gates(inp(renamed, tmp_path, required=[ADD]), conf), "definition").passed
    only_other = STUB + "\n\ndef plus(a, b):\n    return a + b\n"
    result = one(await run_gates(inp(only_other, tmp_path, required=[ADD]), conf), "definition")
    assert not result.passed and "`add` is not defined" in (result.message or "")
    changed = "def add(x, y=0):\n    return x + y\n"
    result = one(await run_gates(inp(changed, tmp_path, required=[ADD]), conf), "definition")
    assert not result.passed and "takes (x, y) but (a, b) was asked for" in (result.message or "")
    assert result.diagnostics[0].code == "wrong-signature"
    # Nothing asked for: no result. A file that does not parse: not run.
    assert [r.name for r in await run_gates(inp(changed, tmp_path, required=[]), conf)] == [
        "syntax"
    ]
    bad = one(await run_gates(inp("def add(:\n", tmp_path, required=[ADD]), conf), "definition")
    assert not bad.passed and "not run" in (bad.message or "")


def test_discovery_finds_the_tests_that_import_the_module(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "shapes.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("from pkg.shapes import area\n")
    (tmp_path / "tests" / "test_b.py").write_text("from pkg import (\n    other, shapes)\n")
    (tmp_path / "tests" / "test_c.py").write_text("import pkg.shapes as s\n")
    (tmp_path / "tests" / "test_unrelated.py").write_text(
        "from pkg import shapes_extra\nimport shapes2\n"
    )
    (tmp_path / "tests" / "helper.py").write_text("import pkg.shapes\n")  # not a test file
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "test_hidden.py").write_text("import pkg.shapes\n")
    found = discover_tests(GateInput("pkg/shapes.py", "", "python", tmp_path))
    assert found == ["tests/test_a.py", "tests/test_b.py", "tests/test_c.py"]
    assert (
        discover_tests(GateInput(str(tmp_path / "pkg" / "shapes.py"), "", "python", tmp_path))
        == found
    )
    assert discover_tests(GateInput("pkg/absent.py", "", "python", tmp_path)) == []


async def test_the_tests_gate_runs_the_modules_own_tests(workspace: Path) -> None:
    # tests/test_mod.py does `from mod import add`: generating into mod.py runs it.
    broken = "def add(a, b):\n    return a - b\n"
    gate_input = GateInput("mod.py", broken, "python", workspace)
    result = one(await run_gates(gate_input, config(enabled=["tests"])), "tests")
    assert not result.passed and "add(1, 2) should be 3" in (result.message or "")
    assert result.fraction == 0.0
    fixed = GateInput("mod.py", "def add(a, b):\n    return a + b\n", "python", workspace)
    assert one(await run_gates(fixed, config(enabled=["tests"])), "tests").passed
