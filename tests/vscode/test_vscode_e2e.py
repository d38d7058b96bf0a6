"""The VS Code extension end to end, in a real VS Code (code-server) driven by Chromium.

The packaged ``.vsix`` is installed into code-server; its language server is this
checkout's ``tta-codegen`` and its model is the fake provider on loopback (start-up:
``harness.py``). ``e2e.mjs`` uses the UI as a person would (palette, input boxes, the
notification's Cancel button, code lenses, typing, Ctrl+S) and this test checks what
reached the disk, the logs and the ledger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vscode.harness import fake_provider, provider_settings, wait_until, workbench
from tta_codegen.outcomes.retention import retained_ratio

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("e2e.mjs")
KEY = "sk-e2e-0123456789abcdefSECRET"
ADD = "def add(a, b):\n    return a + b\n"
GEN_ORIGINAL = "import math\n\n\n"  # PEP 8's two blank lines already there: nothing added
REFINED = "def add(a: int, b: int) -> int:\n    return a + b\n"
CANCEL_ORIGINAL = "def keep():\n    return 1\n"  # not a stub: generating inserts, not implements
REVIEW_ORIGINAL = "x = 1\n"
REVIEW_BEFORE = "x = 1\ny = 2\n"  # after the user typed a line, before any generation
HELPERS = [
    "def one():\n",
    "    return 1\n",
    "\n",
    "\n",
    "def two():\n",
    "    return 2\n",
    "\n",
    "\n",
    "def three():\n",
    "    return 3\n",
]

# Accepted, then its second half typed over in the editor (lines "if not count:" to the
# end): about half of its characters are kept.
MEAN = (
    "def mean(values):\n"
    "    total = sum(values)\n"
    "    count = len(values)\n"
    "    if not count:\n"
    "        return 0.0\n"
    "    return total / count\n"
)
MEAN_FROM, MEAN_LINES, MEAN_WITH = "if not count:", 3, "raise NotImplementedError"
MEAN_EDITED = MEAN[: MEAN.index("if not count:")] + MEAN_WITH + "\n"
IDLE_S = 10

RULES = [
    {
        "match": "a mean function",
        "reply": {
            "chunks": ["```python\n", *MEAN.splitlines(keepends=True), "```\n"],
            "delay": 0.05,
        },
    },
    {
        "match": "please add type hints",
        "reply": {
            "chunks": [
                "```python\n",
                "def add(a: int, b: int) -> int:\n",
                "    return a + b\n",
                "```\n",
            ],
            "delay": 0.05,
        },
    },
    {
        "match": "a function add(a, b)",
        "reply": {
            "chunks": [
                "Here you go:\n```python\n",
                "def add(a, b):\n",
                "    return a + b\n",
                "```\nDone.\n",
            ],
            "delay": 0.05,
        },
    },
    {
        # One line per chunk, slow enough that each line is its own streamed edit.
        "match": "three small helpers",
        "reply": {"chunks": ["```python\n", *HELPERS, "```\n"], "delay": 0.1},
    },
    {
        # Cancelled mid-stream: it never ends by itself (60 s of lines, then it stays open),
        # so however slow the browser is, the Cancel lands while it streams.
        "match": "slow: a long block",
        "reply": {"chunks": ["```python\n"] + ["y = 1\n"] * 300, "delay": 0.2, "hang": True},
    },
]


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    with fake_provider(tmp_path, RULES) as found:
        yield found


def test_generate_and_cancel_in_vscode(tmp_path: Path, provider: tuple[int, Path]) -> None:
    port, provider_log = provider
    files = {
        "gen.py": GEN_ORIGINAL,
        "cancel.py": CANCEL_ORIGINAL,
        "review.py": REVIEW_ORIGINAL,
        "mean.py": GEN_ORIGINAL,
        # Retention is measured after the accepted region was left alone this long (the
        # default is 10 minutes); long enough that typing never pauses that much.
        "tta-codegen.toml": f"[outcomes]\nretention_idle_s = {IDLE_S}\n",
    }
    # FAKE_API_KEY stays out of code-server's environment: it is stored through the UI.
    settings = provider_settings(port, key_env="FAKE_API_KEY")
    with workbench(tmp_path, files, settings, drop_env=("FAKE_API_KEY",)) as wb:
        ws, user_data = wb.ws, wb.user_data
        run = wb.drive(
            SCRIPT,
            KEY=KEY,
            REVIEW_BEFORE=REVIEW_BEFORE,
            MEAN_FROM=MEAN_FROM,
            MEAN_LINES=str(MEAN_LINES),
            MEAN_WITH=MEAN_WITH,
        )
        report, logs, context = run.report, run.logs, run.context
        assert "failure" not in report, context
        assert report["errors"] == [], context

        # The status bar named the default model (from tta.listModels).
        assert "fake-a" in report["statusBar"], context
        palette = " ".join(report["paletteRows"])
        for title in (
            "Generate Code…",
            "Generate Tests",
            "Pick Prompt Template…",
            "Set API Key…",
            "Accept Change",
            "Discard Change",
            "Show Change Diff",
            "Regenerate Change",
        ):
            assert f"TTA Codegen: {title}" in palette, context
        # With a selection, the editor's context menu offers the selection commands.
        assert {"Refine Selection…", "Generate Tests"} <= set(report["contextMenu"]), context

        # Generate: exactly the code (fences and prose stripped) at the cursor, saved.
        assert report["generateDisk"] == GEN_ORIGINAL + ADD, context
        assert "fake-a" in report["generateStatus"], context
        if "Accept" in report["generateStatus"]:  # review mode: the change had its lenses
            assert "Discard" in report["lenses"], context

        # Refine (from the editor's context menu): the selected function rewritten in place.
        assert report["refineDisk"] == GEN_ORIGINAL + REFINED, context
        assert (ws / "gen.py").read_text(encoding="utf-8") == GEN_ORIGINAL + REFINED, context

        # The key set through "Set API Key…" reached the server (the provider names
        # FAKE_API_KEY, absent from code-server's environment, and refuses to run
        # without it), and it never reached a log or the settings.
        requests = [json.loads(line) for line in provider_log.read_text().splitlines()]
        sent = [r for r in requests if "a function add(a, b)" in json.dumps(r["body"])]
        assert sent and sent[0]["body"]["model"] == "fake-a", requests
        assert KEY not in logs
        assert KEY not in (user_data / "User" / "settings.json").read_text()
        assert "stored a key for FAKE_API_KEY" in logs, logs[-4000:]

        # Cancel: the partial text was on disk mid-stream; after Cancel and a save the
        # file is exactly what it was.
        assert "y = 1" in report["midDisk"], context
        assert "cancelled" in report["cancelNotice"], context
        assert report["cancelDisk"] == CANCEL_ORIGINAL, context
        assert (ws / "cancel.py").read_text(encoding="utf-8") == CANCEL_ORIGINAL, context
        # The progress notification showed the server's work-done progress.
        assert "fake-a" in report["progressText"], context

        # Review. The pending change had its four lenses.
        assert report["reviewTyped"], context
        for title in ("Accept", "Discard", "Diff", "Regenerate"):
            assert title in report["reviewLenses"], context
        # Diff opened a diff editor titled for the file.
        assert "review.py (original ↔ generated)" in report["diffTab"], context
        # Discard: the file on disk is byte for byte what it was before the generation.
        assert report["discardDisk"] == REVIEW_BEFORE, context
        # One Ctrl+Z after a generation streamed in several edits restores the text before
        # it: not one line less (the stop before) and not one line more (no stops between).
        assert "def three():" in report["regeneratedDom"], context
        # PEP 8: the helpers start two blank lines below the user's code.
        assert report["generatedDisk"] == REVIEW_BEFORE + "\n\n" + "".join(HELPERS), context
        assert report["undoDisk"] == REVIEW_BEFORE, context
        grouped = [
            int(n)
            for n in re.findall(
                r"tta\.generate: (\d+) streamed edit\(s\) applied as one undo step", logs
            )
        ]
        assert grouped and max(grouped) >= 3, logs[-4000:]
        # After the undo the region no longer holds the generated text: Discard Change
        # (palette, the change found at the cursor via tta.listPending) is refused with
        # the server's message, and its "Discard anyway" button goes ahead.
        assert "You edited inside the generated code" in report["refusedText"], context
        assert report["forcedDisk"] == REVIEW_BEFORE, context
        assert (ws / "review.py").read_text(encoding="utf-8") == REVIEW_BEFORE, context

        # Outcomes (docs/metrics.md): what the clicks above decided is in the ledger —
        # the Discard lens and "Discard anyway" discarded, Cancel cancelled, the
        # Regenerate lens regenerated, the Accept lens and the first generation kept.
        # Written in the background: wait for them (hang guard).
        ledger = wb.ledger()

        def decided_all() -> list[str]:
            decided = [o.outcome for o in ledger.outcomes_sync()]
            done = decided.count("discarded") >= 2 and {"cancelled", "regenerated"} <= set(decided)
            return decided if done else []

        wait_until(decided_all)
        decided = [o.outcome for o in ledger.outcomes_sync()]
        assert decided.count("discarded") >= 2, (decided, context)
        assert {"cancelled", "regenerated", "accepted"} <= set(decided), (decided, context)
        assert {o.source for o in ledger.outcomes_sync()} == {"lsp"}

        # Retention: the user typed over half of the accepted mean() and saved. The ratio
        # at the save and once the region was left alone ([outcomes] retention_idle_s).
        assert report["meanDisk"].startswith(GEN_ORIGINAL), context
        region = report["meanDisk"][len(GEN_ORIGINAL) :]
        assert region == MEAN_EDITED, context
        expected = retained_ratio(MEAN, region)
        assert expected == pytest.approx(0.5, abs=0.1)
        # The last accepted generation is mean()'s.
        mean = max(
            (o for o in ledger.outcomes_sync() if o.outcome == "accepted"), key=lambda o: o.ts
        )

        def mean_ratios() -> dict[str, float]:
            ratios = {
                r.stage: r.ratio for r in ledger.retention_sync() if r.outcome_uid == mean.uid
            }
            return ratios if len(ratios) == 2 else {}

        ratios = wait_until(mean_ratios) or mean_ratios()
        assert set(ratios) == {"save", "idle"}, (ledger.retention_sync(), context)
        assert ratios["save"] == pytest.approx(expected, abs=0.01), (ratios, context)
        assert ratios["idle"] == ratios["save"], (ratios, context)
