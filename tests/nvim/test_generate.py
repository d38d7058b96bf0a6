"""`:TTAGenerate` in a real Neovim: the buffer gets exactly the code, written to disk."""

from __future__ import annotations

from tests.fakes.provider import FakeProvider, Reply
from tests.nvim.conftest import Nvim

FENCED = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nThat adds.\n"


async def test_generate_writes_exact_code(nvim: Nvim, fake: FakeProvider) -> None:
    fake.add(Reply.text(FENCED, size=3, delay=0.01))
    original = "import os\n\n\nprint(os.sep)\n"
    path = nvim.workspace / "m.py"
    path.write_text(original, encoding="utf-8")

    run = await nvim.run("generate", file=path, line=3, description="a function add(a, b)")

    # PEP 8: two blank lines around a top-level definition (one was there on each side).
    assert path.read_text(encoding="utf-8") == (
        "import os\n\n\ndef add(a, b):\n    return a + b\n\n\nprint(os.sep)\n"
    ), run.why()
    [done] = run.done
    assert done["command"] == "tta.generate"
    assert done["status"] == "completed", run.why()
    assert done["result"]["text"] == "\ndef add(a, b):\n    return a + b\n\n"
    assert done["result"]["model"] == "fake-a"
    # Neovim negotiates utf-8 with the server (it offers utf-8 first).
    assert run.result["offset_encoding"] == "utf-8"
    # The request reached the provider with the description and the text around the cursor.
    [request] = fake.requests
    assert "a function add(a, b)" in request.last_user_message
    assert "print(os.sep)" in request.last_user_message
    # Progress was shown while streaming, and the user was told the outcome.
    kinds = [p["kind"] for p in run.result["progress"]]
    assert kinds[0] == "begin" and kinds[-1] == "end", run.result["progress"]
    assert any("Generate done: fake-a" in n["msg"] for n in run.result["notes"]), run.why()
    # The stream was one undo step: a single :undo restores the file as it was.
    assert run.result["after_undo"] == original, run.why()
    health = "\n".join(run.result["health"])
    assert "NVIM v0.11" in health or "Neovim 0.1" in health, health
    assert "client 1 (root" in health and "encoding utf-8" in health, health
    assert "ERROR" not in health, health


async def test_failing_gates_are_reported_as_such(nvim: Nvim, fake: FakeProvider) -> None:
    fake.add(Reply.text("```python\ndef add(a, b)\n    return a + b\n```\n"))
    path = nvim.workspace / "m.py"
    path.write_text("", encoding="utf-8")

    run = await nvim.run("generate", file=path, line=1, description="add")

    [done] = run.done
    assert done["status"] == "gates_failed", run.why()
    assert any(
        "Generate delivered, but gates failed (syntax" in n["msg"] for n in run.result["notes"]
    ), run.why()
