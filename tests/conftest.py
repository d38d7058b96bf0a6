from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.fakes.provider import FakeProvider
from tests.fakes.trust import REPLY
from tests.lsp.harness import FORK_SERVER, FORK_SERVER_PY


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


@pytest.fixture(scope="session", autouse=True)
def _fork_server() -> Iterator[None]:
    """One fork server per test process: language servers start without a second of imports
    each (tests/forkserver.py). It stops when the session ends, or by itself when this
    process is gone."""
    folder = Path(tempfile.mkdtemp(prefix="tta-fork-"))
    sock = folder / "s"
    proc = subprocess.Popen(
        [sys.executable, FORK_SERVER_PY, "serve", str(sock)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    FORK_SERVER["socket"] = str(sock)
    try:
        yield
    finally:
        FORK_SERVER.clear()
        proc.terminate()
        proc.wait()
        sock.unlink(missing_ok=True)
        folder.rmdir()


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never read or write the real ~/.config, ledger or caches from a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


# The slowest files first, in this order (the rest keep theirs). With two workers
# (scripts/test.sh: --dist loadfile, files handed out in this order) the long ones start at
# once and the short files fill in around them, instead of one worker running a long file
# alone at the end: tests/reliability/ sorts last by name and holds minute-long files.
SLOW_FILES_FIRST = (
    "tests/benchmarks/test_smoke_",
    "tests/vscode/",
    "tests/reliability/test_hostile_model.py",
    "tests/nvim/",
    "tests/reliability/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        for i, prefix in enumerate(SLOW_FILES_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(SLOW_FILES_FIRST)

    items.sort(key=rank)
