"""Issue 19, item 22: thirty generations streaming into one document at once all complete.

Each generation's edits are versioned; without coordination they invalidate each other's
versions until the retries run out. Queued per document, each lands on the first try.
"""

from __future__ import annotations

import asyncio

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import provider_settings

N = 30


async def test_thirty_concurrent_generations_in_one_document_all_complete(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    for i in range(N):
        code = "".join(f"g{i}_{k} = {k}\n" for k in range(3))
        fake.add(Reply.text(f"```python\n{code}```\n", size=5, delay=0.01), match=f"task-{i}:")
    editor = await make_editor(
        provider_settings(fake.base_url, gates={"enabled": []}, review={"mode": "auto"})
    )
    original = "".join(f"line{i} = {i}\n" for i in range(N))
    uri = editor.open("many.py", original)
    answers = await asyncio.gather(
        *(
            editor.execute(
                "tta.generate",
                {
                    "textDocument": {"uri": uri},
                    "position": {"line": i, "character": 0},
                    "description": f"task-{i}: three assignments",
                },
            )
            for i in range(N)
        )
    )
    errors = [a.get("error") for a in answers if a["status"] != "completed"]
    assert errors == [], errors
    text = editor.text(uri)
    # Every original line is still there, in order, and each generation's code is whole.
    assert [ln for ln in text.splitlines() if ln.startswith("line")] == original.splitlines()
    for i in range(N):
        block = "".join(f"g{i}_{k} = {k}\n" for k in range(3))
        assert block in text, i
        assert text.index(block) < text.index(f"line{i} = {i}\n")
