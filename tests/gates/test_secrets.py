"""Secrets and gates: hidden inside the gate's mount namespace, redacted out of its output.

Real gate processes (command gates and pytest) try to read the planted files and print
known secret values; the tests assert what the gate could see and what its result says.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gates.conftest import MODULE, one, run, snapshot
from tta_codegen.gates import sandbox, secrets
from tta_codegen.redact import KnownSecrets, encoded_forms, redact

KEY = "sk-proj-GATEplanted0123456789abcdefghijklmn"
TOKEN = "tok-gate-PLANTED-0c9d8e7f6a"


@pytest.fixture
def secret_ws(tmp_path: Path) -> Iterator[Path]:
    """mod.py beside planted secret files; asserts that no gate changed anything."""
    ws = tmp_path / "secret-ws"
    ws.mkdir()
    (ws / "mod.py").write_text(MODULE)
    plant_workspace(ws)
    before = snapshot(ws)
    yield ws
    assert snapshot(ws) == before, "a gate changed the workspace"


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with credentials; returns it."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"ssh {TOKEN}\n")
    (home / ".netrc").write_text(f"machine x login u password {TOKEN}\n")
    monkeypatch.setenv("HOME", str(home))
    return home


def plant_workspace(workspace: Path) -> None:
    (workspace / ".env").write_text(f"OPENAI_API_KEY={KEY}\n")
    (workspace / "secret.txt").write_text(TOKEN + "\n")
    (workspace / ".tta-codegenignore").write_text("secret.txt\n")
    (workspace / "public.txt").write_text("public\n")


def test_scan_lists_secret_files_credential_folders_and_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "node_modules").mkdir()
    plant_workspace(ws)
    (ws / "sub" / ".env.local").write_text("DB_PASSWORD=hunter2hunter2\n")
    (ws / "sub" / "server.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (ws / "node_modules" / ".env").write_text("X=1\n")
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = abcdefghijklmnop\n")
    monkeypatch.setenv("HOME", str(home))
    data = tmp_path / "data"
    (data / "tta-codegen").mkdir(parents=True)
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("SOME_TOKEN", "env-secret-value-123")

    found = secrets.scan(ws)

    assert {f for f in found.files if f.startswith(str(ws))} == {
        str(ws / ".env"),
        str(ws / "secret.txt"),
        str(ws / "sub" / ".env.local"),
        str(ws / "sub" / "server.pem"),
    }
    assert str(home / ".aws") in found.dirs and str(data / "tta-codegen") in found.dirs
    text = f"{KEY} {TOKEN} hunter2hunter2 abcdefghijklmnop env-secret-value-123 public"
    assert found.known.redact(text).split() == ["[REDACTED", "secret]"] * 5 + ["public"]


def test_known_secrets_are_redacted_plain_and_base64_at_any_alignment() -> None:
    known = KnownSecrets.of([TOKEN])
    for prefix in ("", "a", "ab", "abc"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(f"{prefix}LEAK:{TOKEN}!".encode()).decode()
            assert not any(form in known.redact(encoded) for form in encoded_forms(TOKEN))
    assert known.redact(f"x{TOKEN}y") == "x[REDACTED secret]y"
    assert KnownSecrets.of(["short"]).redact("short") == "short"  # too short to redact
    assert redact(f"key {KEY}", known) == "key [REDACTED api-key]"


async def test_gate_processes_cannot_read_secret_files_or_credential_folders(
    secret_ws: Path, planted: Path
) -> None:
    caps = await sandbox.capabilities()
    if not caps.hides_secrets:
        pytest.skip(f"no mount namespace on this machine: {'; '.join(caps.notes)}")
    workspace = secret_ws
    command = (
        f"cat {workspace}/.env {workspace}/secret.txt {planted}/.netrc; "
        f"ls -A {planted}/.ssh; cat {workspace}/public.txt; exit 1"
    )
    gate = {"name": "snoop", "command": command}
    result = one(await run(workspace, MODULE, enabled=["snoop"], commands=[gate]), "snoop")
    assert "public" in result.output  # the gate ran and could read a normal file
    assert "id_rsa" not in result.output
    for secret in (KEY, TOKEN, "[REDACTED"):
        assert secret not in result.output  # nothing to redact: nothing was readable
    # The files themselves are untouched (the fixture checks them byte for byte).
    assert (workspace / ".env").read_text() == f"OPENAI_API_KEY={KEY}\n"


async def test_gate_output_is_redacted_before_anyone_sees_it(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", TOKEN)
    b64 = base64.b64encode(f"LEAK:{TOKEN}".encode()).decode()
    # The gate cannot read the variable (scrubbed environment): the command holds the value,
    # as code that found it elsewhere would.
    gate = {"name": "leak", "command": f"echo {TOKEN}; echo {b64}; echo {KEY}; exit 1"}
    result = one(await run(workspace, MODULE, enabled=["leak"], commands=[gate]), "leak")
    assert not result.passed
    texts = [result.message or "", result.output, *(d.message for d in result.diagnostics)]
    for text in texts:
        assert TOKEN not in text and KEY not in text
        assert not any(form in text for form in encoded_forms(TOKEN))
    assert "[REDACTED secret]" in (result.message or "")
    assert "[REDACTED api-key]" in (result.message or "")


async def test_gate_messages_are_capped(workspace: Path) -> None:
    # Ten failures with long messages: the tests gate's own summary is far over the cap.
    body = "".join(f"def test_{i}():\n    assert False, 'y' * 3000\n\n" for i in range(10))
    extra = {"tests/test_loud.py": body}
    result = one(await run(workspace, MODULE, enabled=["tests"], extra=extra), "tests")
    assert not result.passed
    assert result.message is not None and len(result.message) < 6200
    assert "characters cut" in result.message
    assert result.message.startswith("10 of 10 test(s) failed")


async def test_without_namespaces_generated_code_does_not_run_unless_allowed(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bare = sandbox.Capabilities(False, False, False, None, ("no namespaces (test)",))
    monkeypatch.setattr(sandbox, "_caps", bare)
    marker = tmp_path / "ran"
    gate = {"name": "touch", "command": f"touch {marker}"}
    test = f"def test_touch():\n    open({str(marker)!r}, 'w').close()\n"
    extra = {"tests/test_touch.py": test}

    results = await run(workspace, MODULE, enabled=["tests", "touch"], commands=[gate], extra=extra)
    for name in ("tests", "touch"):
        result = one(results, name)
        assert result.passed and result.skipped
        assert "generated code was not run" in (result.message or "")
        assert "no namespaces (test)" in (result.message or "")
        assert "allow_unsandboxed = true" in (result.message or "")
    assert not marker.exists()

    results = await run(
        workspace,
        MODULE,
        enabled=["tests", "touch"],
        commands=[gate],
        extra=extra,
        allow_unsandboxed=True,
    )
    assert all(r.passed and not r.skipped for r in results), results
    assert marker.exists()


async def test_the_probe_honours_the_no_namespaces_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(sandbox.NO_NAMESPACES_ENV, "1")
    caps = await sandbox._probe()
    assert not caps.hides_secrets and not caps.new_net
    assert any(sandbox.NO_NAMESPACES_ENV in note for note in caps.notes)
