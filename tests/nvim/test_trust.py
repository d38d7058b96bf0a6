"""Workspace trust from a real Neovim: ``trusted_workspaces`` and ``:TTATrust``."""

from __future__ import annotations

import json

import pytest
from tests.fakes.provider import FakeProvider, Reply
from tests.nvim.conftest import Nvim

REPO = (
    '[gates]\nenabled = ["syntax", "repo-check"]\n\n'
    '[[gates.commands]]\nname = "repo-check"\ncommand = "true"\n'
)


@pytest.mark.parametrize("trusted", [False, True], ids=["TTATrust", "trusted_workspaces"])
async def test_the_workspace_command_gate_runs_only_once_trusted(
    nvim: Nvim, fake: FakeProvider, trusted: bool
) -> None:
    fake.default = Reply.text("```python\nx = 1\n```\n")
    (nvim.workspace / "tta-codegen.toml").write_text(REPO, encoding="utf-8")
    path = nvim.workspace / "t.py"
    path.write_text("\n", encoding="utf-8")

    run = await nvim.run(
        "trust",
        settings=nvim.settings(review={"mode": "auto"}),
        file=path,
        description="one value",
        trusted=trusted,
    )

    if trusted:
        assert run.result["before"] == ["syntax", "repo-check"], run.why()
        return
    assert run.result["before"] == ["syntax"], run.why()
    assert run.done[1]["command"] == "tta.trustWorkspace", run.why()
    assert run.result["after"] == ["syntax", "repo-check"], run.why()
    store = nvim.home / ".local" / "share" / "tta-codegen" / "trusted-workspaces.json"
    folders = json.loads(store.read_text(encoding="utf-8"))["folders"]
    assert str(nvim.workspace.resolve()) in folders
