"""Inline completion end to end in a real VS Code (code-server) driven by Chromium.

Same start-up as ``test_vscode_e2e.py`` (``harness.py``): the packaged extension, this
checkout's server, the fake provider answering the FIM endpoint. The driver
(``completion_e2e.mjs``) types as a person would; this test checks the disk, the fake's
request log (the cache answered while the user typed over a suggestion), the completion
statistics and the outcome row the acceptance produced.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guards import HANG_GUARD_S
from tests.vscode.harness import SERVER, fake_provider, provider_settings, wait_until, workbench

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("completion_e2e.mjs")
ORIGINAL = "import math\n\n"
RULES = [
    # Most specific first: the fake matches a substring of the FIM prompt (code before the cursor).
    {"match": "    return ", "reply": {"chunks": ["a + b\n"]}},
    {"match": "def add(a, b):", "reply": {"chunks": ["\n    return a + b\n"]}},
    {"reply": {"chunks": []}},  # anything else: no suggestion
]


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    with fake_provider(tmp_path, RULES) as found:
        yield found


def test_inline_completion_in_vscode(tmp_path: Path, provider: tuple[int, Path]) -> None:
    port, provider_log = provider
    settings = {
        **provider_settings(port, fim=True),
        "editor.inlineSuggest.enabled": True,
        "ttaCodegen.review": {"mode": "auto"},
    }
    with workbench(tmp_path, {"add.py": ORIGINAL}, settings) as wb:
        run = wb.drive(SCRIPT)
        report, context = run.report, run.context
        assert "failure" not in report, context
        assert any("TTA" in s for s in report["statusItems"]), context
        # Typing the signature showed the body as ghost text; Esc dismissed it.
        # (Ghost text is drawn token by token: compare without whitespace.)
        assert "returna+b" in "".join(report["signatureGhost"].split()), context
        assert report["ghostAfterEscape"] == 0, context
        # Typing what the signature's suggestion predicted (Enter, "return ", "a") kept
        # the rest on screen with no model call: the server answered from its cache.
        assert "".join(report["returnGhost"].split()) == "a+b", context
        assert "".join(report["ghostAfterTyping"].split()) == "+b", context
        requests = [json.loads(line) for line in provider_log.read_text().splitlines()]
        prompts = [r["body"].get("prompt", "") for r in requests if r["path"] == "/v1/completions"]
        # (On a loaded machine a slow keystroke is a pause and may earn its own call.)
        assert any(p.endswith("def add(a, b):") for p in prompts), prompts
        typed_over = ("    ", "return", "return ", "return a")
        assert not any(p.endswith(typed_over) for p in prompts), prompts
        # Tab accepted it.
        assert report["disk"].startswith(ORIGINAL + "def add(a, b):\n    return a + b"), context

        # The acceptance reached the server's statistics (counted in the background: wait
        # for it, under the hang guard).
        def accepted() -> list[dict[str, object]] | None:
            stats = subprocess.run(
                [str(SERVER), "stats", "--json"], env=wb.env, capture_output=True, text=True,
                timeout=HANG_GUARD_S, check=False, cwd=wb.ws,
            )  # fmt: skip
            rows = json.loads(stats.stdout)["completions"] if stats.returncode == 0 else []
            return rows if rows and rows[0]["accepted"] >= 1 else None

        completions = wait_until(accepted)
        assert completions and completions[0]["accepted"] >= 1, context
        # ... and its outcome row: the suggestion Tab took is an accepted inline outcome
        # (docs/metrics.md), by the model that offered it.
        ledger = wb.ledger()
        rows = wait_until(lambda: [o for o in ledger.outcomes_sync() if o.outcome == "accepted"])
        assert [(o.kind, o.model, o.source) for o in rows] == [("inline", "fake-a", "lsp")], (
            ledger.outcomes_sync(),
            context,
        )
        assert all(o.kind == "inline" for o in ledger.outcomes_sync())
