from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from tests.fakes.provider import FakeProvider
from tests.lsp.harness import Editor, provider_settings, start_editor, stop_editor

StartEditor = Callable[..., Awaitable[Editor]]


@pytest_asyncio.fixture
async def make_editor(tmp_path: Path) -> AsyncIterator[StartEditor]:
    """Start the real server over stdio with a pytest-lsp client acting as the editor."""
    editors: list[Editor] = []
    workspace = tmp_path / "ws"
    workspace.mkdir()

    async def start(settings: dict[str, Any] | None = None, **kw: Any) -> Editor:
        editor = await start_editor(workspace, settings, **kw)
        editors.append(editor)
        return editor

    yield start
    for editor in editors:
        await stop_editor(editor)


@pytest_asyncio.fixture
async def editor(make_editor: StartEditor, fake: FakeProvider) -> Editor:
    return await make_editor(provider_settings(fake.base_url, ["fake-a"]))
