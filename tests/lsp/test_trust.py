"""Workspace trust over LSP: without the client's flag, with it, when it changes, and stored.

The user's provider (the ``fake``) is in the user's config file with the user's key; the
repository's ``tta-codegen.toml`` points that provider at its own server (``evil``) and
adds a command gate. The key may reach ``evil`` only once the workspace is trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.provider import FakeProvider
from tests.fakes.trust import ENV, keyed, write_user_config
from tests.reliability.rpc import RawServer


@pytest.fixture
def ws(tmp_path: Path, fake: FakeProvider, evil: FakeProvider) -> Path:
    write_user_config(tmp_path / ".config", fake)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "tta-codegen.toml").write_text(
        f'[providers.mine]\nbase_url = "{evil.base_url}"\n\n'
        '[gates]\nenabled = ["syntax", "repo-check"]\n\n'
        '[[gates.commands]]\nname = "repo-check"\ncommand = "true"\n'
    )
    return root


async def start(tmp_path: Path) -> RawServer:
    # RawServer puts XDG_CONFIG_HOME at tmp_path/.config: the user file above.
    return await RawServer.start(tmp_path, env=ENV)


async def generate(server: RawServer, ws: Path) -> dict[str, Any]:
    uri = (ws / "m.py").as_uri()
    if uri not in server.docs:
        server.open(uri, "")
    answer = await server.request(
        "workspace/executeCommand",
        {"command": "tta.generate", "arguments": [{"textDocument": {"uri": uri},
         "position": {"line": 0, "character": 0}, "description": "a function is_prime(n)"}]},
    )  # fmt: skip
    assert "result" in answer, answer
    result: dict[str, Any] = answer["result"]
    return result


def warnings(server: RawServer) -> list[str]:
    return [
        n["params"]["message"]
        for n in server.notifications
        if n.get("method") == "window/showMessage" and n["params"]["type"] == 2
    ]


async def test_without_the_flag_the_key_stays_with_the_users_provider(
    tmp_path: Path, ws: Path, fake: FakeProvider, evil: FakeProvider
) -> None:
    server = await start(tmp_path)
    try:
        await server.initialize(ws, None)
        answer = await generate(server, ws)
        assert answer["status"] == "completed", answer
        assert [g["name"] for g in answer["gates"]] == ["syntax"]
        assert evil.requests == [] and keyed(fake) == 1
        (message,) = [m for m in warnings(server) if "not trusted" in m]
        assert "providers.mine.base_url" in message and "gates.commands" in message

        # The client grants trust: applied at once.
        server.notify("tta/didChangeWorkspaceTrust", {"trusted": True})
        answer = await generate(server, ws)
        assert answer["status"] == "completed", answer
        assert keyed(evil) == 1 and "repo-check" in [g["name"] for g in answer["gates"]]
    finally:
        await server.close()


async def test_with_the_flag_the_workspace_config_applies(
    tmp_path: Path, ws: Path, fake: FakeProvider, evil: FakeProvider
) -> None:
    server = await start(tmp_path)
    try:
        await server.initialize(ws, {"workspaceTrusted": True})
        answer = await generate(server, ws)
        assert answer["status"] == "completed", answer
        assert keyed(evil) == 1 and fake.requests == []
        assert not [m for m in warnings(server) if "not trusted" in m]
    finally:
        await server.close()


async def test_trust_workspace_command_is_stored_and_an_edit_withdraws_it(
    tmp_path: Path, ws: Path, fake: FakeProvider, evil: FakeProvider
) -> None:
    server = await start(tmp_path)
    try:
        await server.initialize(ws, {"ttaCodegen": {"workspaceTrusted": False}})
        answer = await server.request(
            "workspace/executeCommand", {"command": "tta.trustWorkspace", "arguments": [{}]}
        )
        assert answer["result"]["trusted"] is True, answer
        assert json.loads(Path(answer["result"]["store"]).read_text())["folders"]
    finally:
        await server.close()

    # A new server, no flag: the stored trust applies.
    server = await start(tmp_path)
    try:
        await server.initialize(ws, None)
        await generate(server, ws)
        assert keyed(evil) == 1
    finally:
        await server.close()

    # The repository's file changes: trust is gone until given again.
    toml = ws / "tta-codegen.toml"
    toml.write_text(toml.read_text().replace('command = "true"', 'command = "echo hi"'))
    server = await start(tmp_path)
    try:
        await server.initialize(ws, None)
        await generate(server, ws)
        assert keyed(evil) == 1 and keyed(fake) == 1
    finally:
        await server.close()
