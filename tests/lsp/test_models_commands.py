"""tta.listModels (price, health from the breakers) and tta.stats, over a real LSP session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor


def settings(base_url: str) -> dict[str, Any]:
    return {
        "providers": {"fake": {"kind": "openai", "base_url": base_url}},
        "models": [
            {
                "id": "fake-a",
                "provider": "fake",
                "input_cost_per_mtok": 2.0,
                "output_cost_per_mtok": 8.0,
            },
            {
                "id": "fake-b",
                "provider": "fake",
                "input_cost_per_mtok": 1.0,
                "output_cost_per_mtok": 4.0,
            },
        ],
        "routing": {
            "default": "fake-a",
            "fallbacks": ["fake-b"],
            "retry": {"max_retries": 0},
            "breaker": {"failure_threshold": 1, "recovery_timeout_s": 600},
        },
    }


async def test_list_models_health_and_stats_after_generation(
    make_editor: StartEditor, fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(Reply(status=500, error={"error": {"message": "primary is down"}}), model="fake-a")
    fake.add(
        Reply.text(
            "```python\ndef f():\n    return 1\n```\n",
            usage={"prompt_tokens": 1000, "completion_tokens": 250},
        ),
        model="fake-b",
    )
    editor = await make_editor(settings(fake.base_url))

    before = await editor.execute("tta.listModels", {})
    assert [(m["id"], m["health"], m["default"]) for m in before] == [
        ("fake-a", "unknown", True),
        ("fake-b", "unknown", False),
    ]
    assert before[0]["input_cost_per_mtok"] == 2.0 and before[0]["free"] is False

    uri = editor.open("m.py", "")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": "f"},
    )
    assert answer["status"] == "completed", answer
    assert [a["model"] for a in answer["attempts"]] == ["fake-a", "fake-b"]
    assert "primary is down" in answer["attempts"][0]["error"]
    # The engine closes the stream at the closing fence, so usage may be estimated; the
    # price is fake-b's either way.
    usage = answer["usage"]
    cost = (usage["prompt_tokens"] * 1.0 + usage["completion_tokens"] * 4.0) / 1e6
    assert answer["cost_usd"] == round(cost, 8) > 0

    after = {m["id"]: m for m in await editor.execute("tta.listModels", {})}
    assert after["fake-a"]["health"] == "down" and after["fake-a"]["circuit"] == "open"
    assert "primary is down" in after["fake-a"]["last_error"]
    assert after["fake-b"]["health"] == "ok" and after["fake-b"]["circuit"] == "closed"

    stats = await editor.execute("tta.stats", {})
    by_model = {m["model"]: m for m in stats["models"]}
    assert by_model["fake-a"]["requests"] == 1 and by_model["fake-a"]["failures"] == 1
    b = by_model["fake-b"]
    assert b["requests"] == 1 and b["failures"] == 0
    assert b["ttft_p50_ms"] is not None and b["total_p50_ms"] >= b["ttft_p50_ms"]
    assert b["completion_tokens"] == usage["completion_tokens"]
    assert b["cost_today_usd"] == answer["cost_usd"]
    assert stats["totals"]["cost_total_usd"] == answer["cost_usd"]
    # The ledger lives in the data dir the test gave the server, not in the real home.
    assert stats["ledger"].startswith(str(tmp_path))

    # The breaker keeps fake-a out: the next generation sends nothing to it.
    sent = len(fake.requests)
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": "g"},
    )
    assert answer["status"] == "completed"
    assert [r.body["model"] for r in fake.requests[sent:]] == ["fake-b"]
    assert "circuit open" in answer["attempts"][0]["error"]


async def test_budget_refusal_reaches_the_user_and_sends_nothing(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    config = settings(fake.base_url)
    config["budget"] = {"per_request_usd": 0.000001}
    editor = await make_editor(config)
    uri = editor.open("b.py", "x = 1\n")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}, "description": "y"},
    )
    assert answer["status"] == "failed"
    assert (
        "budget.per_request_usd" in answer["error"] and "refused before sending" in answer["error"]
    )
    assert fake.requests == []
    assert editor.text(uri) == "x = 1\n"
    stats = await editor.execute("tta.stats", {})
    assert stats["models"] == [] and stats["budget"]["per_request_usd"] == {"limit": 0.000001}
