"""``tta-codegen doctor``: a real subprocess checking real config files and servers."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli.conftest import RunCli, fake_config
from tests.fakes.provider import FakeProvider

SECRET = "sk-test-SECRET-0123456789abcdef"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


async def test_healthy_setup_passes_and_never_prints_the_key(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url, api_key_env="FAKE_KEY"))
    fake.models = ["fake-a", "fake-model"]  # doctor checks the configured model is listed
    r = await cli("doctor", env={"FAKE_KEY": SECRET})
    assert r.code == 0, r.stdout + r.stderr
    out = r.stdout
    assert "FAKE_KEY is set" in out
    assert f"{fake.base_url}/models: HTTP 200" in out
    assert "tta-codegen.toml" in out and "all good" in out
    assert SECRET not in out + r.stderr
    probe = [q for q in fake.requests if q.path.endswith("/models")]
    assert probe and probe[0].headers.get("authorization") == f"Bearer {SECRET}"


async def test_broken_setup_fails_and_says_what_to_fix(ws: Path, cli: RunCli) -> None:
    port = closed_port()
    (ws / "tta-codegen.toml").write_text(
        fake_config(f"http://127.0.0.1:{port}/v1", api_key_env="MISSING_KEY_FOR_DOCTOR")
        + '\n[providers.local]\nkind = "llamacpp"\nmodel_path = "nowhere/model.gguf"\n'
    )
    r = await cli("doctor", "--timeout", "2")
    assert r.code == 1
    lines = r.stdout.splitlines()

    def block(needle: str) -> str:
        i = next(i for i, ln in enumerate(lines) if needle in ln)
        return "\n".join(lines[i : i + 2])

    assert "MISSING_KEY_FOR_DOCTOR is not set" in block("MISSING_KEY_FOR_DOCTOR")
    assert "fix: export MISSING_KEY_FOR_DOCTOR=" in block("MISSING_KEY_FOR_DOCTOR")
    unreachable = block(f"127.0.0.1:{port}/v1/models")
    assert "connect error" in unreachable and "fix:" in unreachable
    missing = block("model.gguf")
    assert "not found" in missing and "providers.local.model_path" in missing
    assert "3 problem(s)" in r.stdout


async def test_config_issues_are_listed_with_file_key_and_reason(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    (ws / "tta-codegen.toml").write_text(
        fake_config(fake.base_url) + "\n[budget]\ndaily_usd = 'lots'\n"
    )
    r = await cli("doctor")
    assert r.code == 1
    issue = next(ln for ln in r.stdout.splitlines() if "budget.daily_usd" in ln)
    assert str(ws / "tta-codegen.toml") in issue


async def test_a_file_that_is_not_gguf_is_caught(ws: Path, cli: RunCli) -> None:
    (ws / "fake.gguf").write_bytes(b"not a model at all")
    (ws / "tta-codegen.toml").write_text(
        f'[providers.local]\nkind = "llamacpp"\nmodel_path = "{ws / "fake.gguf"}"\n'
        '[[models]]\nid = "m"\nprovider = "local"\n'
    )
    r = await cli("doctor")
    assert r.code == 1
    assert "is not a GGUF file" in r.stdout


async def test_zero_config_uses_the_embedded_model(cli: RunCli) -> None:
    r = await cli("doctor")
    assert r.code == 0, r.stdout
    assert "smollm2-135m-instruct (embedded default)" in r.stdout
    assert "llama-cpp-python" in r.stdout
    assert "SmolLM2-135M-Instruct" in r.stdout and ".gguf" in r.stdout
