"""The prompt library over LSP: tta.listPrompts, code actions, tta.generate with a template."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings

TEAM_TEMPLATE = """{#---
title = "Team service"
category = "team"
description = "A service class in our house style."

[variables.service]
required = true
description = "service name"

[variables.port]
default = 8080
---#}
{% extends "_base/task.j2" %}
{% block task %}Write the {{ service }} service listening on {{ port }}.{% endblock %}
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


async def test_list_prompts_has_contract_shape_and_overrides(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    editor = await make_editor(provider_settings(fake.base_url))
    ws, home = editor.root, editor.root.parent / ".config" / "tta-codegen" / "prompts"
    prompts = await editor.execute("tta.listPrompts", {})
    assert len(prompts) >= 20
    by_id = {p["id"]: p for p in prompts}
    breaker = by_id["circuit-breaker"]
    assert {"id", "title", "category", "description", "variables"} <= set(breaker)
    assert breaker["title"].startswith("Circuit breaker") and breaker["category"] == "agents"
    variables = {v["name"]: v for v in breaker["variables"]}
    assert variables["name"]["required"] is True and "default" not in variables["name"]
    assert variables["failure_threshold"]["required"] is False
    assert variables["failure_threshold"]["default"] == 5
    assert by_id["circuit-breaker"]["source"] == "builtin"

    # Templates added while the server runs show up on the next call; workspace beats user.
    write(ws / ".tta-codegen" / "prompts" / "team" / "team-service.j2", TEAM_TEMPLATE)
    write(home / "team-service.j2", TEAM_TEMPLATE.replace("Team service", "Mine"))
    write(home / "personal.j2", TEAM_TEMPLATE.replace("Team service", "Personal"))
    by_id = {p["id"]: p for p in await editor.execute("tta.listPrompts", {})}
    assert by_id["team-service"]["title"] == "Team service"
    assert by_id["team-service"]["source"] == "workspace"
    assert by_id["personal"]["source"] == "user"
    assert by_id["team-service"]["variables"] == [
        {"name": "service", "required": True, "description": "service name"},
        {"name": "port", "required": False, "default": 8080},
    ]


async def test_broken_template_is_reported_and_skipped(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    editor = await make_editor(provider_settings(fake.base_url))
    write(editor.root / ".tta-codegen" / "prompts" / "good.j2", TEAM_TEMPLATE)
    broken = editor.root / ".tta-codegen" / "prompts" / "broken.j2"
    write(broken, TEAM_TEMPLATE.replace("{% endblock %}", "{% endblok %}"))
    shown = asyncio.ensure_future(editor.client.wait_for_notification(types.WINDOW_SHOW_MESSAGE))
    ids = {p["id"] for p in await editor.execute("tta.listPrompts", {})}
    assert "good" in ids and "broken" not in ids and "refine" in ids
    message = await asyncio.wait_for(shown, HANG_GUARD_S)
    assert message.type == types.MessageType.Warning
    assert f"{broken}:14:" in message.message and "endblok" in message.message


async def _code_actions(
    editor: Editor, uri: str, rng: dict[str, Any], diagnostics: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The server's answer as raw JSON.

    lsprotocol decodes ``CodeAction | Command`` ambiguously in the client (an action with
    a ``command`` can come back as a Command), so the answer is kept undecoded.
    """
    result = await editor.code_actions(
        uri,
        types.Range(start=types.Position(**rng["start"]), end=types.Position(**rng["end"])),
        diagnostics,
    )
    # Only the library's template actions (other features add their own refine actions).
    return [
        a
        for a in result
        if a.get("command", {}).get("command") == "tta.refine"
        and "template" in (a["command"].get("arguments") or [{}])[0]
    ]


async def test_code_actions_offer_selection_templates(editor: Editor) -> None:
    uri = editor.open("svc.py", "def f(x):\n    return x\n")
    rng = {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}
    actions = await _code_actions(editor, uri, rng)
    by_template = {a["command"]["arguments"][0]["template"]: a for a in actions}
    assert set(by_template) >= {
        "refine",
        "add-docstrings-type-hints",
        "add-error-handling-logging",
        "fix-diagnostic",
        "explain-as-comments",
    }
    assert "circuit-breaker" not in by_template and "unit-tests" not in by_template
    docs = by_template["add-docstrings-type-hints"]
    assert docs["kind"] == "refactor.rewrite"
    assert docs["title"].startswith("Add docstrings and type hints")
    assert docs["command"]["arguments"] == [
        {
            "textDocument": {"uri": uri},
            "range": rng,
            "instruction": "Add docstrings and type hints",
            "template": "add-docstrings-type-hints",
        }
    ]
    # No selection, no rewrite actions.
    empty = {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 2}}
    assert await _code_actions(editor, uri, empty) == []


async def test_fix_action_carries_the_diagnostics(editor: Editor) -> None:
    uri = editor.open("svc.py", "def f(x):\n    return y\n")
    rng = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 12}}
    diag = types.Diagnostic(
        range=types.Range(types.Position(1, 11), types.Position(1, 12)),
        message="Undefined name `y`",
        source="ruff",
    )
    actions = await _code_actions(editor, uri, rng, [diag])
    (fix,) = [a for a in actions if a["command"]["arguments"][0]["template"] == "fix-diagnostic"]
    argument = fix["command"]["arguments"][0]
    assert "ruff: Undefined name `y` (line 2)" in argument["instruction"]
    assert argument["variables"] == {"diagnostic": "- ruff: Undefined name `y` (line 2)"}
    assert "Undefined name" in fix["title"]
    assert fix["diagnostics"][0]["message"] == "Undefined name `y`"


async def test_generate_with_template_sends_the_rendered_template(
    editor: Editor, fake: FakeProvider
) -> None:
    write(editor.root / ".tta-codegen" / "prompts" / "team" / "team-service.j2", TEAM_TEMPLATE)
    fake.add(Reply.text("```python\nclass Billing:\n    port = 9000\n```\n", size=5))
    uri = editor.open("billing.py", "import os\n\n")
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 2, "character": 0},
            "template": "team-service",
            "variables": {"service": "billing", "port": 9000},
        },
    )
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "import os\n\n\nclass Billing:\n    port = 9000\n"  # PEP 8
    sent = fake.requests[0].all_text
    assert "Write the billing service listening on 9000." in sent
    assert "import os\n\n<CURSOR>" in sent
    assert "Requirements:" in sent  # the shared block from the built-in _base


async def test_generate_with_builtin_template_and_default_variables(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\nclass CircuitBreaker:\n    pass\n```\n"))
    uri = editor.open("breaker.py", "")
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 0},
            "template": "circuit-breaker",
            "variables": {"name": "payments_api", "failure_threshold": 3},
        },
    )
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "class CircuitBreaker:\n    pass\n"
    sent = fake.requests[0].all_text
    assert "protecting `payments_api`" in sent and "failure_threshold=3," in sent
    assert "recovery_timeout_s=30" in sent  # declared default


async def test_generate_template_errors_are_failed_answers(
    editor: Editor, fake: FakeProvider
) -> None:
    uri = editor.open("x.py", "")
    position = {"line": 0, "character": 0}
    unknown = await editor.execute(
        "tta.generate", {"textDocument": {"uri": uri}, "position": position, "template": "nope"}
    )
    assert unknown["status"] == "failed"
    assert unknown["error"] == "unknown template 'nope' (see tta.listPrompts)"
    missing = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": position, "template": "circuit-breaker"},
    )
    assert missing["status"] == "failed" and "'name'" in missing["error"]
    assert fake.requests == []
    assert editor.text(uri) == ""


async def test_a_saved_template_header_counts_on_the_next_generation(
    editor: Editor, fake: FakeProvider
) -> None:
    """Requests reuse the library's last full scan for a second unless a folder changed
    (prompts/library.py); a template the editor saves is scanned again at once."""
    folder = editor.root / ".tta-codegen" / "prompts"
    path = folder / "team" / "team-service.j2"
    write(path, TEAM_TEMPLATE)
    old = time.time_ns() - 60 * 1_000_000_000  # the folders unchanged for a minute
    for dirpath, _dirs, _files in os.walk(folder):
        os.utime(dirpath, ns=(old, old))
    fake.add(Reply.text("```python\nclass Billing:\n    pass\n```\n", size=5))
    uri = editor.open("billing.py", "import os\n\n")
    args: dict[str, Any] = {
        "textDocument": {"uri": uri},
        "position": {"line": 2, "character": 0},
        "template": "team-service",
        "variables": {"service": "billing"},
    }
    answer = await editor.execute("tta.generate", args)
    assert answer["status"] == "completed", answer
    # Edited in place (its folder's mtime stays): a new variable in the header.
    write(
        path,
        TEAM_TEMPLATE.replace(
            "[variables.port]", "[variables.region]\nrequired = true\n\n[variables.port]"
        ).replace("on {{ port }}.", "on {{ port }} in {{ region }}."),
    )
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri())
        )
    )
    uri2 = editor.open("billing2.py", "import os\n\n")
    args["textDocument"] = {"uri": uri2}
    args["variables"] = {"service": "billing", "region": "eu-west"}
    answer = await editor.execute("tta.generate", args)
    assert answer["status"] == "completed", answer
    assert "Write the billing service listening on 8080 in eu-west." in fake.requests[-1].all_text
