"""Run the real ``tta-codegen`` command in a subprocess, in a throwaway workspace.

The subprocess is started with asyncio so the fake provider (served by this test's event
loop) keeps answering while the command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.guards import HANG_GUARD_S
from tests.lsp.harness import tta_command
from tta_codegen import trust
from tta_codegen.config import workspace_fingerprint


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


RunCli = Callable[..., Awaitable[CliResult]]


def cli_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTA_CODEGEN_")}
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    # A hang guard that fires aborts the command (SIGABRT) and shows where it was stuck:
    # faulthandler prints every thread's stack on that signal.
    env["PYTHONFAULTHANDLER"] = "1"
    # A warm process the developer started (`tta-codegen daemon start`) is not this test's:
    # tests/cli/test_warm.py turns it back on with a private one.
    env["TTA_CODEGEN_NO_DAEMON"] = "1"
    env.update(extra or {})
    return env


def _stacks_of_a_hung(proc: subprocess.Popen[bytes] | asyncio.subprocess.Process) -> None:
    """SIGABRT a command its hang guard gave up on: faulthandler writes its threads' stacks
    to its stderr, which the caller then shows in the failure."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGABRT)


async def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str],
    timeout: float = HANG_GUARD_S,
    interrupt_when: Callable[[], bool] | None = None,
    prefix: tuple[str, ...] = (),
    process: bool = False,
) -> CliResult:
    """Run ``tta-codegen ARGS``; ``timeout`` only guards against a hang.

    A command that runs the real embedded model passes ``timeout=SLOW_HANG_GUARD_S``.
    ``prefix`` wraps the command, e.g. NO_DAC_OVERRIDE to run without root's override.
    The command is a fork of the test process's fork server (tests/forkserver.py: the same
    ``main``, pipes, environment and folder, without a second of imports) unless it needs
    a process of its own: ``process``, a ``prefix`` (it applies to the process it starts),
    or ``PYTHON*`` settings other than the hang guard's faulthandler (a real interpreter
    reads them as it starts).
    """
    proc = await asyncio.create_subprocess_exec(
        *prefix,
        *tta_command(*args, env=env, process=process or bool(prefix)),
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if interrupt_when is not None:
        # Ctrl-C once the command is where the test wants it (e.g. mid-stream).
        for _ in range(int(timeout * 20)):
            if interrupt_when():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGINT)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        _stacks_of_a_hung(proc)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        raise AssertionError(
            f"tta-codegen {' '.join(args)} hung (hang guard {timeout} s); its stacks:\n"
            + err.decode(errors="replace")[-8000:]
        ) from None
    assert proc.returncode is not None
    return CliResult(proc.returncode, out.decode(), err.decode())


def run_in_terminal(
    args: list[str], cwd: Path, env: dict[str, str], answer: bytes | None
) -> tuple[int, str]:
    """Run ``python -m tta_codegen ARGS`` in a terminal (a pty) and answer its ``Write ...?``
    prompt with ``answer``, or with Ctrl-C (SIGINT) when ``answer`` is None.

    Blocking (the pty is read directly): call it through ``asyncio.to_thread`` so the fake
    provider keeps answering. Returns the exit code and everything the terminal showed.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tta_codegen", *args],
        cwd=cwd, env=env, stdin=slave, stderr=slave, stdout=subprocess.PIPE,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + HANG_GUARD_S  # a hang guard only
    while b"Write " not in seen and time.monotonic() < deadline and proc.poll() is None:
        try:
            seen += os.read(master, 4096)
        except OSError:
            break
    if answer is None:
        proc.send_signal(signal.SIGINT)
    else:
        os.write(master, answer)
    try:
        proc.wait(HANG_GUARD_S)  # a hang guard only
    except subprocess.TimeoutExpired:
        _stacks_of_a_hung(proc)
        proc.wait(HANG_GUARD_S)
        hung = True
    else:
        hung = False
    os.set_blocking(master, False)
    try:
        while chunk := os.read(master, 65536):
            seen += chunk
    except OSError:
        pass
    os.close(master)
    screen = seen.decode(errors="replace")
    if hung:
        raise AssertionError(f"tta-codegen {' '.join(args)} hung; its screen:\n{screen[-8000:]}")
    return proc.returncode, screen


# CI runs as root, and root writes a 0444 file anyway: permission tests drop the
# capabilities that let it (the child keeps uid 0, so it still owns the test's files).
NO_DAC_OVERRIDE = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


def trust_folder(ws: Path, env: dict[str, str]) -> None:
    """Record ``ws`` as trusted, with its config as it is now, in the store ``env`` points at
    (what ``tta-codegen trust`` does, without a subprocess)."""
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = env["XDG_DATA_HOME"]
    try:
        digest = workspace_fingerprint(ws)
        if digest is not None:
            trust.record(ws, digest)
    finally:
        if saved is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = saved


@pytest.fixture
def cli(ws: Path, tmp_path: Path) -> RunCli:
    """``await cli("generate", ...)`` runs in the workspace with a private home.

    The workspace's config is trusted as it is at the call (these tests are about the
    commands); ``trusted=False`` leaves it untrusted, for the workspace-trust tests.
    """

    async def run(
        *args: str, env: dict[str, str] | None = None, trusted: bool = True, **kw: object
    ) -> CliResult:
        full = cli_env(tmp_path / "home", env)
        if trusted:
            trust_folder(ws, full)
        return await run_cli(*args, cwd=ws, env=full, **kw)  # type: ignore[arg-type]

    return run


def fake_config(
    base_url: str,
    models: tuple[str, ...] = ("fake-a",),
    *,
    api_key_env: str | None = None,
    extra: str = "",
) -> str:
    lines = ["[providers.fake]", 'kind = "openai"', f'base_url = "{base_url}"']
    if api_key_env:
        lines.append(f'api_key_env = "{api_key_env}"')
    for model in models:
        lines += ["", "[[models]]", f'id = "{model}"', 'provider = "fake"']
    lines += ["", "[routing]", f'default = "{models[0]}"']
    lines.append("fallbacks = [" + ", ".join(f'"{m}"' for m in models[1:]) + "]")
    return "\n".join(lines) + "\n" + extra
