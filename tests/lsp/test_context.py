"""The context stage end to end: real server over stdio, real index, fake provider.

A workspace with a helper module, project rules and planted secrets; the prompt the
provider receives must carry the rules and the helper's code and never the secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types

from tests.fakes.provider import FakeProvider
from tests.guards import until
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings

PLANTED_KEY = "sk-proj-PLANTEDsecretKEY1234567890abcdefXYZ"
ENV_VALUE = "ENVFILE-PLANTED-VALUE-424242"
RULE_MARK = "XYZZY-RULE"

HELPER = '''"""Network helpers shared by every client of the project."""

import random
import time


def retry_with_backoff(fn, attempts=3, base_delay=0.1):
    """Call fn, retrying with exponential backoff and jitter on ConnectionError."""
    for attempt in range(attempts):
        try:
            return fn()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(base_delay * 2**attempt + random.random() / 100)


class CircuitBreaker:
    """Stops calling a failing service for a while."""

    def __init__(self, threshold=5):
        self.threshold = threshold
'''


def make_workspace(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "netutil.py").write_text(HELPER)
    (root / "pkg" / "settings.py").write_text(
        f'"""Settings."""\n\nOPENAI_API_KEY = "{PLANTED_KEY}"\nTIMEOUT = 30\n'
    )
    (root / ".env").write_text(f"SECRET_TOKEN={ENV_VALUE}\n")
    (root / "AGENTS.md").write_text(
        f"# Rules\n\n{RULE_MARK}: every external HTTP call must go through "
        "pkg.netutil.retry_with_backoff and a CircuitBreaker.\n"
    )
    (root / "ignored").mkdir()
    (root / "ignored" / "junk.py").write_text("def ignored_retry_helper():\n    pass\n")
    (root / ".gitignore").write_text("ignored/\n")


def generate_args(uri: str, line: int, description: str) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": 0},
        "description": description,
    }


async def wait_ready(editor: Editor, uri: str) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        answer = await editor.execute("tta.explainContext", generate_args(uri, 0, "x"))
        return answer if answer["index"]["ready"] else None

    answer: dict[str, Any] = await until(ready, "a ready index", interval=0.05)
    return answer


async def start(make_editor: StartEditor, fake: FakeProvider, tmp_path: Path) -> Editor:
    make_workspace(tmp_path / "ws")
    return await make_editor(provider_settings(fake.base_url, ["fake-a"]))


async def test_generate_carries_rules_and_helper_but_no_secret(
    make_editor: StartEditor, fake: FakeProvider, tmp_path: Path
) -> None:
    editor = await start(make_editor, fake, tmp_path)
    uri = editor.open("pkg/client.py", "import pkg.netutil\n\n\ndef main():\n    pass\n")
    await wait_ready(editor, uri)
    answer = await editor.execute(
        "tta.generate",
        generate_args(uri, 2, "fetch a URL over HTTP, retrying with exponential backoff"),
    )
    assert answer["status"] == "completed", answer
    sent = fake.requests[0].all_text
    assert RULE_MARK in sent  # the project rules reached the system prompt
    assert "def retry_with_backoff(fn, attempts=3, base_delay=0.1):" in sent
    assert "pkg/netutil.py" in sent
    assert PLANTED_KEY not in sent and "PLANTEDsecret" not in sent
    assert ENV_VALUE not in sent
    assert "ignored_retry_helper" not in sent  # .gitignore'd code never leaves
    system = fake.requests[0].body["messages"][0]["content"]
    assert RULE_MARK in system


async def test_explain_context_gives_parts_with_reasons(
    make_editor: StartEditor, fake: FakeProvider, tmp_path: Path
) -> None:
    editor = await start(make_editor, fake, tmp_path)
    uri = editor.open("pkg/client.py", "import pkg.netutil\n\n\ndef main():\n    pass\n")
    await wait_ready(editor, uri)
    answer = await editor.execute(
        "tta.explainContext", generate_args(uri, 2, "retry a flaky call with backoff")
    )
    kinds = [p["kind"] for p in answer["parts"]]
    assert "rules" in kinds and "current_file" in kinds and "example" in kinds, kinds
    for part in answer["parts"]:
        assert part["reason"] and part["tokens"] > 0, part
    examples = [p for p in answer["parts"] if p["kind"] == "example"]
    assert examples[0]["source"].startswith("pkg/netutil.py:"), examples
    assert "imported by the current file" in examples[0]["reason"]
    assert "BM25 match on" in examples[0]["reason"]
    rules = next(p for p in answer["parts"] if p["kind"] == "rules")
    assert rules["source"] == "AGENTS.md"
    assert answer["used_tokens"] <= answer["max_tokens"]
    everything = str(answer)
    assert "PLANTEDsecret" not in everything and ENV_VALUE not in everything
    assert not fake.requests  # explaining never calls a model


async def test_secret_in_open_document_is_redacted(
    make_editor: StartEditor, fake: FakeProvider, tmp_path: Path
) -> None:
    editor = await start(make_editor, fake, tmp_path)
    uri = editor.open(
        "pkg/client.py",
        f'import pkg.netutil\n\nTOKEN = "{PLANTED_KEY}"\n\n\ndef main():\n    pass\n',
    )
    await wait_ready(editor, uri)
    answer = await editor.execute("tta.explainContext", generate_args(uri, 4, "call the API"))
    current = next(p for p in answer["parts"] if p["kind"] == "current_file")
    assert "[REDACTED api-key]" in current["text"]
    assert PLANTED_KEY not in str(answer)


async def test_index_follows_edits_and_watched_files(
    make_editor: StartEditor, fake: FakeProvider, tmp_path: Path
) -> None:
    editor = await start(make_editor, fake, tmp_path)
    uri = editor.open("pkg/client.py", "import pkg.netutil\n\n\ndef main():\n    pass\n")
    await wait_ready(editor, uri)
    # An unsaved edit in an open document is found after the debounce.
    other = editor.open("pkg/shapes.py", "")
    editor.type_text(other, 0, 0, "def compute_polygon_area(points):\n    return 0.0\n")

    async def sources(description: str) -> list[str]:
        answer = await editor.execute("tta.explainContext", generate_args(uri, 2, description))
        return [p["source"] for p in answer["parts"] if p["kind"] == "example"]

    async def found(file: str, query: str) -> bool:
        return any(s.startswith(file) for s in await sources(query))

    await until(
        lambda: found("pkg/shapes.py", "polygon area"), "the edited buffer indexed", interval=0.05
    )
    # A file created on disk, announced by the watcher.
    new = tmp_path / "ws" / "pkg" / "geometry_tools.py"
    new.write_text("def hexagon_perimeter_length(side):\n    return 6 * side\n")
    editor.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=new.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    await until(
        lambda: found("pkg/geometry_tools.py", "hexagon perimeter"),
        "the watched file indexed",
        interval=0.05,
    )
    # Deleted on disk: gone from the index.
    new.unlink()
    editor.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=new.as_uri(), type=types.FileChangeType.Deleted)]
        )
    )

    async def gone() -> bool:
        return not await found("pkg/geometry_tools.py", "hexagon")

    await until(gone, "the deleted file dropped from the index", interval=0.05)
