"""Refine, code actions, prompt templates and stats from a real Neovim.

Each case skips (with the reason) while the server does not offer what it drives yet, and
runs as soon as the command shows up in ``executeCommandProvider``.
"""

from __future__ import annotations

from tests.fakes.provider import FakeProvider, Reply
from tests.nvim.conftest import Nvim

SOURCE = "import os\n\n\ndef double(x):\n    return x+x\n\n\nprint(double(2))\n"
TYPED = "def double(x: int) -> int:\n    return 2 * x\n"


async def test_refine_rewrites_the_selected_lines(nvim: Nvim, fake: FakeProvider) -> None:
    fake.add(Reply.text(f"```python\n{TYPED}```\n", size=5, delay=0.01))
    path = nvim.workspace / "r.py"
    path.write_text(SOURCE, encoding="utf-8")

    run = await nvim.run("refine", file=path, line1=4, line2=5, instruction="add type hints")

    [done] = run.done
    assert done["command"] == "tta.refine"
    assert done["status"] == "completed", run.why()
    assert path.read_text(encoding="utf-8") == (f"import os\n\n\n{TYPED}\n\nprint(double(2))\n"), (
        run.why()
    )
    prompt = fake.requests[0].all_text
    assert "add type hints" in prompt
    assert "return x+x" in prompt  # the selection went to the model


async def test_code_action_applied_with_a_filter(nvim: Nvim, fake: FakeProvider) -> None:
    fake.add(Reply.text(f"```python\n{TYPED}```\n", size=5, delay=0.01))
    path = nvim.workspace / "a.py"
    path.write_text(SOURCE, encoding="utf-8")

    run = await nvim.run("code_action", file=path, line1=4, line2=5)

    [done] = run.done
    assert done["command"] == "tta.refine", run.why()
    assert done["status"] == "completed", run.why()
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"import os\n\n\n{TYPED}"), run.why()
    assert text.endswith("\nprint(double(2))\n"), run.why()
    assert "x+x" not in text
    assert "return x+x" in fake.requests[0].all_text


async def test_prompt_template_with_variables(nvim: Nvim, fake: FakeProvider) -> None:
    code = "def widget_endpoint():\n    return {'widget': 1}\n"
    fake.add(Reply.text(f"```python\n{code}```\n", size=5, delay=0.01))
    path = nvim.workspace / "p.py"
    path.write_text("import os\n\n", encoding="utf-8")

    run = await nvim.run(
        "prompt", file=path, line=2, description="for the shop", value="zorblax_widget"
    )

    assert run.result["choices"] >= 1
    assert run.result["template"], run.why()
    assert run.result["asked"], "the template's variables were asked for"
    assert [d["command"] for d in run.done] == ["tta.listPrompts", "tta.generate"], run.why()
    assert run.done[1]["status"] == "completed", run.why()
    # PEP 8: two blank lines above the generated function.
    assert path.read_text(encoding="utf-8") == f"import os\n\n\n{code}\n", run.why()
    # The variable's value and the description reached the model through the template.
    prompt = fake.requests[0].all_text
    assert "zorblax_widget" in prompt
    assert "for the shop" in prompt


async def test_stats_after_a_generation(nvim: Nvim, fake: FakeProvider) -> None:
    fake.add(Reply.text("```python\nx = 1\n```\n"))
    path = nvim.workspace / "s.py"
    path.write_text("\n", encoding="utf-8")

    run = await nvim.run("stats", file=path, description="one value")

    assert [d["status"] for d in run.done] == ["completed", "completed"], run.why()
    lines = run.result["stats_lines"]
    assert lines[0] == "tta-codegen stats"
    assert any(line.startswith("fake-a: 1 requests, 0 failed") for line in lines), lines
    assert run.result["stats_is_scratch"]
