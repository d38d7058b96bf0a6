"""Every way a provider can fail ends in a fallback or a clear failure, never lost text.

Each case runs through the real server over stdio: the document is byte for byte what it
was (or exactly the fallback's output), the answer says why, and the server keeps serving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor

ORIGINAL = "import os\n\n\ndef main() -> None:\n    print(os.getcwd())\n"
GOOD = "```python\ndef ok() -> int:\n    return 1\n```\n"


@dataclass
class Fault:
    name: str
    reply: Reply | None  # None: the provider is not reachable at all
    base_url: str | None = None
    needle: str = ""  # must appear in the answer's error
    provider: dict[str, Any] | None = None
    generation: dict[str, Any] | None = None


FAULTS = [
    Fault("connection refused", None, "http://127.0.0.1:9/v1", "cannot connect"),
    Fault("dns failure", None, "http://no-such-host.invalid/v1", "cannot connect"),
    Fault("tls error", None, "https://127.0.0.1:{port}/v1", "provider 'p'"),
    Fault(
        "timeout before first byte",
        # 20x the read timeout: a busy machine cannot make the reply beat the timeout.
        Reply.text(GOOD, first_delay=10.0),
        needle="timeout",
        provider={"read_timeout_s": 0.5},
    ),
    Fault(
        "stalls mid-stream",
        Reply(chunks=["```python\nx = 1\n", "y = 2\n"], delay=10.0),
        needle="timeout",
        provider={"read_timeout_s": 0.5},
    ),
    Fault(
        "never ends",
        Reply(chunks=["```python\nz = 1\n"], hang=True),
        needle="timeout",
        provider={"read_timeout_s": 0.5},
    ),
    Fault("http 500", Reply(status=500, error={"error": {"message": "boom"}}), needle="boom"),
    Fault(
        "http 429", Reply(status=429, error={"error": {"message": "slow down"}}), needle="slow down"
    ),
    Fault(
        "http 529",
        Reply(status=529, error={"error": {"message": "Overloaded"}}),
        needle="Overloaded",
    ),
    Fault(
        "error inside a 200 stream",
        Reply.text("```python\nq = 1\n", stream_error={"message": "upstream died"}),
        needle="upstream died",
    ),
    Fault("malformed json", Reply(raw=["data: {nope", "", "data: [DONE]", ""]), needle="malformed"),
    Fault(
        "dropped connection",
        Reply.text("```python\n" + "w = 1\n" * 30, size=6, drop_after=5),
        needle="broke",
    ),
    Fault(
        "only prose",
        Reply.text("I am sorry, but I cannot write that code for you today.\n"),
        needle="prose",
    ),
    Fault("empty reply", Reply(chunks=[]), needle="empty"),
    Fault(
        "huge reply",
        Reply(chunks=["```python\n"] + ["h = 1\n" * 100] * 50),
        needle="max_output_chars",
        generation={"max_output_chars": 2000},
    ),
]


def settings_for(fault: Fault, fake: FakeProvider, fallback: bool) -> dict[str, Any]:
    base = (fault.base_url or fake.base_url).replace("{port}", str(fake.port))
    providers: dict[str, Any] = {
        "p": {"kind": "openai", "base_url": base, **(fault.provider or {})}
    }
    models = [{"id": "primary", "provider": "p"}]
    routing: dict[str, Any] = {"default": "primary", "fallbacks": []}
    if fallback:
        providers["good"] = {"kind": "openai", "base_url": fake.base_url}
        models.append({"id": "backup", "provider": "good"})
        routing["fallbacks"] = ["backup"]
    settings: dict[str, Any] = {
        "providers": providers,
        "models": models,
        "routing": routing,
        "gates": {"enabled": []},
        # Retries would only slow the matrix down; they have their own tests.
        "routing_retry": None,
    }
    del settings["routing_retry"]
    settings["routing"]["retry"] = {"max_retries": 0}
    if fault.generation:
        settings["generation"] = fault.generation
    return settings


async def generate(editor: Editor, uri: str) -> dict[str, Any]:
    return await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}, "description": "x"},
    )


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_fault_fails_cleanly_and_leaves_the_document(
    fault: Fault, make_editor: StartEditor, fake: FakeProvider
) -> None:
    if fault.reply is not None:
        fake.add(fault.reply, model="primary")
    editor = await make_editor(settings_for(fault, fake, fallback=False))
    uri = editor.open("doc.py", ORIGINAL)
    answer = await generate(editor, uri)
    assert answer["status"] == "failed", answer
    assert fault.needle.lower() in answer["error"].lower(), answer["error"]
    assert editor.text(uri) == ORIGINAL
    # The server is still up and the next request works.
    fake.rules.clear()
    fake.add(Reply.text(GOOD))
    models = await editor.execute("tta.listModels", {})
    assert models and models[0]["id"] == "primary"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_fault_falls_back_to_exactly_the_backup_output(
    fault: Fault, make_editor: StartEditor, fake: FakeProvider
) -> None:
    if fault.reply is not None:
        fake.add(fault.reply, model="primary")
    fake.add(Reply.text(GOOD), model="backup")
    editor = await make_editor(settings_for(fault, fake, fallback=True))
    uri = editor.open("doc.py", ORIGINAL)
    answer = await generate(editor, uri)
    assert answer["status"] == "completed", answer
    assert (
        editor.text(uri)
        # PEP 8 framing: two blank lines around the inserted top-level definition.
        == "import os\n\n\ndef ok() -> int:\n    return 1\n\n\ndef main() -> None:\n    print(os.getcwd())\n"
    )
    assert [a["model"] for a in answer["attempts"]] == ["primary", "backup"]
    assert answer["attempts"][0].get("error")
