"""The sandbox: timeouts, limits, a scrubbed environment, a read-only world and no network.

Each test runs a real gate (pytest or a shell command) that misbehaves on purpose, with tight
limits and short timeouts, and asserts it was stopped and reported; the `workspace` fixture
asserts afterwards that the workspace is byte for byte unchanged.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.gates.conftest import MODULE, one, run
from tests.guards import HANG_GUARD_S, until
from tta_codegen.gates import sandbox


def _test_file(body: str) -> dict[str, str]:
    return {"tests/test_probe.py": body}


def _alive_with_marker(marker: str) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


async def test_timeout_kills_an_infinite_loop_in_a_test(workspace: Path) -> None:
    body = "def test_forever():\n    while True:\n        pass\n"
    # A gate that is not killed never returns: the hang guard turns that into a failure.
    results = await asyncio.wait_for(
        run(workspace, MODULE, enabled=["tests"], extra=_test_file(body), timeout_s=3),
        HANG_GUARD_S,
    )
    result = one(results, "tests")
    assert not result.passed and result.timed_out
    assert "timed out after 3 s" in (result.message or "")


async def test_timeout_kills_background_children_too(workspace: Path) -> None:
    marker = f"tta-gates-marker-{os.getpid()}-bg"
    gate = {
        "name": "spawner",
        "command": f"sh -c 'sleep 300; : {marker}' & while :; do :; done",
        "timeout_s": 1,
    }
    results = await asyncio.wait_for(
        run(workspace, MODULE, enabled=["spawner"], commands=[gate]), HANG_GUARD_S
    )
    result = one(results, "spawner")
    assert result.timed_out and not result.passed
    assert _alive_with_marker(marker) == []


async def test_a_test_reading_api_keys_sees_nothing(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-test-456")
    monkeypatch.setenv("MY_SERVICE_SECRET", "hush-789")
    body = (
        "import os\n\n\n"
        "def test_no_keys():\n"
        "    assert os.environ.get('OPENAI_API_KEY') is None\n"
        "    values = ' '.join(os.environ.values())\n"
        "    for secret in ('sk-test-123', 'ghp-test-456', 'hush-789'):\n"
        "        assert secret not in values, secret\n"
    )
    results = await run(
        workspace,
        MODULE,
        enabled=["tests"],
        extra=_test_file(body),
        # Even asked for by name, a secret-looking variable is not passed.
        pass_env=["OPENAI_API_KEY", "GITHUB_TOKEN"],
    )
    assert one(results, "tests").passed, one(results, "tests").message
    leak = one(
        await run(
            workspace, MODULE, enabled=["env"], commands=[{"name": "env", "command": "env; exit 1"}]
        ),
        "env",
    )
    assert "PATH=" in leak.output and "sk-test-123" not in leak.output
    assert "HOME=" in leak.output and str(Path.home()) + "\n" not in leak.output


async def test_a_gate_cannot_write_into_the_workspace(
    workspace: Path, caps: sandbox.Capabilities
) -> None:
    if not caps.readonly_fs:
        pytest.skip("no mount namespace here: the workspace is protected only by permissions")
    outside = workspace.parent / "outside.txt"
    targets = [str(workspace / "mod.py"), str(workspace / "new.txt"), str(outside)]
    body = (
        "import pytest\n\n\n"
        f"@pytest.mark.parametrize('path', {targets!r})\n"
        "def test_write(path):\n"
        "    with pytest.raises(OSError):\n"
        "        open(path, 'w').write('pwned')\n"
    )
    result = one(await run(workspace, MODULE, enabled=["tests"], extra=_test_file(body)), "tests")
    assert result.passed, result.message
    gate = {
        "name": "vandal",
        "command": f"echo pwned > {workspace}/mod.py; touch {workspace}/new.txt; rm -f {workspace}/tests/test_mod.py; true",
    }
    result = one(await run(workspace, MODULE, enabled=["vandal"], commands=[gate]), "vandal")
    assert "Read-only file system" in result.output
    assert not outside.exists()
    # The gate's own temporary directory stays writable.
    gate = {
        "name": "scratch",
        "command": "echo ok > {root}/a.txt && echo ok > b.txt && mkdir -p d && cat b.txt",
    }
    assert one(await run(workspace, MODULE, enabled=["scratch"], commands=[gate]), "scratch").passed


async def test_runaway_memory_is_stopped_and_reported(workspace: Path) -> None:
    body = "def test_hog():\n    hog = bytearray(3 * 1024 ** 3)\n    assert hog\n"
    result = one(
        await run(workspace, MODULE, enabled=["tests"], extra=_test_file(body), memory_mb=512),
        "tests",
    )
    assert not result.passed
    assert "MemoryError" in (result.message or "")


async def test_a_fork_bomb_is_stopped_and_reported(
    workspace: Path, caps: sandbox.Capabilities
) -> None:
    if caps.info(False).process_limit == "none":
        pytest.skip("root without a pids cgroup: the process count cannot be limited safely")
    marker = f"tta-gates-marker-{os.getpid()}-bomb"
    script = (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
    )
    gate = {"name": "bomb", "command": f"{sys.executable} -c '{script}' {marker}", "timeout_s": 2}
    results = await asyncio.wait_for(
        run(workspace, MODULE, enabled=["bomb"], commands=[gate], max_processes=16), HANG_GUARD_S
    )
    result = one(results, "bomb")
    assert not result.passed and result.timed_out
    assert result.sandbox is not None and result.sandbox.process_limit in ("cgroup", "rlimit")
    assert _alive_with_marker(marker) == []
    if caps.cgroup_base is not None:
        # The run's cgroup is gone once its processes are.
        assert not list(caps.cgroup_base.glob(f"tta-gates-{os.getpid()}-*"))


async def test_limits_are_in_place(workspace: Path) -> None:
    body = (
        "import resource\n\n\n"
        "def test_limits():\n"
        "    assert resource.getrlimit(resource.RLIMIT_AS)[0] == 700 * 1024 * 1024\n"
        "    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == 5 * 1024 * 1024\n"
        "    assert 0 < resource.getrlimit(resource.RLIMIT_CPU)[0] <= 62\n"
    )
    result = one(
        await run(
            workspace,
            MODULE,
            enabled=["tests"],
            extra=_test_file(body),
            memory_mb=700,
            max_file_mb=5,
        ),
        "tests",
    )
    assert result.passed, result.message


async def test_no_network_but_loopback_works(workspace: Path, caps: sandbox.Capabilities) -> None:
    if not caps.new_net:
        pytest.skip("network namespaces are not permitted here: gates can reach the network")
    body = (
        "import socket\n\nimport pytest\n\n\n"
        "def test_no_route_out():\n"
        "    assert {name for _, name in socket.if_nameindex()} == {'lo'}\n"
        "    with pytest.raises(OSError):\n"
        "        socket.create_connection(('1.1.1.1', 53), timeout=2)\n\n\n"
        "def test_loopback():\n"
        "    server = socket.create_server(('127.0.0.1', 0))\n"
        "    client = socket.create_connection(server.getsockname(), timeout=2)\n"
        "    client.close()\n"
        "    server.close()\n"
    )
    results = await run(workspace, MODULE, enabled=["tests"], extra=_test_file(body))
    result = one(results, "tests")
    assert result.passed, result.message
    assert result.sandbox is not None and result.sandbox.network_isolated


async def test_allow_network_keeps_the_host_network(
    workspace: Path, caps: sandbox.Capabilities
) -> None:
    if not caps.new_net:
        pytest.skip("network namespaces are not permitted here")
    gate = {
        "name": "ifaces",
        "command": f"{sys.executable} -c 'import socket; print(sorted(n for _, n in socket.if_nameindex()))'",
    }
    shut = one(await run(workspace, MODULE, enabled=["ifaces"], commands=[gate]), "ifaces")
    open_ = one(
        await run(workspace, MODULE, enabled=["ifaces"], commands=[gate], allow_network=True),
        "ifaces",
    )
    assert shut.output.strip() == "['lo']"
    assert open_.sandbox is not None and not open_.sandbox.network_isolated
    host = sorted(name for _, name in __import__("socket").if_nameindex())
    assert open_.output.strip() == str(host)


async def test_output_is_truncated_head_and_tail(workspace: Path) -> None:
    gate = {"name": "noisy", "command": "echo FIRST; seq 1 200000; echo LAST; exit 3"}
    result = one(
        await run(workspace, MODULE, enabled=["noisy"], commands=[gate], output_limit_bytes=4000),
        "noisy",
    )
    assert not result.passed
    assert len(result.output) < 5000
    assert result.output.startswith("FIRST") and result.output.rstrip().endswith("LAST")
    assert "bytes cut" in result.output


@pytest.mark.parametrize("delay", [0.0, 0.02, None])
async def test_cancelling_a_run_kills_its_processes_and_removes_its_copy(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delay: float | None
) -> None:
    """Cancelled while starting (delay 0, 0.02 s) or while running (None: once it runs)."""
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    marker = f"tta-gates-marker-{os.getpid()}-cancel"
    gate = {"name": "busy", "command": f"sh -c 'sleep 300; : {marker}' & sleep 300"}
    await sandbox.capabilities()  # probed beforehand, so the delays land on the gate itself
    task = asyncio.create_task(run(workspace, MODULE, enabled=["busy"], commands=[gate]))
    if delay is None:
        await until(lambda: _alive_with_marker(marker), "the gate running", interval=0.05)
    else:
        await asyncio.sleep(delay)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, HANG_GUARD_S)  # a run that ignores the cancel hangs here
    await asyncio.sleep(0.2)  # a child started just before the kill needs a moment to show
    assert _alive_with_marker(marker) == []
    assert os.listdir(scratch) == []


async def test_tests_can_use_tmp_path_and_relative_files(workspace: Path) -> None:
    body = (
        "from pathlib import Path\n\n\n"
        "def test_scratch(tmp_path):\n"
        "    (tmp_path / 'f.txt').write_text('ok')\n"
        "    Path('relative.txt').write_text('ok')\n"
        "    assert (tmp_path / 'f.txt').read_text() == 'ok'\n"
    )
    result = one(await run(workspace, MODULE, enabled=["tests"], extra=_test_file(body)), "tests")
    assert result.passed, result.message
