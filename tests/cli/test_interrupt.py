"""Ctrl-C ends a CLI run even when the run swallows a cancellation (cli/_interrupt.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.guards import HANG_GUARD_S

STUBBORN = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from tta_codegen.cli import _interrupt

    async def stubborn():
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, os.kill, os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            print("swallowed", flush=True)  # as Python 3.11's wait_for can
        await asyncio.sleep(3600)  # a model stream that never ends

    try:
        _interrupt.run(stubborn())
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    """
)


def test_ctrl_c_ends_a_run_that_swallowed_the_first_cancellation() -> None:
    # With plain asyncio.run this hangs: its one cancel() is swallowed and the run goes on.
    proc = subprocess.run(
        [sys.executable, "-c", STUBBORN],
        capture_output=True, text=True, timeout=HANG_GUARD_S,  # a hang guard only
    )  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert proc.stdout.split() == ["swallowed", "interrupted"]


def test_a_run_that_ends_normally_returns_its_value() -> None:
    script = (
        "import asyncio\nfrom tta_codegen.cli import _interrupt\n"
        "async def f():\n    await asyncio.sleep(0)\n    return 42\n"
        "print(_interrupt.run(f()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=HANG_GUARD_S,  # a hang guard only
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "42", proc.stderr
