"""The warm ruff (a long-lived ``ruff server``) answers as ``ruff check`` would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tta_codegen.gates import ruff_worker
from tta_codegen.gates.python import find_ruff
from tta_codegen.gates.ruff_worker import close_ruff_workers, ruff_diagnostics

RUFF = find_ruff()
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed beside Python")
HANG_GUARD_S = 60.0  # a hang guard, not a speed check: a check takes milliseconds idle

CODE = "import os\n\n\ndef f(x=[]):\n    return undefined_name\n"


def cli_codes(root: Path, name: str, text: str, *flags: str) -> list[tuple[int, str]]:
    assert RUFF is not None
    proc = subprocess.run(
        [
            RUFF,
            "check",
            "--no-cache",
            "--output-format",
            "json",
            "--quiet",
            *flags,
            "--stdin-filename",
            name,
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        cwd=root,
        timeout=HANG_GUARD_S,
        check=False,
    )
    return sorted((d["location"]["row"] - 1, d["code"]) for d in json.loads(proc.stdout or "[]"))


async def warm_codes(
    root: Path, name: str, text: str, *, select: tuple[str, ...], project_config: bool
) -> list[tuple[int, str | None]]:
    assert RUFF is not None
    diags = await ruff_diagnostics(
        RUFF,
        root=root,
        path=root / name,
        text=text,
        select=select,
        project_config=project_config,
        limit_s=HANG_GUARD_S,
    )
    return sorted((d.line, d.code) for d in diags)


async def test_isolated_matches_ruff_check(tmp_path: Path) -> None:
    # A project config that the isolated mode must ignore (it would select everything).
    (tmp_path / "ruff.toml").write_text('[lint]\nselect = ["ALL"]\n')
    try:
        got = await warm_codes(tmp_path, "m.py", CODE, select=("E", "F"), project_config=False)
        want = cli_codes(tmp_path, "m.py", CODE, "--isolated", "--select", "E,F")
        assert got == want
        assert {code for _, code in got} == {"F401", "F821"}
    finally:
        await close_ruff_workers()


async def test_project_config_is_extended_like_ruff_check(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F"]\n')
    try:
        got = await warm_codes(tmp_path, "m.py", CODE, select=("B",), project_config=True)
        want = cli_codes(tmp_path, "m.py", CODE, "--extend-select", "B")
        assert got == want
        assert {code for _, code in got} == {"F401", "F821", "B006"}
    finally:
        await close_ruff_workers()


async def test_each_check_sees_its_own_text(tmp_path: Path) -> None:
    try:
        first = await warm_codes(
            tmp_path, "m.py", "import os\n", select=("F",), project_config=False
        )
        second = await warm_codes(tmp_path, "m.py", "x = 1\n", select=("F",), project_config=False)
        assert first == [(0, "F401")]
        assert second == []
    finally:
        await close_ruff_workers()


async def test_a_killed_server_is_restarted(tmp_path: Path) -> None:
    try:
        assert await warm_codes(
            tmp_path, "m.py", "import os\n", select=("F",), project_config=False
        ) == [(0, "F401")]
        (worker,) = ruff_worker._workers[asyncio.get_running_loop()].values()
        assert worker._proc is not None
        os.kill(worker._proc.pid, signal.SIGKILL)
        await worker._proc.wait()
        assert await warm_codes(
            tmp_path, "m.py", "import sys\n", select=("F",), project_config=False
        ) == [(0, "F401")]
        (again,) = ruff_worker._workers[asyncio.get_running_loop()].values()
        assert again is not worker
    finally:
        await close_ruff_workers()


@pytest.mark.parametrize("ahead", [False, True], ids=["at-the-check", "started-ahead"])
async def test_a_ruff_that_cannot_serve_is_an_error(tmp_path: Path, ahead: bool) -> None:
    """Also when started ahead (start_ruff_ahead): the check does not hang on the failed
    start and reports the same error (the gate then runs ``ruff check``)."""
    fake = tmp_path / "ruff"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    if ahead:
        ruff_worker.start_ruff_ahead(
            str(fake), root=tmp_path, select=("F",), project_config=False, limit_s=HANG_GUARD_S
        )
    try:
        with pytest.raises(ruff_worker.RuffWorkerError):
            await ruff_diagnostics(
                str(fake),
                root=tmp_path,
                path=tmp_path / "m.py",
                text="x = 1\n",
                select=("F",),
                project_config=False,
                limit_s=HANG_GUARD_S,
            )
    finally:
        await close_ruff_workers()


async def test_a_server_started_ahead_is_the_one_that_checks(tmp_path: Path) -> None:
    """start_ruff_ahead (the engine calls it while the model answers) starts the worker the
    next check of the same key uses: one process, and the check waits for its handshake
    when it comes before that is done."""
    assert RUFF is not None
    try:
        ruff_worker.start_ruff_ahead(
            RUFF, root=tmp_path, select=("F",), project_config=False, limit_s=HANG_GUARD_S
        )
        (ahead,) = ruff_worker._workers[asyncio.get_running_loop()].values()
        # Asked again (another candidate): the worker starting is left alone.
        ruff_worker.start_ruff_ahead(
            RUFF, root=tmp_path, select=("F",), project_config=False, limit_s=HANG_GUARD_S
        )
        assert ahead._starting is not None and not ahead._starting.done()  # checks at once
        assert await warm_codes(
            tmp_path, "m.py", "import os\n", select=("F",), project_config=False
        ) == [(0, "F401")]
        (worker,) = ruff_worker._workers[asyncio.get_running_loop()].values()
        assert worker is ahead and not worker.dead
    finally:
        await close_ruff_workers()


async def test_closing_cancels_a_start_ahead(tmp_path: Path) -> None:
    assert RUFF is not None
    ruff_worker.start_ruff_ahead(
        RUFF, root=tmp_path, select=("F",), project_config=False, limit_s=HANG_GUARD_S
    )
    (ahead,) = ruff_worker._workers[asyncio.get_running_loop()].values()
    await close_ruff_workers()  # before its handshake: cancelled, its process ended
    assert ahead.dead and ahead._starting is not None and ahead._starting.done()
    assert ahead._proc is None
