"""Issue 19, items 12-17: the CLI's conventions, through the installed command.

Every failure is one ``tta-codegen:`` line on stderr with the documented exit code;
the README's main command can be run twice; ``stats`` names its ledger and keeps its
columns.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import RunCli, cli_env, fake_config, run_in_terminal
from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S

REPO = Path(__file__).resolve().parents[2]
CODE = "def add(a, b):\n    return a + b\n"
REPLY = Reply.text(f"```python\n{CODE}```\n")
# What the README's command asks for ("a function is_prime(n) ..."): the definition gate
# checks that the reply defines it.
PRIME = "def is_prime(n):\n    if n < 2:\n        return False\n    return all(n % d for d in range(2, n))\n"


def use_fake(ws: Path, fake: FakeProvider) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    fake.add(REPLY)


def assert_one_line(stderr: str) -> None:
    assert stderr.startswith("tta-codegen: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Usage:" not in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["generate", "add", "--file", "mod.py", "--line", "0"],
        ["generate", "add", "--var", "x"],
        ["generate", "add", "--out", "new.py", "--diff", "--yes"],
        ["generate", ""],
        ["generate", "add", "--file", "."],
        ["generate", "add", "--no-such-flag"],
        ["no-such-command"],
    ],
    ids=["line-0", "var", "diff-yes", "empty", "dir", "flag", "command"],
)
async def test_usage_errors_are_one_line_with_a_help_pointer(
    ws: Path, fake: FakeProvider, cli: RunCli, args: list[str]
) -> None:
    use_fake(ws, fake)
    (ws / "mod.py").write_text("x = 1\n")
    r = await cli(*args)
    assert r.code == 2, r.stderr
    assert_one_line(r.stderr)
    assert "--help)" in r.stderr
    assert (ws / "mod.py").read_text() == "x = 1\n" and not (ws / "new.py").exists()


async def test_help_and_version_still_exit_0(ws: Path, cli: RunCli) -> None:
    r = await cli("generate", "--help")
    assert r.code == 0 and "Usage:" in r.stdout
    r = await cli("--version")
    assert r.code == 0 and "tta-codegen" in r.stdout


async def test_ctrl_c_at_the_write_prompt_exits_130_and_writes_nothing(
    ws: Path, fake: FakeProvider, tmp_path: Path
) -> None:
    use_fake(ws, fake)
    (ws / "mod.py").write_text("import os\n")
    env = cli_env(tmp_path / "home")
    args = ["generate", "add", "--file", "mod.py", "--no-context", "--trust-workspace"]
    code, screen = await asyncio.to_thread(run_in_terminal, args, ws, env, None)
    assert "Write mod.py?" in screen
    assert code == 130, screen
    assert "Aborted!" not in screen
    assert "tta-codegen: interrupted; nothing was written" in screen
    assert (ws / "mod.py").read_text() == "import os\n"


async def test_template_errors_point_at_the_cli(ws: Path, fake: FakeProvider, cli: RunCli) -> None:
    use_fake(ws, fake)
    r = await cli("generate", "add", "--template", "nope")
    assert r.code == 2
    assert r.stderr.strip().splitlines()[-1] == (
        "tta-codegen: unknown template 'nope' (see tta-codegen prompts list)"
    )
    r = await cli("generate", "tidy it", "--template", "refine")
    assert r.code == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("tta-codegen: template 'refine' rewrites a selection"), last
    assert "tta-codegen refine --file" in last
    assert "tta." not in r.stderr and "code action" not in r.stderr
    assert "generation failed" not in r.stderr


async def test_serve_tcp_bad_port_and_port_in_use_are_one_line(ws: Path, cli: RunCli) -> None:
    r = await cli("serve", "--tcp", "127.0.0.1:99999")
    assert r.code == 2
    assert_one_line(r.stderr)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = await cli("serve", "--tcp", f"127.0.0.1:{port}")
    assert r.code == 1, r.stderr
    assert_one_line(r.stderr)
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr


def readme_command() -> list[str]:
    """The README's main command: the ``tta-codegen generate`` after the bootstrap."""
    readme = (REPO / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if ln.startswith("bash scripts/bootstrap.sh")]
    words = shlex.split(line.split("&&", 1)[1])
    assert words[0].endswith("tta-codegen") and words[1] == "generate"
    return words[1:]


async def test_the_readme_command_can_be_run_twice(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url))
    fake.add(Reply.text(f"```python\n{PRIME}```\n"))
    args = readme_command()
    for _ in range(2):
        r = await cli(*args)
        assert r.code == 0, r.stderr
    out = Path(args[args.index("--out") + 1])
    assert (ws / out).read_text() == PRIME


async def test_stats_text_names_the_ledger_and_keeps_columns(
    ws: Path, cli: RunCli, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "home")
    long_id = "meta-llama/llama-3.3-70b-instruct:free-with-a-very-long-suffix"
    record = (
        "import asyncio, time\n"
        "from tta_codegen.models.ledger import CostLedger, LedgerRow\n"
        "async def main():\n"
        "    ledger = CostLedger()\n"
        f"    for model in ('m1', {long_id!r}):\n"
        "        await ledger.record(LedgerRow(time.time(), model, 'p', 'code_generation',"
        " 10, 4, 0.01, 'priced', 1.0, 0.2, 'ok', None))\n"
        "    print(ledger.path)\n"
        "asyncio.run(main())\n"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", record],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=HANG_GUARD_S,  # a hang guard only: the script records two rows
    )
    ledger_path = done.stdout.strip()
    r = await cli("stats")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert f"ledger: {ledger_path}" in lines
    header = lines[0]
    rows = [ln for ln in lines if ln.startswith(("m1 ", long_id))]
    assert len(rows) == 2
    # "req" is right-aligned: every row's request count ends where the header's "req" ends.
    req_end = header.index(" req") + len(" req")
    for row in rows:
        assert row[req_end - 2 : req_end + 1] == " 1 ", (header, row)
