"""Many generations in a row and at once: correct text, bounded memory, a correct ledger."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings, serve_command

CODE = "".join(f"item_{i} = {i}\n" for i in range(40))


def rss_kb(editor: Editor) -> int:
    pid = editor.client._server.pid  # type: ignore[union-attr]
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def run_one(editor: Editor, name: str) -> None:
    uri = editor.open(name, "")
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 0},
            "description": name,
        },
    )
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == CODE
    editor.close(uri)


async def test_fifty_sequential_and_eight_concurrent_without_a_leak(
    make_editor: StartEditor, fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(Reply.text("```python\n" + CODE + "```\n", size=16))
    editor = await make_editor(
        provider_settings(fake.base_url, gates={"enabled": []}, context={"index": False}),
        server_command=serve_command(process=True),  # its memory is read from /proc/<pid>
    )
    for i in range(5):  # warm up: imports, caches, the HTTP pool
        await run_one(editor, f"warm{i}.py")
    before = rss_kb(editor)
    for i in range(50):
        await run_one(editor, f"seq{i}.py")
    for batch in range(3):
        await asyncio.gather(*(run_one(editor, f"c{batch}_{i}.py") for i in range(8)))
    after = rss_kb(editor)
    growth = after - before
    assert growth < 30_000, f"RSS grew by {growth} kB over 74 generations ({before} -> {after})"
    # Every request reached the ledger exactly once.
    ledgers = list((tmp_path).rglob("ledger.sqlite3"))
    assert ledgers, "no ledger written"
    with sqlite3.connect(ledgers[0]) as db:
        (rows,) = db.execute("select count(*) from requests").fetchone()
    assert rows == 5 + 50 + 24
