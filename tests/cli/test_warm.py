"""The warm process (``tta-codegen daemon``): commands forked from it behave as their own.

Real processes throughout: ``daemon start`` starts the warm process in a private
``XDG_RUNTIME_DIR``, and the real command (``run_cli(process=True)``: not the test fork
server) hands its command to it. Each test stops what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import (
    CliResult,
    cli_env,
    fake_config,
    run_cli,
    run_in_terminal,
    trust_folder,
)
from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S
from tests.lsp.harness import python_module_command
from tta_codegen.cli import warm

GOOD = "```python\ndef add(a, b):\n    return a + b\n```\n"
BROKEN = "```python\ndef add(a, b)\n    return a + b\n```\n"


@pytest.fixture
def runtime() -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR (short: a socket's path has a ~100-byte limit); any warm
    process still listening in it is told to stop afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tta-run-"))
    folder.chmod(0o700)
    try:
        yield folder
    finally:
        for sock in folder.glob("tta-codegen/warm-*.sock"):
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(HANG_GUARD_S)  # a hang guard only
                conn.connect(str(sock))
                warm.send(conn, {"op": "stop"})
                conn.recv(1 << 16)
        shutil.rmtree(folder, ignore_errors=True)


def warm_env(home: Path, runtime: Path, **extra: str) -> dict[str, str]:
    return cli_env(home, {"TTA_CODEGEN_NO_DAEMON": "", "XDG_RUNTIME_DIR": str(runtime), **extra})


async def tta(*args: str, cwd: Path, env: dict[str, str], **kw: Any) -> CliResult:
    return await run_cli(*args, cwd=cwd, env=env, process=True, **kw)


async def status(cwd: Path, env: dict[str, str]) -> str:
    r = await tta("daemon", "status", cwd=cwd, env=env)
    assert r.code == 0, r.stderr
    return r.stdout


def served(text: str) -> int:
    return int(text.split(" command(s) served")[0].rsplit(" ", 1)[1])


async def start(cwd: Path, env: dict[str, str], *extra: str) -> int:
    r = await tta("daemon", "start", *extra, cwd=cwd, env=env)
    assert r.code == 0, r.stderr
    assert "warm process ready" in r.stdout or "already running" in r.stdout, r.stdout
    return int(r.stdout.split("pid ")[1].split(",")[0].split(")")[0])


def workspace(
    tmp_path: Path, fake: FakeProvider, env: dict[str, str], key_env: str | None = None
) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url, api_key_env=key_env))
    (ws / "m.py").write_text("x = 1\n")
    trust_folder(ws, env)
    return ws


async def warm_workspace(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> tuple[Path, dict[str, str]]:
    """A trusted workspace on the fake (``m.py`` holds ``x = 1``), its environment, and the
    warm process started."""
    env = warm_env(tmp_path, runtime)
    ws = workspace(tmp_path, fake, env)
    await start(ws, env)
    return ws, env


async def test_a_command_runs_in_the_warm_process_with_the_callers_files_and_exit_code(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> None:
    env = warm_env(tmp_path, runtime)
    ws = workspace(tmp_path, fake, env)
    assert "not running" in await status(ws, env)
    pid = await start(ws, env)
    assert served(await status(ws, env)) == 0

    fake.add(Reply.text(GOOD), times=1)
    r = await tta("generate", "add two numbers", "--file", "m.py", "--yes", cwd=ws, env=env)
    assert r.code == 0, r.stderr
    assert (ws / "m.py").read_text() == "x = 1\n\n\ndef add(a, b):\n    return a + b\n"
    assert "done:" in r.stderr  # the fork wrote to the caller's stderr
    assert served(await status(ws, env)) == 1

    # A failing answer: its exit code and its one line come back through the caller.
    fake.add(Reply.text(BROKEN))
    r = await tta("generate", "add", "--file", "m.py", "--yes", "--json", cwd=ws, env=env)
    assert r.code == 3, r.stderr
    assert json.loads(r.stdout)["status"] == "gates_failed"
    assert (ws / "m.py").read_text().count("def add") == 1  # nothing written
    r = await tta("generate", "--no-such-flag", cwd=ws, env=env)
    assert r.code == 2 and r.stderr.startswith("tta-codegen: "), r.stderr
    assert served(await status(ws, env)) == 3
    os.kill(pid, 0)  # still there: one fork per command, the warm process itself lives on


async def test_each_command_gets_its_own_environment_and_the_warm_process_keeps_none(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> None:
    env = warm_env(tmp_path, runtime, FAKE_KEY="sk-started-with")
    ws = workspace(tmp_path, fake, env, key_env="FAKE_KEY")
    pid = await start(ws, env)
    fake.add(Reply.text(GOOD))
    for key in ("sk-first", "sk-second"):
        r = await tta("generate", "add", cwd=ws, env={**env, "FAKE_KEY": key})
        assert r.code == 0, r.stderr
    assert [r.headers.get("authorization") for r in fake.requests] == [
        "Bearer sk-first",
        "Bearer sk-second",
    ]
    own = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"sk-started-with" not in own and b"FAKE_KEY" not in own


async def test_ctrl_c_reaches_the_fork_and_leaves_the_file_as_it_was(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> None:
    ws, env = await warm_workspace(tmp_path, fake, runtime)
    fake.add(Reply(chunks=["```python\ndef add(a, b):\n"], hang=True))
    r = await tta(
        "generate", "add", "--file", "m.py", "--yes", cwd=ws, env=env,
        interrupt_when=lambda: bool(fake.requests),  # once the model is streaming
    )  # fmt: skip
    assert r.code == 130, r.stderr
    assert "nothing was written" in r.stderr
    assert (ws / "m.py").read_text() == "x = 1\n"
    assert served(await status(ws, env)) == 1


async def test_a_terminal_stays_a_terminal_for_the_confirmation_prompt(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> None:
    ws, env = await warm_workspace(tmp_path, fake, runtime)
    fake.add(Reply.text(GOOD))
    code, screen = await asyncio.to_thread(
        run_in_terminal, ["generate", "add", "--file", "m.py"], ws, env, b"y\n"
    )
    assert code == 0, screen
    assert "Write " in screen  # asked on the terminal: the fork saw a tty
    assert "def add" in (ws / "m.py").read_text()
    assert served(await status(ws, env)) == 1


async def test_stop_idle_end_and_an_unsafe_folder_fall_back_to_a_process_per_command(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> None:
    env = warm_env(tmp_path, runtime)
    ws = workspace(tmp_path, fake, env)
    fake.add(Reply.text(GOOD))

    pid = await start(ws, env)
    r = await tta("daemon", "stop", cwd=ws, env=env)
    assert r.code == 0 and r.stdout.strip() == "stopped"
    assert "not running" in await status(ws, env)
    r = await tta("generate", "add", cwd=ws, env=env)  # runs in its own process
    assert r.code == 0, r.stderr
    _gone(pid)

    pid = await start(ws, env, "--idle-minutes", "0.01")  # 0.6 s
    _gone(pid, within=HANG_GUARD_S)
    assert not list((runtime / "tta-codegen").glob("*.sock"))

    # A socket folder anyone can write to: refused, in one line; commands still run.
    (runtime / "tta-codegen").chmod(0o777)
    r = await tta("daemon", "start", cwd=ws, env=env)
    assert r.code == 1 and r.stderr.count("\n") == 1 and "mode 0700" in r.stderr, r.stderr
    r = await tta("generate", "add", cwd=ws, env=env)
    assert r.code == 0, r.stderr


def _gone(pid: int, within: float = 5.0) -> None:
    """``pid`` has ended (a zombie counts: nobody here is its parent to reap it)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)
    raise AssertionError(f"warm process {pid} still runs")


def test_the_install_key_changes_when_a_source_file_changes(tmp_path: Path) -> None:
    """A warm process of older code is never used: its socket has another name."""
    import tta_codegen

    copy = tmp_path / "copy"
    shutil.copytree(Path(tta_codegen.__file__).parent, copy / "tta_codegen")
    probe = [
        sys.executable,
        "-c",
        "from tta_codegen.cli.warm import install_key; print(install_key())",
    ]
    env = {**os.environ, "PYTHONPATH": str(copy)}

    def key() -> str:
        return subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout

    before = key()
    assert key() == before
    engine = copy / "tta_codegen" / "engine.py"
    engine.write_text(engine.read_text() + "\n# edited\n")
    assert key() != before


def test_a_fork_buffers_its_streams_as_a_fresh_process_would() -> None:
    """stderr by line always (llama.cpp's load messages, printed while fd 2 points at a log
    file, were held back by a block-buffered stderr and came out after it), stdout by line
    only on a terminal. The fork server's forks go through the same code as the warm
    process's."""
    command = python_module_command("tests.cli.stream_probe")
    assert "forkserver.py" in " ".join(command)  # forked, not a process of its own
    piped = subprocess.run(command, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert piped.returncode == 0, piped.stderr
    assert "stdout line_buffering=False" in piped.stderr
    assert "stderr line_buffering=True" in piped.stderr
    leader, follower = pty.openpty()
    try:
        on_tty = subprocess.run(
            command, stdout=follower, stderr=subprocess.PIPE, text=True, timeout=HANG_GUARD_S
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert "stdout line_buffering=True" in on_tty.stderr, on_tty.stderr


async def test_a_caller_that_never_sends_its_request_does_not_hold_up_the_others(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> None:
    ws, env = await warm_workspace(tmp_path, fake, runtime)
    fake.add(Reply.text(GOOD))
    (sock,) = (runtime / "tta-codegen").glob("warm-*.sock")
    with socket.socket(socket.AF_UNIX) as silent:
        silent.connect(str(sock))  # and says nothing (a stopped or stuck caller)
        r = await tta("generate", "add", "--file", "m.py", "--yes", cwd=ws, env=env)
        assert r.code == 0, r.stderr
        assert served(await status(ws, env)) == 1  # the warm process ran it all the same


async def test_ctrl_c_ends_a_command_the_warm_process_has_not_taken_yet(
    tmp_path: Path, fake: FakeProvider, runtime: Path
) -> None:
    """Ctrl-C always ends the command: while the warm process is busy (here with a caller
    that says nothing), the waiting command ends as a process interrupted at its start
    would, and no fork of it runs afterwards."""
    ws, env = await warm_workspace(tmp_path, fake, runtime)
    fake.add(Reply.text(GOOD))
    (sock,) = (runtime / "tta-codegen").glob("warm-*.sock")
    with socket.socket(socket.AF_UNIX) as silent:
        silent.connect(str(sock))
        r = await tta(
            "generate", "add", "--file", "m.py", "--yes", cwd=ws, env=env,
            interrupt_when=lambda: True,
        )  # fmt: skip
    assert r.code == -signal.SIGINT, r
    assert (ws / "m.py").read_text() == "x = 1\n"
    assert served(await status(ws, env)) == 0 and not fake.requests
