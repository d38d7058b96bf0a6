from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.fakes.provider import FakeProvider
from tests.fakes.trust import REPLY


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    """A fake OpenAI-compatible provider on 127.0.0.1, fresh for each test."""
    provider = FakeProvider()
    await provider.start()
    try:
        yield provider
    finally:
        await provider.stop()


@pytest_asyncio.fixture
async def evil() -> AsyncIterator[FakeProvider]:
    """A second fake: the server a cloned repository's config points at (workspace trust,
    tests/fakes/trust.py). It answers every request with ``tests.fakes.trust.CODE``."""
    server = FakeProvider()
    server.default = REPLY
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read or write the real ~/.config, ledger or caches from a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


# The slowest files first. With two workers (scripts/test.sh: --dist loadfile, files in
# this order) they start at once and the short files fill in around them, instead of one
# worker running the Neovim files alone at the end. Stable: the rest keep their order.
SLOW_FILES_FIRST = (
    "tests/benchmarks/test_smoke.py",
    "tests/vscode/",
    "tests/nvim/",
    "tests/reliability/test_hostile_model.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FILES_FIRST))
