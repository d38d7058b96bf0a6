"""``tta-codegen generate`` end to end: a real subprocess against the fake provider."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import RunCli, fake_config
from tests.fakes.provider import FakeProvider, Reply
from tests.guards import until

CODE = "def add(a, b):\n    return a + b\n"
REPLY = Reply.text(f"Sure, here it is:\n```python\n{CODE}```\nThis adds two numbers.")


def use_fake(ws: Path, fake: FakeProvider, models: tuple[str, ...] = ("fake-a",)) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url, models))


async def test_code_goes_to_stdout_and_progress_to_stderr(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(REPLY)
    r = await cli("generate", "a function that adds two numbers", "--language", "python")
    assert r.code == 0, r.stderr
    assert r.stdout == CODE  # only the code: no fences, no prose
    assert "fake-a" in r.stderr and "tokens" in r.stderr and "done:" in r.stderr
    sent = fake.requests[-1]
    assert "a function that adds two numbers" in sent.all_text
    assert sent.body["model"] == "fake-a"


async def test_out_writes_a_new_file_and_never_overwrites_without_force(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(REPLY)
    r = await cli("generate", "add two numbers", "--out", "add.py")
    assert r.code == 0, r.stderr
    assert (ws / "add.py").read_text() == CODE
    assert r.stdout == ""
    assert "add.py" in r.stderr

    (ws / "add.py").write_text("# mine\n")
    r = await cli("generate", "add two numbers", "--out", "add.py")
    assert r.code == 2 and "--force" in r.stderr
    assert (ws / "add.py").read_text() == "# mine\n"
    r = await cli("generate", "add two numbers", "--out", "add.py", "--force")
    assert r.code == 0 and (ws / "add.py").read_text() == CODE


@pytest.mark.parametrize(
    ("original", "line", "expected"),
    [
        # PEP 8: two blank lines around a top-level definition, counting those there.
        ("import os\n\nx = 1\n", "2", f"import os\n\n\n{CODE}\n\nx = 1\n"),
        ("import os\n\nx = 1\n", "1", f"{CODE}\n\nimport os\n\nx = 1\n"),
        ("import os\n\nx = 1\n", None, f"import os\n\nx = 1\n\n\n{CODE}"),
        ("import os\n\nx = 1\n", "4", f"import os\n\nx = 1\n\n\n{CODE}"),
        ("x = 1", None, f"x = 1\n\n\n{CODE}"),  # no newline at the end of the file
        ("", None, CODE),
        (
            "a = 1\r\nb = 2\r\n",
            "2",
            "a = 1\r\n\r\n\r\n" + CODE.replace("\n", "\r\n") + "\r\n\r\nb = 2\r\n",
        ),
    ],
)
async def test_file_line_inserts_exactly(
    ws: Path, fake: FakeProvider, cli: RunCli, original: str, line: str | None, expected: str
) -> None:
    use_fake(ws, fake)
    fake.add(REPLY)
    target = ws / "mod.py"
    target.write_bytes(original.encode())
    target.chmod(0o640)
    args = ["generate", "add two numbers", "--file", "mod.py"]
    if line is not None:
        args += ["--line", line]
    r = await cli(*args)
    assert r.code == 0, r.stderr
    assert target.read_bytes() == expected.encode()
    assert target.stat().st_mode & 0o777 == 0o640  # the rewrite kept the permissions
    assert r.stdout == ""
    assert not [p for p in os.listdir(ws) if p.endswith(".tmp")]
    # The model saw the file with the cursor where the code goes.
    assert "<CURSOR>" in fake.requests[-1].all_text


async def test_failed_generation_exits_1_with_one_line_and_leaves_the_file_untouched(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply.text("I am sorry, I cannot write that."))  # prose and no code
    target = ws / "mod.py"
    target.write_text("x = 1\n")
    before = target.stat().st_mtime_ns
    r = await cli("generate", "add two numbers", "--file", "mod.py")
    assert r.code == 1
    assert target.read_text() == "x = 1\n" and target.stat().st_mtime_ns == before
    assert r.stdout == ""
    failure = [ln for ln in r.stderr.splitlines() if "failed" in ln]
    assert len(failure) == 1 and "prose" in failure[0], r.stderr


async def test_provider_error_exits_1_and_names_the_reason(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply(status=400, error={"error": {"message": "model does not exist"}}))
    r = await cli("generate", "add two numbers", "--out", "x.py")
    assert r.code == 1
    assert "model does not exist" in r.stderr
    assert not (ws / "x.py").exists()


async def test_json_answer_follows_the_contract(ws: Path, fake: FakeProvider, cli: RunCli) -> None:
    use_fake(ws, fake, ("fake-a", "fake-b"))
    fake.add(Reply(status=400, error={"error": {"message": "bad model"}}), model="fake-a")
    fake.add(REPLY, model="fake-b")
    r = await cli("generate", "add two numbers", "--json")
    assert r.code == 0, r.stderr
    answer = json.loads(r.stdout)  # stdout holds only the JSON object
    assert set(answer) == {
        "status", "text", "model", "attempts", "usage", "cost_usd", "iterations", "gates"
    }  # fmt: skip
    assert answer["status"] == "completed" and answer["text"] == CODE
    assert answer["model"] == "fake-b"
    assert (
        answer["attempts"][0]["model"] == "fake-a" and "bad model" in answer["attempts"][0]["error"]
    )
    assert answer["attempts"][-1] == {"model": "fake-b"}
    usage = answer["usage"]
    assert set(usage) == {"prompt_tokens", "completion_tokens"}
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert isinstance(answer["cost_usd"], int | float) and isinstance(answer["iterations"], int)
    assert isinstance(answer["gates"], list)

    fake.rules.clear()
    fake.add(Reply.text("no code here"))
    r = await cli("generate", "add two numbers", "--json", "--model", "fake-b")
    assert r.code == 1
    answer = json.loads(r.stdout)
    assert answer["status"] == "failed" and answer["text"] == "" and answer["error"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "x", "--line", "3"], "--line needs --file"),
        (["generate", "x", "--var", "novalue"], "KEY=VALUE"),
        (["generate", "x", "--no-such-flag"], "no-such-flag"),
        (["generate", "x", "--line", "0", "--file", "a.py"], "--line"),
        (["generate", "x", "--file", "a.py", "--out", "b.py"], "not both"),
        (["generate", "x", "--file", "missing.py"], "no such file"),
        (["generate", "x", "--file", "a.py", "--line", "9"], "outside the file"),
        (["generate", "   "], "DESCRIPTION"),
        (["generate"], "DESCRIPTION"),
        (["generate", "x", "--model", "ghost"], "unknown model 'ghost'"),
        (["generate", "x", "--force"], "--force"),
        (["generate", "x", "--var", "a=b"], "--template"),
    ],
)
async def test_bad_usage_exits_2_without_calling_a_model(
    ws: Path, fake: FakeProvider, cli: RunCli, args: list[str], needle: str
) -> None:
    use_fake(ws, fake)
    (ws / "a.py").write_text("a = 1\n")
    r = await cli(*args)
    assert r.code == 2, (r.code, r.stdout, r.stderr)
    assert needle in r.stderr
    assert fake.requests == []
    assert (ws / "a.py").read_text() == "a = 1\n"


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("[routing\ndefault = 1", "not valid TOML"),
        ("[generation]\nmax_tokenz = 5\n", "generation.max_tokenz: unknown key"),
        ("[generation]\ntemperature = 'hot'\n", "generation.temperature"),
    ],
)
async def test_bad_config_exits_2_naming_file_and_key(
    ws: Path, fake: FakeProvider, cli: RunCli, config: str, needle: str
) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url) + config)
    r = await cli("generate", "add two numbers")
    assert r.code == 2
    assert needle in r.stderr and "tta-codegen.toml" in r.stderr
    assert fake.requests == []


async def test_template_and_variables_reach_the_prompt(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(REPLY)
    r = await cli(
        "generate", "list endpoint", "--template", "pagination",
        "--var", "resource=invoices", "--var", "max_limit=25", "--no-refine",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert r.stdout == CODE
    sent = fake.requests[-1].all_text
    assert "invoices" in sent and "25" in sent

    r = await cli("generate", "x", "--template", "no/such-template")
    assert r.code == 2 and "no/such-template" in r.stderr


async def test_file_edited_during_generation_is_not_overwritten(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    edited = asyncio.Event()  # the reply ends only once the file was edited
    fake.add(Reply.text(f"```python\n{CODE}```\n", hold=edited))
    target = ws / "mod.py"
    target.write_text("x = 1\n")
    run = asyncio.create_task(cli("generate", "add", "--file", "mod.py"))
    # The request reached the model: the CLI has read the file.
    await until(lambda: fake.requests, "the CLI's request", interval=0.05)
    target.write_text("x = 2  # edited meanwhile\n")
    edited.set()
    r = await run
    assert r.code == 1 and "changed while generating" in r.stderr
    assert target.read_text() == "x = 2  # edited meanwhile\n"
    # Nothing is lost: the code is printed instead, as it would have gone in (PEP 8 blanks).
    assert r.stdout == "\n\n" + CODE


def _ruff_servers_in(folder: Path) -> list[int]:
    """Pids of ``ruff server`` processes whose working folder is ``folder`` (the warm ruff a
    command in ``folder`` starts; other tests' run elsewhere)."""
    found = []
    here = str(folder.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if argv[0].endswith(b"ruff") and argv[1:2] == [b"server"] and cwd == here:
            found.append(int(entry.name))
    return found


async def test_the_warm_ruff_starts_while_the_model_answers(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    """The ruff gate's server is started when the model is asked, not after its last token:
    here the reply stops half-way until a ruff server of this workspace exists."""
    use_fake(ws, fake)
    answering = asyncio.Event()
    fake.add(Reply(chunks=["```python\n", "def add(a, b):\n"], hold=answering), times=1)
    fake.add(Reply.text("    return a + b\n```\n"))  # the continuation of the cut reply
    target = ws / "mod.py"
    target.write_text("x = 1\n")
    run = asyncio.create_task(cli("generate", "add two numbers", "--file", "mod.py", "--no-refine"))
    try:
        await until(lambda: fake.requests, "the request to the model")
        # The reply is held half-way: the model is still answering.
        await until(lambda: _ruff_servers_in(ws), "a ruff server while the model answers")
    finally:
        answering.set()
        r = await run
    assert r.code == 0, r.stderr
    assert target.read_text() == "x = 1\n\n\n" + CODE
    assert _ruff_servers_in(ws) == []  # ended with the command


async def test_ctrl_c_cancels_and_writes_nothing(ws: Path, fake: FakeProvider, cli: RunCli) -> None:
    use_fake(ws, fake)
    fake.add(Reply(chunks=["```python\n", "def f():\n"], hang=True))
    target = ws / "mod.py"
    target.write_text("x = 1\n")
    r = await cli("generate", "add", "--file", "mod.py", interrupt_when=lambda: bool(fake.requests))
    assert r.code == 130, r.stderr
    assert "cancelled" in r.stderr
    assert target.read_text() == "x = 1\n"


async def test_help_lists_every_option(cli: RunCli) -> None:
    r = await cli("generate", "--help")
    assert r.code == 0
    for flag in (
        "--file",
        "--line",
        "--template",
        "--var",
        "--model",
        "--out",
        "--json",
        "--refine",
    ):
        assert flag in r.stdout


async def test_refine_flag_turns_the_refinement_loop_on_and_off(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply.text("```python\ndef broken(:\n    pass\n```\n"))  # fails the syntax gate
    r = await cli("generate", "a function", "--language", "python", "--no-refine", "--json")
    assert len(fake.requests) == 1
    assert json.loads(r.stdout)["iterations"] == 1

    fake.requests.clear()
    r = await cli("generate", "a function", "--language", "python", "--refine", "--json")
    answer = json.loads(r.stdout)
    assert len(fake.requests) >= 2 and answer["iterations"] >= 2  # it asked again, with the error
    assert any(not g["passed"] for g in answer["gates"])


async def test_file_mode_adds_workspace_context_and_rules(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(REPLY)
    (ws / "AGENTS.md").write_text("Always log with the module logger named `log`.\n")
    (ws / "retry.py").write_text(
        'def retry_with_backoff(fn, attempts=3):\n    """Retry fn with exponential backoff."""\n'
        "    return fn()\n"
    )
    (ws / ".env").write_text("SECRET_TOKEN=sk-live-do-not-send-0123456789abcdef\n")
    (ws / "mod.py").write_text("x = 1\n")
    r = await cli("generate", "call the API with retry and backoff", "--file", "mod.py")
    assert r.code == 0, r.stderr
    sent = fake.requests[-1].all_text
    assert "module logger named `log`" in sent
    assert "retry_with_backoff" in sent
    assert "sk-live-do-not-send" not in sent
    r = await cli("generate", "call the API with retry", "--file", "mod.py", "--no-context")
    assert "module logger" not in fake.requests[-1].all_text
