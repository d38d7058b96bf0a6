"""Inline completion in a real headless Neovim (0.11: the plugin's own extmark client)."""

from __future__ import annotations

from tests.fakes.provider import FakeProvider, Reply
from tests.nvim.conftest import Nvim

from tta_codegen.models.ledger import CostLedger

BODY = "\n    return a + b"
SOURCE = "def add\n\nprint(add(1, 2))\n"


async def test_ghost_text_appears_accept_inserts_it_and_stale_requests_are_cancelled(
    nvim: Nvim, fake: FakeProvider
) -> None:
    fake.default = Reply.text(BODY + "\n\n\ndef other():\n    pass\n")
    path = nvim.workspace / "c.py"
    path.write_text(SOURCE, encoding="utf-8")
    settings = nvim.settings()
    settings["models"][0]["fim"] = True
    # The server waits long enough that every key but the last is still waiting when the
    # next key cancels it: none of them may reach the model.
    settings["completion"] = {"debounce_ms": 400}
    run = await nvim.run(
        "completion",
        settings=settings,
        file=path,
        line=1,
        typed="(a, b):",
        client_debounce_ms=0,
        key_interval_ms=40,
    )
    r = run.result
    assert r["ghost"] == ["", "    return a + b"], run.why()
    [mark] = r["extmarks"]
    assert mark["row"] == 0 and mark["text"] == ["", "    return a + b"], run.why()
    assert r["mode_after_accept"] == "i", run.why()
    assert r["lines_after_accept"][:2] == ["def add(a, b):", "    return a + b"], run.why()
    assert r["extmarks_after_leave"] == [], run.why()
    assert (
        path.read_text(encoding="utf-8") == "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n"
    )
    # Stale requests were cancelled: the client says so, and the model saw only the last.
    assert r["counters"]["cancelled"] >= 3, run.why()
    prompts = [q.body.get("prompt", "") for q in fake.requests if q.path.endswith("/completions")]
    partial = [q for q in prompts if q.endswith(("def add(", "def add(a", "def add(a,"))]
    assert not partial, prompts
    assert any(q.endswith("def add(a, b):") for q in prompts), prompts
    [row] = r["completion_stats"]
    assert row["accepted"] == 1 and row["chars_accepted"] == len(BODY), run.why()
    # The accepted suggestion is an outcome (docs/metrics.md): kind inline, accepted.
    assert r["outcomes"]["inline_accepted"] == 1, run.why()
    book = CostLedger(nvim.home / ".local" / "share" / "tta-codegen" / "ledger.sqlite3")
    accepted = [o for o in book.outcomes_sync() if o.outcome == "accepted"]
    assert [(o.kind, o.model, o.lines) for o in accepted] == [("inline", "fake-a", 2)], run.why()
