"""tta.refine, the refinement loop against real gates, tta.generateTests and code actions."""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings

# The gate's pytest without this venv's plugins (hypothesis, pytest-lsp: ~3 s a run, all
# import time). Autoloading plugins has its own test (tests/gates/test_tests_gate.py).
NO_PLUGINS = {"tests": {"autoload_plugins": False}}

SOURCE = """import math


class Shapes:
    def area(self, r):
        return 3.14 * r * r

    def unchanged(self):
        return "keep me"
"""


def rng(l1: int, c1: int, l2: int, c2: int) -> dict[str, dict[str, int]]:
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}


async def test_refine_rewrites_range_in_place_keeping_indentation(
    editor: Editor, fake: FakeProvider
) -> None:
    # The model answers at column 0; the server re-indents to the selection's depth.
    fake.add(
        Reply.text(
            "```python\ndef area(self, r: float) -> float:\n    return math.pi * r * r\n```\n",
            size=5,
            delay=0.005,
        )
    )
    uri = editor.open("shapes.py", SOURCE)
    answer = await editor.execute(
        "tta.refine",
        {
            "textDocument": {"uri": uri},
            "range": rng(4, 4, 5, 27),
            "instruction": "use math.pi and types",
        },
    )
    assert answer["status"] == "completed", answer
    expected = SOURCE.replace(
        "    def area(self, r):\n        return 3.14 * r * r\n",
        "    def area(self, r: float) -> float:\n        return math.pi * r * r\n",
    )
    assert editor.text(uri) == expected
    sent = fake.requests[0].all_text
    assert "use math.pi and types" in sent and "return 3.14 * r * r" in sent


async def test_refine_does_not_rewrite_unchanged_prefix_and_suffix(
    editor: Editor, fake: FakeProvider
) -> None:
    body = "".join(f"    line{i} = {i}\n" for i in range(12))
    new_body = body.replace("    line6 = 6\n", "    line6 = 600\n")
    fake.add(Reply.text("```python\ndef f():\n" + new_body + "```\n", size=7, delay=0.002))
    original = "def f():\n" + body + "\nafter = 1\n"
    uri = editor.open("f.py", original)
    answer = await editor.execute(
        "tta.refine",
        {"textDocument": {"uri": uri}, "range": rng(0, 0, 13, 0), "instruction": "600"},
    )
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "def f():\n" + new_body + "\nafter = 1\n"
    sent_text = "".join(e.new_text for rec in editor.applied_edits() for e in rec.edits)
    assert "line6 = 600" in sent_text
    # Unchanged lines before and after the change were never sent again.
    assert "line0" not in sent_text and "line11" not in sent_text


async def test_refine_cancel_restores_the_selection(editor: Editor, fake: FakeProvider) -> None:
    fake.add(Reply.text("```python\n" + "x = 1\n" * 200 + "```\n", size=6, delay=0.02))
    uri = editor.open("c.py", SOURCE)
    msg_id, answer = editor.start(
        "tta.refine", {"textDocument": {"uri": uri}, "range": rng(4, 0, 6, 0), "instruction": "x"}
    )
    await editor.wait_for(lambda: len(editor.applied_edits()) >= 2)
    editor.cancel(msg_id)
    try:
        await answer
    except Exception as exc:
        assert "cancel" in str(exc).lower()
    await editor.wait_for(lambda: editor.text(uri) == SOURCE)


async def test_refinement_loop_feeds_gate_failures_back_until_they_pass(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    # First answer is broken (syntax error), the second, after feedback, is fixed.
    fake.add(Reply.text("```python\ndef broken(:\n    return 1\n```\n"), times=1)
    fake.add(Reply.text("```python\ndef fixed():\n    return 1\n```\n"), match="quality gates")
    # Feedback is off for code by default ([refine] feedback = "tests"); asked for here.
    editor = await make_editor(
        provider_settings(
            fake.base_url, gates={"enabled": ["syntax"]}, refine={"feedback": "always"}
        )
    )
    uri = editor.open("g.py", "")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": "f"},
    )
    assert answer["status"] == "completed", answer
    assert answer["iterations"] == 2
    assert answer["gates"] == [{"name": "syntax", "passed": True}]
    assert editor.text(uri) == "def fixed():\n    return 1\n"
    feedback = fake.requests[1].body["messages"]
    assert feedback[-2]["role"] == "assistant" and "def broken(:" in feedback[-2]["content"]
    assert "syntax" in feedback[-1]["content"] and "line 1" in feedback[-1]["content"].lower()


async def test_gates_still_failing_at_the_limit_are_reported_as_diagnostics(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\nx = (\n```\n"))
    editor = await make_editor(
        provider_settings(
            fake.base_url, gates={"enabled": ["syntax"]}, refine={"max_iterations": 2}
        )
    )
    uri = editor.open("d.py", "a = 1\n")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}, "description": "x"},
    )
    assert answer["iterations"] == 2 and len(fake.requests) == 2
    assert answer["gates"][0]["name"] == "syntax" and answer["gates"][0]["passed"] is False
    await editor.wait_for(lambda: bool(editor.client.diagnostics.get(uri)))
    diags = editor.client.diagnostics[uri]
    assert diags[0].source == "tta-codegen" and diags[0].range.start.line >= 1
    assert "syntax" in diags[0].message


async def test_refine_false_skips_the_loop(make_editor: StartEditor, fake: FakeProvider) -> None:
    fake.add(Reply.text("```python\nx = (\n```\n"))
    editor = await make_editor(provider_settings(fake.base_url, gates={"enabled": ["syntax"]}))
    uri = editor.open("n.py", "")
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 0},
            "description": "x",
            "refine": False,
        },
    )
    assert answer["iterations"] == 1 and len(fake.requests) == 1


async def test_generate_inside_indented_block_is_reindented(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\ndef perimeter(self, r):\n    return 2 * math.pi * r\n```\n"))
    text = SOURCE + "\n    \n"
    uri = editor.open("i.py", text)
    line = text.count("\n") - 1
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": 4},
            "description": "p",
        },
    )
    assert answer["status"] == "completed", answer
    assert editor.text(uri).endswith(
        "\n    def perimeter(self, r):\n        return 2 * math.pi * r\n\n"
    )


async def test_generate_tests_creates_the_test_file_and_runs_it(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    tests = "```python\nfrom calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n```\n"
    fake.add(Reply.text(tests))
    editor = await make_editor(
        provider_settings(fake.base_url, gates={"enabled": ["syntax", "tests"], **NO_PLUGINS})
    )
    uri = editor.open("calc.py", "def add(a, b):\n    return a + b\n")
    answer = await editor.execute("tta.generateTests", {"textDocument": {"uri": uri}})
    assert answer["status"] == "completed", answer
    test_file = editor.root / "tests" / "test_calc.py"
    assert answer["created"] is True and answer["uri"] == test_file.as_uri()
    assert (
        test_file.read_text()
        == "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    )
    assert {g["name"]: g["passed"] for g in answer["gates"]} == {"syntax": True, "tests": True}
    assert "def add(a, b)" in fake.requests[0].all_text


async def test_generate_tests_refuses_a_range_outside_the_document(
    editor: Editor, fake: FakeProvider
) -> None:
    uri = editor.open("calc.py", "def add(a, b):\n    return a + b\n")
    outside = {
        "start": {"line": 0, "character": 0},
        "end": {"line": 7, "character": 0},
    }
    with pytest.raises(Exception, match=r"range.end 7:0 is outside the document"):
        await editor.execute("tta.generateTests", {"textDocument": {"uri": uri}, "range": outside})
    past = {"start": {"line": 1, "character": 40}, "end": {"line": 1, "character": 41}}
    with pytest.raises(Exception, match=r"range.start 1:40 is past the end of line 1"):
        await editor.execute("tta.generateTests", {"textDocument": {"uri": uri}, "range": past})
    assert not fake.requests and not (editor.root / "tests").exists()


async def test_generated_tests_that_fail_are_refined(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    wrong = "```python\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 6\n```\n"
    right = "```python\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n```\n"
    fake.add(Reply.text(wrong), times=1)
    fake.add(Reply.text(right), match="quality gates")
    editor = await make_editor(
        provider_settings(fake.base_url, gates={"enabled": ["tests"], **NO_PLUGINS})
    )
    uri = editor.open("calc.py", "def add(a, b):\n    return a + b\n")
    answer = await editor.execute("tta.generateTests", {"textDocument": {"uri": uri}})
    assert answer["status"] == "completed" and answer["iterations"] == 2, answer
    assert (
        "assert 5 == 6" in fake.requests[1].body["messages"][-1]["content"]
        or "== 6" in fake.requests[1].body["messages"][-1]["content"]
    )
    assert "== 5" in (editor.root / "tests" / "test_calc.py").read_text()


async def test_code_actions_for_selection_and_diagnostic(
    editor: Editor, fake: FakeProvider
) -> None:
    uri = editor.open("a.py", SOURCE)
    actions = await editor.code_actions(
        uri,
        types.Range(types.Position(4, 0), types.Position(6, 0)),
        [
            types.Diagnostic(
                range=types.Range(types.Position(5, 8), types.Position(5, 12)),
                message="Magic number 3.14",
                source="pylint",
            )
        ],
    )
    titles = [a["title"] for a in actions] if isinstance(actions, list) else []
    assert "TTA: Generate tests" in titles and "TTA: Simplify" in titles
    fix = next(a for a in actions if a["title"].startswith("TTA: Fix with AI"))
    assert fix["kind"] == "quickfix"
    arg = fix["command"]["arguments"][0]
    assert arg["range"]["start"]["line"] == 4 and arg["range"]["end"]["line"] == 6
    assert "Magic number 3.14" in arg["instruction"] and "(pylint)" in arg["instruction"]
