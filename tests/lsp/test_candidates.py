"""The candidate loop over the real server: the first passing candidate, else the best, stays.

The fake provider answers each call with a different candidate; the gates are real
(`syntax`, `definition`, `examples` in the sandbox). The time bound and the other branches
are tested on the engine: tests/engine/test_candidate_loop.py.
"""

from __future__ import annotations

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import provider_settings

ASK = "def add(a, b) returning the sum.\nFor example:\n  add(2, 3) == 5\n  add(-1, 1) == 0\n"
GATES = {"enabled": ["syntax", "definition", "examples"], "tests": {"autoload_plugins": False}}


def fenced(code: str) -> Reply:
    return Reply.text(f"```python\n{code}```\n", size=8)


async def generate(editor: object, uri: str) -> dict[str, object]:
    answer = await editor.execute(  # type: ignore[attr-defined]
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": ASK},
    )
    assert isinstance(answer, dict)
    return answer


async def test_stops_at_the_first_candidate_that_passes(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.add(fenced("def add(a, b):\n    return a - b\n"), times=1)
    fake.add(fenced("def add(a, b):\n    return a + b\n"), times=1)
    fake.add(fenced("def add(a, b):\n    return 0\n"))
    editor = await make_editor(provider_settings(fake.base_url, gates=GATES))
    uri = editor.open("calc.py", "")
    answer = await generate(editor, uri)
    assert answer["status"] == "completed", answer
    assert answer["iterations"] == 2 and len(fake.requests) == 2
    assert editor.text(uri) == "def add(a, b):\n    return a + b\n"
    assert {g["name"]: g["passed"] for g in answer["gates"]} == {  # type: ignore[union-attr]
        "syntax": True,
        "definition": True,
        "examples": True,
    }
    # The first is the single shot at the generation temperature, then the schedule; the
    # second is a fresh sample of the same prompt (no failure fed back by default).
    first, second = fake.requests[0].body, fake.requests[1].body
    assert first["temperature"] == 0.2 and second["temperature"] == 0.4
    assert first["messages"] == second["messages"]


async def test_delivers_the_best_candidate_into_the_document_when_none_passes(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.add(fenced("def add(a, b):\n    return a * b\n"), times=1)  # 0 of 2 examples
    fake.add(fenced("def add(a, b):\n    return 5 if a == 2 else 7\n"), times=1)  # 1 of 2
    fake.add(fenced("def plus(a, b):\n    return a + b\n"))  # not what was asked for
    settings = provider_settings(fake.base_url, gates=GATES, refine={"max_iterations": 3})
    editor = await make_editor(settings)
    uri = editor.open("calc.py", "")
    answer = await generate(editor, uri)
    assert answer["status"] == "gates_failed" and answer["iterations"] == 3, answer
    # The document streamed the third candidate last; the chosen second one is what stays.
    await editor.wait_for(
        lambda: editor.text(uri) == "def add(a, b):\n    return 5 if a == 2 else 7\n"
    )
