"""Review before keep, end to end: pending changes, lenses, accept/discard/diff/regenerate.

The real server over stdio, a pytest-lsp client that applies edits like VS Code, the fake
provider on loopback. The client answers ``workspace/codeLens/refresh`` and counts it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from lsprotocol import types

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings


@dataclass
class Lens:
    line: int
    title: str
    command: str
    arguments: list[Any]


class Reviewer:
    """An editor in review mode that counts lens refreshes."""

    def __init__(self, editor: Editor) -> None:
        self.editor = editor
        self.refreshes = 0

        @editor.client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def _refresh(params: None) -> None:
            self.refreshes += 1

    async def lenses(self, uri: str) -> list[Lens]:
        result = await self.editor.client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        out = []
        for lens in result or []:
            assert lens.command is not None
            out.append(
                Lens(
                    lens.range.start.line,
                    lens.command.title,
                    lens.command.command,
                    list(lens.command.arguments or []),
                )
            )
        return out

    async def refreshed_after(self, count: int) -> None:
        await self.editor.wait_for(lambda: self.refreshes > count, timeout=10)

    async def generate(self, uri: str, line: int, description: str, **kw: Any) -> Any:
        return await self.editor.execute(
            "tta.generate",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": 0},
                "description": description,
                **kw,
            },
        )


@pytest.fixture
async def review(make_editor: StartEditor, fake: FakeProvider) -> Reviewer:
    editor = await make_editor(
        provider_settings(fake.base_url, review={"mode": "lens"}, gates={"enabled": []})
    )
    return Reviewer(editor)


def code(text: str) -> Reply:
    return Reply.text(f"```python\n{text}```\n", size=5, delay=0.002)


def rng(l1: int, c1: int, l2: int, c2: int) -> dict[str, dict[str, int]]:
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}


BEFORE = "import os\n\n\nprint(os.sep)\n"
ADD = "def add(a, b):\n    return a + b\n"


async def test_accept_keeps_the_text_and_removes_the_lenses(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    fake.add(code(ADD))
    uri = ed.open("m.py", BEFORE)
    answer = await review.generate(uri, 2, "add")
    assert answer["status"] == "completed", answer
    # PEP 8: two blank lines around the function; the region holds the added ones too.
    expected = "import os\n\n\n" + ADD + "\n\nprint(os.sep)\n"
    assert ed.text(uri) == expected
    change = answer["review"]
    assert change["range"] == rng(2, 0, 6, 0) == answer["range"]
    await ed.wait_for(lambda: review.refreshes >= 1)
    lenses = await review.lenses(uri)
    assert [(lens.line, lens.title, lens.command) for lens in lenses] == [
        (2, "Accept", "tta.accept"),
        (2, "Discard", "tta.discard"),
        (2, "Diff", "tta.diff"),
        (2, "Regenerate", "tta.regenerate"),
    ]
    assert all(lens.arguments == [{"id": change["id"]}] for lens in lenses)
    listed = await ed.execute("tta.listPending", {})
    assert listed == [
        {
            "id": change["id"],
            "uri": uri,
            "range": rng(2, 0, 6, 0),
            "command": "tta.generate",
            "model": "fake-a",
        }
    ]
    seen = review.refreshes
    assert await ed.execute("tta.accept", {"id": change["id"]}) == {
        "status": "accepted",
        "id": change["id"],
    }
    await review.refreshed_after(seen)
    assert ed.text(uri) == expected
    assert await review.lenses(uri) == []
    assert await ed.execute("tta.listPending", {}) == []
    with pytest.raises(Exception, match="no pending change"):
        await ed.execute("tta.discard", {"id": change["id"]})


# Tabs, trailing spaces, a non-BMP character (two UTF-16 units), CRLF and no final newline:
# Discard must give back every byte.
TRICKY = "# héllo 🐍\r\ndef area(r):\r\n\treturn 3.14 * r * r   \r\n\r\nx = area(2)  # 🐍"


async def test_discard_restores_byte_for_byte_after_edits_above_and_below(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    fake.add(code("def area(r: float) -> float:\n    return math.pi * r * r\n"))
    uri = ed.open("t.py", TRICKY)
    answer = await ed.execute(
        "tta.refine",
        {"textDocument": {"uri": uri}, "range": rng(1, 0, 3, 0), "instruction": "types, math.pi"},
    )
    assert answer["status"] == "completed", answer
    assert "math.pi" in ed.text(uri) and "3.14" not in ed.text(uri)
    ident = answer["review"]["id"]
    # The user types above the region (shifting it) and below it (after the last line).
    ed.type_text(uri, 0, 0, "import math\n")
    last = ed.text(uri).count("\n")
    ed.type_text(uri, last, len("x = area(2)  # 🐍".encode("utf-16-le")) // 2, "\nprint(x)")
    lenses = await review.lenses(uri)
    assert {lens.line for lens in lenses} == {2}  # followed the region down one line
    seen = review.refreshes
    result = await ed.execute("tta.discard", {"id": ident})
    assert result == {"status": "discarded", "id": ident}
    assert ed.text(uri) == "import math\n" + TRICKY + "\nprint(x)"
    await review.refreshed_after(seen)
    assert await review.lenses(uri) == []
    assert await ed.execute("tta.listPending", {}) == []


async def test_discard_after_an_edit_inside_is_refused_unless_forced(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    fake.add(code(ADD))
    uri = ed.open("m.py", BEFORE)
    answer = await review.generate(uri, 2, "add")
    ident = answer["review"]["id"]
    ed.type_text(uri, 3, 4, "# mine\n    ")  # inside the generated function
    mine = ed.text(uri)
    refused = await ed.execute("tta.discard", {"id": ident})
    assert refused["status"] == "refused"
    assert "edited inside" in refused["message"] and "lines 3-7" in refused["message"]
    assert refused["actions"] == [
        {
            "title": "Discard anyway",
            "command": "tta.discard",
            "arguments": [{"id": ident, "force": True}],
        }
    ]
    assert ed.text(uri) == mine  # nothing was touched
    assert [p["id"] for p in await ed.execute("tta.listPending", {})] == [ident]
    # Typing it back out makes the region what was generated again: no force needed then;
    # here the user insists instead.
    forced = await ed.execute("tta.discard", {"id": ident, "force": True})
    assert forced == {"status": "discarded", "id": ident}
    assert ed.text(uri) == BEFORE


async def test_diff_is_a_unified_diff_of_the_region(review: Reviewer, fake: FakeProvider) -> None:
    ed = review.editor
    fake.add(code("def area(r):\n    return math.pi * r * r\n"))
    source = "import math\n\n\ndef area(r):\n    return 3.14 * r * r\n\n\nz = 1\n"
    uri = ed.open("shapes.py", source)
    answer = await ed.execute(
        "tta.refine",
        {"textDocument": {"uri": uri}, "range": rng(3, 0, 5, 0), "instruction": "math.pi"},
    )
    ident = answer["review"]["id"]
    diff = await ed.execute("tta.diff", {"id": ident})
    assert diff["diff"] == (
        "--- a/shapes.py\n"
        "+++ b/shapes.py\n"
        "@@ -2,7 +2,7 @@\n"
        " \n"
        " \n"
        " def area(r):\n"
        "-    return 3.14 * r * r\n"
        "+    return math.pi * r * r\n"
        " \n"
        " \n"
        " z = 1\n"
    )
    assert diff["original"] == "def area(r):\n    return 3.14 * r * r\n"
    assert diff["current"] == "def area(r):\n    return math.pi * r * r\n"
    assert diff["original_document"] == source
    assert diff["range"] == rng(3, 0, 5, 0) and diff["uri"] == uri


async def test_regenerate_reruns_the_request_and_replaces_only_the_region(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    fake.add(code(ADD), times=1)
    fake.add(code("def add(a, b):\n    return b + a\n"), times=1)
    fake.add(code("def add(a: int, b: int) -> int:\n    return a + b\n"), times=1)
    uri = ed.open("m.py", BEFORE)
    first = await review.generate(uri, 2, "add two numbers", model="fake-a")
    ident = first["review"]["id"]
    again = await ed.execute("tta.regenerate", {"id": ident})
    assert again["status"] == "completed", again
    assert again["review"]["id"] == ident
    # Same prompt and model choice as the first time.
    assert fake.requests[1].body["messages"] == fake.requests[0].body["messages"]
    assert fake.requests[1].body["model"] == "fake-a"
    assert ed.text(uri) == "import os\n\n\ndef add(a, b):\n    return b + a\n\n\nprint(os.sep)\n"
    # The user edits above and below; a regeneration touches only the pending region.
    ed.type_text(uri, 0, 0, "# top\n")
    ed.type_text(uri, 8, 13, "  # bottom")
    seen = review.refreshes
    third = await ed.execute("tta.regenerate", {"id": ident})
    assert third["status"] == "completed", third
    await review.refreshed_after(seen)
    assert {(lens.line, lens.title) for lens in await review.lenses(uri)} >= {(3, "Regenerate")}
    assert ed.text(uri) == (
        "# top\nimport os\n\n\ndef add(a: int, b: int) -> int:\n    return a + b\n\n\n"
        "print(os.sep)  # bottom\n"
    )
    assert third["review"]["range"] == rng(3, 0, 7, 0)
    # Still one pending change, and Discard still restores the text before the first run.
    assert [p["id"] for p in await ed.execute("tta.listPending", {})] == [ident]
    assert (await ed.execute("tta.discard", {"id": ident}))["status"] == "discarded"
    assert ed.text(uri) == "# top\n" + BEFORE.replace(
        "print(os.sep)\n", "print(os.sep)  # bottom\n"
    )


async def test_overlapping_generation_is_refused_and_separate_ones_coexist(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    fake.add(code(ADD), times=2)
    uri = ed.open("m.py", "a = 1\n\n\nb = 2\n")
    first = await review.generate(uri, 2, "add")
    # Inside the pending region (its second line): refused, and nothing changes.
    text = ed.text(uri)
    refused = await review.generate(uri, 3, "more")
    assert refused["status"] == "failed"
    assert "pending change" in refused["error"] and "Accept or Discard" in refused["error"]
    refine = await ed.execute(
        "tta.refine",
        {"textDocument": {"uri": uri}, "range": rng(1, 0, 4, 0), "instruction": "x"},
    )
    assert refine["status"] == "failed" and "pending change" in refine["error"]
    assert ed.text(uri) == text and len(fake.requests) == 1
    # Below it: a second pending change in the same document, with its own lenses.
    second = await review.generate(uri, 6, "again")
    assert second["status"] == "completed", second
    pending = await ed.execute("tta.listPending", {})
    assert {p["id"] for p in pending} == {first["review"]["id"], second["review"]["id"]}
    lines = sorted({lens.line for lens in await review.lenses(uri)})
    assert lines == [2, 6]
    # A streaming generation's region is refused too.
    fake.add(
        Reply.text("```python\n" + "y = 1\n" * 100 + "```\n", size=6, delay=0.02), match="slow"
    )
    msg_id, slow = ed.start(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 0},
            "description": "slow",
        },
    )
    await ed.wait_for(lambda: ed.text(uri).startswith("y = 1\n"))
    busy = await review.generate(uri, 0, "other")
    assert busy["status"] == "failed" and "streaming" in busy["error"]
    ed.cancel(msg_id)
    try:
        assert (await asyncio.wait_for(slow, 10))["status"] == "cancelled"
    except Exception as exc:  # RequestCancelled (-32800) is the other allowed answer
        assert "cancel" in str(exc).lower(), exc
    await ed.wait_for(lambda: not ed.text(uri).startswith("y = 1"))
    assert len(await ed.execute("tta.listPending", {})) == 2


async def test_error_and_cancel_leave_nothing_behind(review: Reviewer, fake: FakeProvider) -> None:
    ed = review.editor
    # The provider drops the stream after some code has reached the document.
    fake.add(
        Reply.text("```python\n" + "w = 3\n" * 20, size=5, delay=0.005, drop_after=10),
        match="broken",
    )
    uri = ed.open("m.py", BEFORE)
    failed = await review.generate(uri, 2, "broken")
    assert failed["status"] == "failed" and "review" not in failed, failed
    assert ed.applied_edits()
    assert ed.text(uri) == BEFORE
    assert await ed.execute("tta.listPending", {}) == []
    assert await review.lenses(uri) == []
    # Cancelled mid-stream (through the lens's command): restored, nothing pending.
    fake.add(Reply.text("```python\n" + "y = 1\n" * 200 + "```\n", size=6, delay=0.02), times=1)
    edits = len(ed.applied_edits())
    _, answer = ed.start(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}, "description": "x"},
    )
    await ed.wait_for(lambda: len(ed.applied_edits()) >= edits + 2)
    cancel = [lens for lens in await review.lenses(uri) if lens.title == "Cancel"]
    assert len(cancel) == 1
    assert (await ed.execute("tta.cancel", cancel[0].arguments[0]))["status"] == "cancelling"
    assert (await asyncio.wait_for(answer, 10))["status"] == "cancelled"
    assert ed.text(uri) == BEFORE
    assert await ed.execute("tta.listPending", {}) == []
    assert await review.lenses(uri) == []
    # The same region works straight away.
    fake.add(code(ADD))
    ok = await review.generate(uri, 2, "add")
    assert ok["status"] == "completed" and ok["review"]["id"], ok
    assert ed.text(uri) == "import os\n\n\n" + ADD + "\n\nprint(os.sep)\n"


async def test_streaming_lens_shows_from_the_first_moment_and_cancels(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    fake.add(Reply.text("```python\nz = 3\n```\n", first_delay=30), times=1)
    uri = ed.open("s.py", BEFORE)
    seen = review.refreshes
    _, answer = ed.start(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}, "description": "z"},
    )
    await review.refreshed_after(seen)
    await ed.wait_for(lambda: len(fake.requests) == 1)
    lenses = await review.lenses(uri)
    assert [(lens.line, lens.title, lens.command) for lens in lenses] == [
        (2, "Generating… (fake-a, 0 tokens)", ""),
        (2, "Cancel", "tta.cancel"),
    ]
    assert not ed.applied_edits()  # no token has arrived yet
    seen = review.refreshes
    await ed.execute("tta.cancel", lenses[1].arguments[0])
    assert (await asyncio.wait_for(answer, 10))["status"] == "cancelled"
    await review.refreshed_after(seen)
    assert await review.lenses(uri) == []
    assert ed.text(uri) == BEFORE
    with pytest.raises(Exception, match="no running generation"):
        await ed.execute("tta.cancel", lenses[1].arguments[0])


async def test_closing_the_document_accepts(review: Reviewer, fake: FakeProvider) -> None:
    ed = review.editor
    fake.add(code(ADD))
    uri = ed.open("m.py", BEFORE)
    answer = await review.generate(uri, 2, "add")
    assert answer["review"]
    ed.close(uri)
    for _ in range(50):
        if await ed.execute("tta.listPending", {}) == []:
            break
        await asyncio.sleep(0.05)
    assert await ed.execute("tta.listPending", {}) == []


async def test_auto_mode_keeps_at_once(make_editor: StartEditor, fake: FakeProvider) -> None:
    ed = await make_editor(
        provider_settings(fake.base_url, review={"mode": "auto"}, gates={"enabled": []})
    )
    fake.add(code(ADD))
    uri = ed.open("m.py", BEFORE)
    answer = await ed.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}, "description": "a"},
    )
    assert answer["status"] == "completed" and "review" not in answer
    assert await ed.execute("tta.listPending", {}) == []


async def test_generated_tests_are_pending_and_discard_removes_them(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    tests = "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    fake.add(code(tests))
    existing = "import calc\n"
    ed.open("tests/test_calc.py", existing)  # open: tracked through didChange
    uri = ed.open("calc.py", "def add(a, b):\n    return a + b\n")
    answer = await ed.execute("tta.generateTests", {"textDocument": {"uri": uri}})
    assert answer["status"] == "completed", answer
    test_uri = ed.uri("tests/test_calc.py")
    assert ed.text(test_uri) == existing + "\n" + tests
    ident = answer["review"]["id"]
    assert answer["review"]["range"] == rng(1, 0, 7, 0)
    pending = await ed.execute("tta.listPending", {})
    assert pending[0]["command"] == "tta.generateTests" and pending[0]["uri"] == test_uri
    assert {lens.title for lens in await review.lenses(test_uri)} >= {"Accept", "Discard"}
    ed.type_text(test_uri, 0, 0, "# top\n")
    assert (await ed.execute("tta.discard", {"id": ident}))["status"] == "discarded"
    assert ed.text(test_uri) == "# top\n" + existing


async def test_tests_written_to_a_closed_file_are_pending_until_discarded(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    tests = "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    fake.add(code(tests))
    uri = ed.open("calc.py", "def add(a, b):\n    return a + b\n")
    answer = await ed.execute("tta.generateTests", {"textDocument": {"uri": uri}})
    assert answer["status"] == "completed" and answer["created"] is True, answer
    test_file = ed.root / "tests" / "test_calc.py"
    assert test_file.read_text() == tests
    ident = answer["review"]["id"]
    diff = await ed.execute("tta.diff", {"id": ident})
    assert diff["diff"].startswith(
        "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -0,0 +1,5 @@\n"
    )
    assert (await ed.execute("tta.discard", {"id": ident}))["status"] == "discarded"
    # The file did not exist: the client is asked to delete it; this test client refuses
    # deletes, so the server empties it instead.
    assert not test_file.exists() or test_file.read_text() == ""
    assert await ed.execute("tta.listPending", {}) == []


async def test_cancelled_regeneration_keeps_the_pending_change(
    review: Reviewer, fake: FakeProvider
) -> None:
    ed = review.editor
    fake.add(code(ADD), times=1)
    fake.add(Reply.text("```python\n" + "q = 1\n" * 300 + "```\n", size=6, delay=0.02), times=1)
    uri = ed.open("m.py", BEFORE)
    ident = (await review.generate(uri, 2, "add"))["review"]["id"]
    pending_text = ed.text(uri)
    edits = len(ed.applied_edits())
    _, answer = ed.start("tta.regenerate", {"id": ident})
    await ed.wait_for(lambda: len(ed.applied_edits()) >= edits + 2)
    # Busy while it regenerates: the other review commands refuse, the lens is "Generating…".
    assert (await ed.execute("tta.accept", {"id": ident}))["status"] == "refused"
    assert [lens.title for lens in await review.lenses(uri)][1] == "Cancel"
    await ed.execute("tta.cancel", {"id": ident})
    assert (await asyncio.wait_for(answer, 10))["status"] == "cancelled"
    assert ed.text(uri) == pending_text
    assert [p["id"] for p in await ed.execute("tta.listPending", {})] == [ident]
    assert [lens.title for lens in await review.lenses(uri)] == [
        "Accept",
        "Discard",
        "Diff",
        "Regenerate",
    ]
    assert (await ed.execute("tta.discard", {"id": ident}))["status"] == "discarded"
    assert ed.text(uri) == BEFORE
