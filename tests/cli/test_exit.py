"""How a one-shot command's process ends (``cli.app.exit_now``, issue 18).

After ``generate`` and friends the process skips the interpreter's teardown: these tests
check that nothing a normal exit does for the user is lost on the way (the exit code,
flushed output, the ledger's rows, ``atexit`` handlers, another thread's work) and that
the normal exit still runs where skipping could lose something.
"""

from __future__ import annotations

import importlib
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import RunCli, fake_config
from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S

# By module path: the package re-exports the click group under the same name `app`.
app_module = importlib.import_module("tta_codegen.cli.app")

CODE = "def perimeter(w, h):\n    return 2 * (w + h)\n"
ORIGINAL = '"""Shapes."""\n\n\ndef area(w, h):\n    return w * h\n'


async def test_generate_file_keeps_its_output_its_ledger_rows_and_exit_code(
    ws: Path, tmp_path: Path, fake: FakeProvider, cli: RunCli
) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    (ws / "m.py").write_text(ORIGINAL)
    fake.add(Reply.text(f"```python\n{CODE}```\n"))
    r = await cli("generate", "add perimeter(w, h)", "--file", "m.py", "--yes", "--json")
    assert r.code == 0, r.stderr
    answer = json.loads(r.stdout)  # the whole answer reached the pipe
    assert answer["status"] == "completed"
    assert (ws / "m.py").read_text() == ORIGINAL + "\n\n" + CODE
    ledger = tmp_path / "home" / ".local" / "share" / "tta-codegen" / "ledger.sqlite3"
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT model FROM requests").fetchall() == [("fake-a",)]
        assert db.execute("SELECT outcome FROM outcomes").fetchall() == [("accepted",)]


async def test_gates_failed_keeps_exit_code_3_and_prints_the_code(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    (ws / "m.py").write_text(ORIGINAL)
    broken = "def perimeter(w, h):\n    return 2 * (w +\n"
    fake.add(Reply.text(f"```python\n{broken}```\n"))
    r = await cli("generate", "add perimeter(w, h)", "--file", "m.py", "--yes", "--no-refine")
    assert r.code == 3, r.stderr
    assert broken in r.stdout
    assert r.stderr.rstrip().endswith("the code is in the output")
    assert (ws / "m.py").read_text() == ORIGINAL


def _exit_in_child(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``body`` then ``exit_now`` as after a ``generate`` run, in a fresh interpreter."""
    script = textwrap.dedent(
        """
        import atexit, importlib, pathlib, sys, threading, time
        app_module = importlib.import_module("tta_codegen.cli.app")
        out = pathlib.Path(sys.argv[1])
        app_module.LazyGroup.ran = "generate"
        """
    ) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,  # a bare interpreter start and exit
    )


def test_exit_now_runs_atexit_handlers_flushes_and_keeps_the_code(tmp_path: Path) -> None:
    done = _exit_in_child(
        """
        atexit.register(lambda: out.write_text("handler ran"))
        sys.stdout.write("buffered, no newline")
        app_module.exit_now(SystemExit(3))
        """,
        tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == "buffered, no newline"
    assert (tmp_path / "out").read_text() == "handler ran"


def test_exit_now_waits_for_a_live_thread_as_a_normal_exit_does(tmp_path: Path) -> None:
    done = _exit_in_child(
        """
        def late() -> None:
            time.sleep(0.3)
            out.write_text("thread finished")
        threading.Thread(target=late).start()
        app_module.exit_now(SystemExit(0))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "thread finished"


@pytest.mark.parametrize(("ran", "code"), [("serve", 0), ("generate", "a message")])
def test_exit_now_leaves_serve_and_message_exits_to_the_interpreter(
    ran: str, code: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module.LazyGroup, "ran", ran)
    with pytest.raises(SystemExit) as raised:
        app_module.exit_now(SystemExit(code))
    assert raised.value.code == code
