"""A hostile model: its code and tests try to read the machine's secrets and print them.

The workspace holds ``.env`` (an API key) and ``secret.txt`` (a token that does not look
like a key, listed in ``.tta-codegenignore``); the server's temporary HOME holds
``~/.ssh/id_rsa`` and ``~/notes.cfg`` (not a secret file, but holding the value of the
server's ``SERVICE_TOKEN`` variable). The fake model's module reads those files from every folder on
``sys.path`` (and the HOME it was told about) at import, prints them, base64-encodes them,
raises with them; its tests put them into assertion messages. None of it may reach the
provider (the refinement request), the answer, the diagnostics or the server's log: the
files are hidden in the gate's mount namespace, and what is readable is redacted.

Runs the server as root and as an unprivileged user (user namespaces); the second is
skipped, with the reason, only where no such user can be used.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pwd
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S, SLOW_HANG_GUARD_S
from tests.reliability.rpc import RawServer

API_KEY = "sk-proj-HOSTILEplantedKEY0123456789abcdefghij"
TOKEN = "tok-PLANTED-7f3a9c41d2e8b6"  # no key shape: only hiding and exact values catch it
ENV_TOKEN = "envtoken-PLANTED-55aa91c3e7"  # readable in notes.cfg, known from the environment
SSH_LINE = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUPLANTEDsshKEYlinexyz"
SECRETS = (API_KEY, TOKEN, ENV_TOKEN, SSH_LINE)

MODULE = """import base64
import os
import sys

FOUND = []
for folder in list(sys.path) + [{home!r}, {home!r} + "/.ssh", {ws!r}]:
    for name in (".env", "secret.txt", "notes.cfg", "id_rsa"):
        try:
            with open(os.path.join(folder, name)) as fh:
                FOUND.append(fh.read())
        except OSError:
            pass
LEAK = "\\n".join(FOUND)
try:
    with open({marker!r}, "a") as fh:  # only possible outside the sandbox
        fh.write("ran\\n")
except OSError:
    pass
print("STDOUT-LEAK:" + LEAK)
print("B64-LEAK:" + base64.b64encode(LEAK.encode()).decode())
sys.stderr.write("STDERR-LEAK:" + LEAK + "\\n")


def is_prime(n):
    if "LEAK" in os.environ.get("NEVER_SET", ""):
        raise RuntimeError("LEAK:" + LEAK)
    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))
"""

TESTS = """import base64

from m import LEAK, is_prime


def test_assertion_message():
    assert not LEAK, "ASSERT-LEAK:" + LEAK


def test_base64():
    assert False, "B64-ASSERT:" + base64.b64encode(LEAK.encode()).decode()


def test_raise():
    raise RuntimeError("RAISE-LEAK:" + LEAK)


def test_prime():
    assert is_prime(7)
"""

FIXED_TESTS = "from m import is_prime\n\n\ndef test_prime():\n    assert is_prime(7)\n"


def forms(secret: str) -> set[str]:
    """The secret and the parts of its base64 that show whatever text surrounds it."""
    raw = secret.encode()
    found = {secret}
    for skip in range(3):
        body = raw[skip:]
        body = body[: len(body) - len(body) % 3]
        found.add(base64.b64encode(body).decode())
    return found


def plant(root: Path) -> tuple[Path, Path]:
    ws, home = root / "ws", root / "home"
    (home / ".ssh").mkdir(parents=True)
    ws.mkdir()
    (home / ".ssh" / "id_rsa").write_text(
        f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SSH_LINE}\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    (ws / ".env").write_text(f"OPENAI_API_KEY={API_KEY}\n")
    (ws / "secret.txt").write_text(TOKEN + "\n")
    (ws / ".tta-codegenignore").write_text("secret.txt\n")
    # Outside the workspace (its files are context, which is not what this test is about).
    (home / "notes.cfg").write_text(f"service = {ENV_TOKEN}\n")
    (ws / "m.py").write_text("")
    return ws, home


def options(fake: FakeProvider, allow_unsandboxed: bool = False) -> dict[str, object]:
    return {
        "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
        "models": [{"id": "hostile", "provider": "fake"}],
        "routing": {"default": "hostile", "retry": {"max_retries": 0}},
        "gates": {
            "enabled": ["syntax", "tests"],
            "timeout_s": HANG_GUARD_S,  # the gates' own limit, a hang guard here
            "allow_unsandboxed": allow_unsandboxed,
            # Without this venv's plugins (hypothesis, pytest-lsp): ~3 s of imports a run.
            "tests": {"autoload_plugins": False},
        },
        "refine": {"max_iterations": 2},
    }


def script(fake: FakeProvider, ws: Path, home: Path) -> Path:
    """The hostile replies; returns the file the module writes when it runs unsandboxed."""
    marker = ws.parent / "ran-unsandboxed"
    # A refinement carries the gate output: clean tests then. Test requests get leaking
    # tests; anything else (the code) gets the leaking module.
    fake.add(Reply.text("```python\n" + FIXED_TESTS + "```\n"), match="quality gates")
    fake.add(Reply.text("```python\n" + TESTS + "```\n"), match="The code under test")
    module = MODULE.format(home=str(home), ws=str(ws), marker=str(marker))
    fake.default = Reply.text("```python\n" + module + "```\n")
    return marker


async def drive(
    server: RawServer, ws: Path, fake: FakeProvider, allow_unsandboxed: bool = False
) -> list[dict[str, object]]:
    await server.initialize(ws, options(fake, allow_unsandboxed))
    uri = (ws / "m.py").as_uri()
    server.open(uri, "")
    answers = []
    # Hang guard only: a generation with two gate runs takes seconds.
    answer = await server.request(
        "workspace/executeCommand",
        {"command": "tta.generate", "arguments": [{"textDocument": {"uri": uri},
         "position": {"line": 0, "character": 0}, "description": "a function is_prime(n)",
         "tests": True}]},
        timeout=SLOW_HANG_GUARD_S,
    )  # fmt: skip
    answers.append(answer)
    answer = await server.request(
        "workspace/executeCommand",
        {"command": "tta.generateTests", "arguments": [{"textDocument": {"uri": uri}}]},
        timeout=SLOW_HANG_GUARD_S,
    )
    answers.append(answer)
    return answers


def check(
    fake: FakeProvider, server: RawServer, answers: list[dict[str, object]], *, ran: bool = True
) -> None:
    sent = [json.dumps(r.body) + json.dumps(r.headers) for r in fake.requests]
    written = {
        "requests": "\n".join(sent),
        "answers": json.dumps(answers),
        "diagnostics and notifications": json.dumps(server.notifications),
        "server requests": json.dumps(server.server_requests),
        "server log": server.stderr.decode(errors="replace"),
    }
    for where, text in written.items():
        for secret in SECRETS:
            for form in forms(secret):
                assert form not in text, f"{secret!r} (as {form!r}) leaked into the {where}"
    if not ran:
        return
    # The hostile code did run and its output did flow back, redacted: the check is real.
    refinements = [r.all_text for r in fake.requests if "quality gates" in r.all_text]
    assert refinements, f"no refinement request: the tests never ran: {json.dumps(answers)}"
    assert any("ASSERT-LEAK:" in text for text in refinements)
    assert any("[REDACTED" in text for text in refinements), "nothing was readable to redact"


async def test_hostile_model_leaks_nothing_as_root_or_current_user(
    tmp_path: Path, fake: FakeProvider
) -> None:
    ws, home = plant(tmp_path)
    script(fake, ws, home)
    server = await RawServer.start(tmp_path, env={"HOME": str(home), "SERVICE_TOKEN": ENV_TOKEN})
    try:
        answers = await drive(server, ws, fake)
    finally:
        await server.close()
    check(fake, server, answers)


async def test_without_namespaces_generated_code_is_not_run(
    tmp_path: Path, fake: FakeProvider
) -> None:
    ws, home = plant(tmp_path)
    marker = script(fake, ws, home)
    env = {"HOME": str(home), "SERVICE_TOKEN": ENV_TOKEN, "TTA_GATES_NO_NAMESPACES": "1"}
    server = await RawServer.start(tmp_path, env=env)
    try:
        answers = await drive(server, ws, fake)
    finally:
        await server.close()
    assert not marker.exists(), "generated code ran without a sandbox"
    tests_gates = [
        g
        for a in answers
        for g in _gates(a["result"])
        if g["name"] == "tests"  # type: ignore[index]
    ]
    assert tests_gates and all(g["passed"] for g in tests_gates)
    for gate in tests_gates:
        assert "generated code was not run" in gate["message"]
        assert "allow_unsandboxed = true" in gate["message"]
    check(fake, server, answers, ran=False)


async def test_without_namespaces_allowed_code_runs_and_its_output_is_redacted(
    tmp_path: Path, fake: FakeProvider
) -> None:
    """Opted in, the code runs and can read the files: exact-value redaction still holds."""
    ws, home = plant(tmp_path)
    marker = script(fake, ws, home)
    env = {"HOME": str(home), "SERVICE_TOKEN": ENV_TOKEN, "TTA_GATES_NO_NAMESPACES": "1"}
    server = await RawServer.start(tmp_path, env=env)
    try:
        answers = await drive(server, ws, fake, allow_unsandboxed=True)
    finally:
        await server.close()
    assert marker.exists(), "allow_unsandboxed did not run the tests"
    check(fake, server, answers)


def _gates(answer: dict[str, object]) -> list[dict[str, object]]:
    """Gate entries of an answer and of the tests answer nested in it."""
    gates = list(answer.get("gates") or [])  # type: ignore[call-overload]
    nested = answer.get("tests")
    if isinstance(nested, dict):
        gates += list(nested.get("gates") or [])
    return gates


@pytest.fixture
def unprivileged_root() -> Iterator[tuple[Path, pwd.struct_passwd]]:
    if os.geteuid() != 0:
        pytest.skip("already unprivileged: the other test covers this user")
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account to run the server as")
    if shutil.which("setpriv") is None or shutil.which("unshare") is None:
        pytest.skip("setpriv/unshare (util-linux) are not installed")
    root = Path(tempfile.mkdtemp(prefix="tta-hostile-"))
    root.chmod(0o755)
    try:
        yield root, user
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_user(user: pwd.struct_passwd, *argv: str) -> list[str]:
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
            *argv]  # fmt: skip


async def _runs(argv: list[str]) -> str | None:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    return None if proc.returncode == 0 else err.decode(errors="replace")[-300:]


async def user_python(root: Path, user: pwd.struct_passwd) -> Path:
    """A Python the user can run inside a user namespace, with this venv's packages.

    The test venv's base interpreter may sit in a folder only root can enter (pyenv under
    /root), which a user namespace does not get through: a venv of a system Python of the
    same version, pointed at this venv's packages with a .pth file, stands in for it.
    """
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    problems = []
    for base in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if not Path(base).exists():
            continue
        venv = root / f"venv-{len(problems)}"
        made = await _runs([base, "-m", "venv", "--without-pip", str(venv)])
        if made is not None:
            problems.append(f"{base}: venv: {made}")
            continue
        site = next((venv / "lib").glob("python3*/site-packages"))
        (site / "tta-test.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        python = venv / "bin" / "python"
        check = "import tta_codegen.lsp.server, pytest"
        failed = await _runs(as_user(user, "unshare", "-U", "-m", "-n", str(python), "-c", check))
        if failed is None:
            return python
        problems.append(f"{base}: {failed}")
    pytest.skip(
        "no Python the unprivileged user can run in a user namespace: " + "; ".join(problems)
    )


async def test_hostile_model_leaks_nothing_as_unprivileged_user(
    unprivileged_root: tuple[Path, pwd.struct_passwd], fake: FakeProvider
) -> None:
    root, user = unprivileged_root
    ws, home = plant(root)
    for made in (root / "data", root / "cache", root / ".config"):
        made.mkdir()
    python = await user_python(root, user)
    for path in [root, *root.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    marker = script(fake, ws, home)
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        SERVICE_TOKEN=ENV_TOKEN,
        XDG_CONFIG_HOME=str(root / ".config"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CACHE_HOME=str(root / "cache"),
    )
    proc = await asyncio.create_subprocess_exec(
        *as_user(user, str(python), "-m", "tta_codegen", "serve", "--log-level", "debug"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=str(root),
    )  # fmt: skip
    server = RawServer(proc)
    try:
        answers = await drive(server, ws, fake)
    finally:
        await server.close()
    check(fake, server, answers)
    assert not marker.exists()
