"""Outcomes end to end: the real server over stdio, the fake provider on loopback, the
real ledger file. Accept, discard, regenerate and cancel write the expected outcome
rows; editing half of an accepted function is measured as about 50% retained."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S, until
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings
from tta_codegen.models.ledger import CostLedger
from tta_codegen.outcomes.retention import retained_ratio

BEFORE = "import os\n\n\nprint(os.sep)\n"
FUNC = (
    "def mean(values):\n"
    "    total = 0\n"
    "    for v in values:\n"
    "        total += v\n"
    "    return total / len(values)\n"
)


def code(text: str) -> Reply:
    return Reply.text(f"```python\n{text}```\n", size=7, delay=0.002)


@pytest.fixture
async def ed(make_editor: StartEditor, fake: FakeProvider) -> Editor:
    return await make_editor(
        provider_settings(
            fake.base_url,
            review={"mode": "lens"},
            gates={"enabled": ["syntax"]},
            outcomes={"retention_idle_s": 0.5},
        )
    )


def ledger(ed: Editor) -> CostLedger:
    # The harness points XDG_DATA_HOME at the test's temporary home.
    return CostLedger(ed.root.parent / ".local" / "share" / "tta-codegen" / "ledger.sqlite3")


async def generate(ed: Editor, uri: str, line: int) -> dict[str, object]:
    answer = await ed.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": 0},
            "description": "mean of a list",
        },
    )
    assert answer["status"] == "completed", answer
    return answer  # type: ignore[no-any-return]


async def wait_rows(ed: Editor, what: str, count: int) -> list[object]:
    """The ``what`` rows (outcomes or retention) once there are ``count`` of them."""
    book = ledger(ed)

    def rows() -> list[object]:
        return list(book.outcomes_sync() if what == "outcomes" else book.retention_sync())

    await until(lambda: len(rows()) >= count, f"{count} {what} row(s)", interval=0.05)
    return rows()


async def test_accept_then_edit_half_is_about_half_retained(ed: Editor, fake: FakeProvider) -> None:
    fake.add(code(FUNC))
    uri = ed.open("m.py", BEFORE)
    answer = await generate(ed, uri, 2)
    change = answer["review"]
    assert isinstance(change, dict)
    assert (await ed.execute("tta.accept", {"id": change["id"]}))["status"] == "accepted"
    (row,) = await wait_rows(ed, "outcomes", 1)
    assert row.outcome == "accepted" and row.kind == "generate" and row.source == "lsp"  # type: ignore[attr-defined]
    assert row.model == "fake-a" and row.lines == 7 and row.gates_final is True  # type: ignore[attr-defined]
    assert row.gates_first is True and row.decision_s >= 0  # type: ignore[attr-defined]
    # Rewrite the second half of the function (its last two lines, lines 5-6 of the
    # document) with other code, then type elsewhere in the file.
    start = FUNC.index("        total += v")
    kept = FUNC[:start]
    # Where those lines are now (the insertion is framed with PEP 8 blank lines).
    line = ed.text(uri).splitlines().index("        total += v")
    ed.replace(
        uri,
        types.Range(types.Position(line, 0), types.Position(line + 2, 0)),
        "        raise NotImplementedError('todo')\n",
    )
    ed.type_text(uri, 0, 0, "# top comment\n")
    ed.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    ratios = await wait_rows(ed, "retention", 2)
    by_stage = {r.stage: r.ratio for r in ratios}  # type: ignore[attr-defined]
    assert set(by_stage) == {"save", "idle"}
    # The accepted region is the function and its PEP 8 framing (blank lines, all kept).
    region = answer["text"]
    expected = (len(region) - len(FUNC) + len(kept)) / len(region)
    assert 0.4 < expected < 0.7
    assert by_stage["idle"] == pytest.approx(expected, abs=0.1)
    assert by_stage["save"] == by_stage["idle"]
    stats = await ed.execute("tta.stats", {})
    out = stats["outcomes"]
    assert out["accepted"] == 1 and out["acceptance_rate"] == 1.0
    assert out["retention_p50"] == pytest.approx(expected, abs=0.1)
    assert out["minimal_editing_share"] == 0.0
    assert out["gates_pass_rate_first"] == 1.0


async def test_untouched_accepted_code_is_fully_retained(ed: Editor, fake: FakeProvider) -> None:
    fake.add(code(FUNC))
    uri = ed.open("m.py", BEFORE)
    change = (await generate(ed, uri, 2))["review"]
    await ed.execute("tta.accept", {"id": change["id"]})  # type: ignore[index]
    ed.type_text(uri, 0, 0, "# a change outside the region\n")
    (ratio,) = await wait_rows(ed, "retention", 1)
    assert ratio.stage == "idle" and ratio.ratio == 1.0  # type: ignore[attr-defined]
    stats = await ed.execute("tta.stats", {})
    assert stats["outcomes"]["minimal_editing_share"] == 1.0


async def test_discard_regenerate_and_cancel_are_recorded(ed: Editor, fake: FakeProvider) -> None:
    uri = ed.open("m.py", BEFORE)
    fake.add(code(FUNC), times=1)
    first = (await generate(ed, uri, 2))["review"]
    assert (await ed.execute("tta.discard", {"id": first["id"]}))["status"] == "discarded"  # type: ignore[index]
    fake.add(code(FUNC), times=1)
    fake.add(code(FUNC.replace("mean", "average")), times=1)
    second = (await generate(ed, uri, 2))["review"]
    regen = await ed.execute("tta.regenerate", {"id": second["id"]})  # type: ignore[index]
    assert regen["status"] == "completed", regen
    await ed.execute("tta.accept", {"id": second["id"]})  # type: ignore[index]
    fake.add(Reply.text("```python\n" + "x = 1\n" * 400 + "```\n", size=3, delay=0.05))
    edits = len(ed.applied_edits())
    msg_id, fut = ed.start(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 0},
            "description": "slow",
        },
    )
    await ed.wait_for(lambda: len(ed.applied_edits()) > edits)  # mid-stream (~25 s long)
    ed.cancel(msg_id)
    try:
        assert (await fut)["status"] == "cancelled"
    except Exception as exc:  # RequestCancelled (-32800) is the other allowed answer
        assert "cancel" in str(exc).lower(), exc
    rows = await wait_rows(ed, "outcomes", 4)
    assert sorted(r.outcome for r in rows) == [  # type: ignore[attr-defined]
        "accepted",
        "cancelled",
        "discarded",
        "regenerated",
    ]
    stats = await ed.execute("tta.stats", {})
    # Decisions on code: accepted, discarded, regenerated; a cancel is not one.
    assert stats["outcomes"]["acceptance_rate"] == pytest.approx(1 / 3, abs=1e-3)


async def test_outcomes_can_be_switched_off(make_editor: StartEditor, fake: FakeProvider) -> None:
    ed = await make_editor(
        provider_settings(fake.base_url, review={"mode": "auto"}, outcomes={"enabled": False})
    )
    fake.add(code(FUNC), times=1)
    uri = ed.open("m.py", BEFORE)
    await generate(ed, uri, 2)
    await ed.execute("tta.stats", {})
    assert ledger(ed).outcomes_sync() == []
    assert Path(ledger(ed).path).exists()  # the request itself is still in the ledger


async def test_generated_tests_accepted_have_kind_tests_and_their_template(
    ed: Editor, fake: FakeProvider
) -> None:
    tests = "from calc import add\n\n\ndef test_add() -> None:\n    assert add(2, 3) == 5\n"
    fake.add(code(tests), times=1)
    ed.open("tests/test_calc.py", "import calc\n")
    uri = ed.open("calc.py", "def add(a, b):\n    return a + b\n")
    answer = await ed.execute("tta.generateTests", {"textDocument": {"uri": uri}})
    assert answer["status"] == "completed", answer
    await ed.execute("tta.accept", {"id": answer["review"]["id"]})
    (row,) = await wait_rows(ed, "outcomes", 1)
    assert (row.kind, row.outcome, row.template) == ("tests", "accepted", "unit-tests")  # type: ignore[attr-defined]
    assert row.category is not None  # type: ignore[attr-defined]


MUL = "\n    product = a * b\n    return product"


async def _inline(ed: Editor, uri: str, line: int, character: int) -> types.InlineCompletionItem:
    answer = await asyncio.wait_for(
        ed.client.protocol.send_request_async(
            types.TEXT_DOCUMENT_INLINE_COMPLETION,
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=character),
                context=types.InlineCompletionContext(
                    trigger_kind=types.InlineCompletionTriggerKind.Automatic
                ),
            ),
        ),
        HANG_GUARD_S,  # hang guard: an answer takes milliseconds
    )
    (item,) = answer.items
    return item  # type: ignore[no-any-return]


async def test_inline_suggestions_are_offered_then_accepted_or_dismissed(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    settings = provider_settings(fake.base_url, outcomes={"retention_idle_s": 0.5})
    settings["models"] = [{"id": "fake-a", "provider": "fake", "fim": True}]
    settings["completion"] = {"debounce_ms": 0}
    ed = await make_editor(settings)
    # The fake matches the code before the cursor, where later functions follow earlier ones.
    fake.add(Reply.text("\n    return a - b\n"), match="def sub(a, b):")
    fake.add(Reply.text("\n    product = a * b\n    return product\n"), match="def mul(a, b):")
    fake.add(Reply.text("\n    return a + b\n"), match="def add(a, b):")
    uri = ed.open("m.py", "def add(a, b):\n")
    first = await _inline(ed, uri, 0, len("def add(a, b):"))
    # The same suggestion again (typing what it predicted) is one offer, not two.
    ed.type_text(uri, 0, len("def add(a, b):"), "\n")
    again = await _inline(ed, uri, 1, 0)
    assert again.command.arguments[0]["id"] == first.command.arguments[0]["id"]  # type: ignore[union-attr]
    assert ledger(ed).outcomes_sync() == []  # nothing decided yet
    # Another suggestion in the same document: the first was not taken.
    ed.type_text(uri, 1, 0, "\ndef mul(a, b):")
    second = await _inline(ed, uri, 2, len("def mul(a, b):"))
    assert second.insert_text == MUL
    (row,) = await wait_rows(ed, "outcomes", 1)
    assert (row.kind, row.outcome, row.model, row.source) == (
        "inline",
        "dismissed",
        "fake-a",
        "lsp",
    )  # type: ignore[attr-defined]
    # The editor inserts the second and runs its command: accepted, and watched.
    ed.type_text(uri, 2, len("def mul(a, b):"), second.insert_text)
    assert second.command is not None and second.command.command == "tta.completionAccepted"
    await ed.execute("tta.completionAccepted", second.command.arguments[0])  # type: ignore[index]
    rows = await wait_rows(ed, "outcomes", 2)
    accepted = next(r for r in rows if r.outcome == "accepted")  # type: ignore[attr-defined]
    assert accepted.kind == "inline" and accepted.lines == 3  # type: ignore[attr-defined]
    # Its last line rewritten: its retention is measured when the region is left alone,
    # like generated code's, over the region the server followed through the edit.
    line = ed.text(uri).splitlines().index("    return product")
    ed.replace(
        uri, types.Range(types.Position(line, 4), types.Position(line, 18)), "raise ValueError"
    )
    (ratio,) = await wait_rows(ed, "retention", 1)
    assert ratio.outcome_uid == accepted.uid and ratio.stage == "idle"  # type: ignore[attr-defined]
    expected = retained_ratio(MUL, MUL.replace("return product", "raise ValueError"))
    assert 0.4 < expected < 0.7
    assert ratio.ratio == pytest.approx(expected, abs=1e-3)  # type: ignore[attr-defined]
    # A third offered, then the document closed: dismissed.
    ed.type_text(uri, 0, 0, "def sub(a, b):\n")
    await _inline(ed, uri, 0, len("def sub(a, b):"))
    ed.close(uri)
    rows = await wait_rows(ed, "outcomes", 3)
    assert sorted(r.outcome for r in rows) == ["accepted", "dismissed", "dismissed"]  # type: ignore[attr-defined]
    # Inline offers have their own numbers and leave the plan's (generations) alone.
    out = (await ed.execute("tta.stats", {}))["outcomes"]
    assert out["generations"] == 0 and out["acceptance_rate"] is None
    assert out["inline_suggestions"] == 3 and out["inline_accepted"] == 1
    assert out["inline_acceptance_rate"] == pytest.approx(1 / 3, abs=1e-3)
