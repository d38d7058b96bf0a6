"""The CLI's review step: --diff shows without writing, --yes writes, a terminal asks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.cli.conftest import RunCli, cli_env, run_in_terminal
from tests.cli.test_generate import CODE, REPLY, use_fake
from tests.fakes.provider import FakeProvider


async def test_diff_prints_a_patch_and_writes_nothing(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(REPLY)
    target = ws / "mod.py"
    target.write_text("import os\n")
    r = await cli("generate", "add", "--file", "mod.py", "--diff", "--no-context")
    assert r.code == 0, r.stderr
    assert target.read_text() == "import os\n"
    assert r.stdout.startswith("--- a/mod.py\n+++ b/mod.py\n")
    assert "+def add(a, b):\n+    return a + b\n" in r.stdout and " import os\n" in r.stdout
    r = await cli("generate", "add", "--out", "new.py", "--diff")
    assert r.code == 0 and not (ws / "new.py").exists()
    assert r.stdout.startswith("--- /dev/null\n+++ b/new.py\n")


async def test_yes_writes_and_bad_combination_is_a_usage_error(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(REPLY)
    r = await cli("generate", "add", "--out", "y.py", "--yes")
    assert r.code == 0 and (ws / "y.py").read_text() == CODE
    r = await cli("generate", "add", "--out", "z.py", "--yes", "--diff")
    assert r.code == 2
    r = await cli("generate", "add", "--diff")
    assert r.code == 2 and "--diff needs" in r.stderr


Answer = Callable[[bytes], Awaitable[tuple[int, str]]]


@pytest.fixture
def answer(ws: Path, fake: FakeProvider, tmp_path: Path) -> Answer:
    """``generate add --file mod.py`` in a terminal, its ``Write`` prompt answered with the
    keys given; returns the exit code and the screen."""
    use_fake(ws, fake)
    fake.add(REPLY)
    (ws / "mod.py").write_text("import os\n")
    env = cli_env(tmp_path / "home")
    args = ["generate", "add", "--file", "mod.py", "--no-context", "--trust-workspace"]

    async def run(keys: bytes) -> tuple[int, str]:
        return await asyncio.to_thread(run_in_terminal, args, ws, env, keys)

    return run


async def test_terminal_shows_the_diff_and_asks(ws: Path, answer: Answer) -> None:
    target = ws / "mod.py"
    code, screen = await answer(b"n\n")
    assert code == 0 and "+def add(a, b):" in screen and "Write mod.py?" in screen
    assert target.read_text() == "import os\n"  # "no" writes nothing
    code, screen = await answer(b"y\n")
    assert code == 0
    assert target.read_text() == "import os\n\n\n" + CODE  # PEP 8: two blank lines


async def test_the_write_prompt_asks_again_on_an_unclear_answer_and_enter_means_no(
    ws: Path, answer: Answer
) -> None:
    target = ws / "mod.py"
    code, screen = await answer(b"\n")
    assert code == 0 and "nothing written" in screen
    assert target.read_text() == "import os\n"
    code, screen = await answer(b"maybe\nyes\n")
    assert code == 0, screen
    assert screen.count("Write mod.py? [y/N]") == 2 and "answer y or n" in screen
    assert target.read_text() == "import os\n\n\n" + CODE
    target.write_text("import os\n")
    code, screen = await answer(b"\x04")
    assert code == 130 and "interrupted; nothing was written" in screen, screen  # Ctrl-D
    assert target.read_text() == "import os\n"
