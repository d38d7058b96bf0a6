"""A planted API key never shows up in anything the server writes or sends."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.provider import FakeProvider, Reply
from tests.reliability.rpc import RawServer

KEY = "sk-proj-PLANTEDkey0123456789abcdefghijklmnop"
WORKSPACE_KEY = "sk-ant-api03-PLANTEDworkspaceKEY0123456789abcdef"


async def test_keys_never_reach_logs_answers_ledger_or_other_providers(
    tmp_path: Path, fake: FakeProvider
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.py").write_text(f'ANTHROPIC_KEY = "{WORKSPACE_KEY}"\n')
    (ws / ".env").write_text(f"OPENAI_API_KEY={KEY}\n")
    # The provider echoes the key back in an error, as OpenAI's 401 does.
    fake.add(Reply(status=401, error={"error": {"message": f"Incorrect API key provided: {KEY}"}}),
             model="primary")  # fmt: skip
    fake.add(Reply.text("```python\nvalue = 1\n```\n"), model="backup")
    server = await RawServer.start(tmp_path, env={"PLANTED_KEY": KEY})
    options = {
        "providers": {
            "keyed": {"kind": "openai", "base_url": fake.base_url, "api_key_env": "PLANTED_KEY"},
            "open": {"kind": "openai", "base_url": fake.base_url},
        },
        "models": [{"id": "primary", "provider": "keyed"}, {"id": "backup", "provider": "open"}],
        "routing": {"default": "primary", "fallbacks": ["backup"], "retry": {"max_retries": 0}},
        "gates": {"enabled": ["syntax"]},
    }
    await server.initialize(ws, options)
    uri = (ws / "app.py").as_uri()
    server.open(uri, "import settings\n")
    answer = await server.request(
        "workspace/executeCommand",
        {"command": "tta.generate", "arguments": [{"textDocument": {"uri": uri},
         "position": {"line": 1, "character": 0}, "description": "use settings"}],
         "workDoneToken": "t1"},
    )  # fmt: skip
    assert answer["result"]["status"] == "completed", answer["result"].get("error")
    stats = await server.request(
        "workspace/executeCommand", {"command": "tta.stats", "arguments": [{}]}
    )
    explain = await server.request(
        "workspace/executeCommand",
        {"command": "tta.explainContext", "arguments": [{"textDocument": {"uri": uri},
         "position": {"line": 1, "character": 0}, "description": "use settings"}]},
    )  # fmt: skip
    await server.close()

    # Only the keyed provider's requests carry the key, in the Authorization header only.
    for req in fake.requests:
        body = json.dumps(req.body)
        assert KEY not in body and WORKSPACE_KEY not in body
        if req.body.get("model") == "backup":
            assert KEY not in json.dumps(req.headers)
    assert any(r.headers.get("authorization") == f"Bearer {KEY}" for r in fake.requests)

    written = [
        server.stderr.decode(errors="replace"),
        json.dumps(server.notifications),
        json.dumps(server.server_requests),
        json.dumps(answer),
        json.dumps(stats),
        json.dumps(explain),
    ]
    for path in tmp_path.rglob("*"):
        if path.is_file() and ws not in path.parents:
            written.append(path.read_bytes().decode(errors="replace"))
    blob = "\n".join(written)
    assert KEY not in blob
    assert KEY[:20] not in blob  # nor a recognisable fragment
    assert WORKSPACE_KEY not in json.dumps(explain)
    assert "Incorrect API key provided" in json.dumps(answer)  # the error itself did arrive
