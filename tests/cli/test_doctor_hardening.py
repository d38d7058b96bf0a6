"""Issue 19, items 7-9: doctor's verdicts are consistent, and it finds a wrong base_url
or model id before a generation does."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import RunCli, fake_config
from tests.fakes.provider import FakeProvider, Reply
from tta_codegen.models.embedded import embedded_available


async def test_malformed_toml_gets_one_verdict_and_fitting_advice(ws: Path, cli: RunCli) -> None:
    (ws / "tta-codegen.toml").write_text("[routing\ndefault = 1\n")
    r = await cli("doctor")
    assert r.code == 1
    assert "not valid TOML" in r.stdout
    assert "no config files found" not in r.stdout
    assert "✓ configuration read" not in r.stdout
    assert "fix the configuration problems above" in r.stdout
    if embedded_available():  # installed here: advising to install it would be wrong
        assert "pip install" not in r.stdout


async def test_base_url_without_v1_fails_with_the_url_and_the_hint(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    fake.require_prefix = "/v1"  # a llama.cpp/vLLM-style server: only /v1/... exists
    root = fake.base_url.removesuffix("/v1")
    (ws / "tta-codegen.toml").write_text(fake_config(root))
    r = await cli("doctor")
    assert r.code == 1, r.stdout
    lines = r.stdout.splitlines()
    i = next(i for i, ln in enumerate(lines) if f"{root}/models" in ln)
    assert "✗" in lines[i] and "404" in lines[i]
    assert "does base_url need /v1?" in lines[i + 1]
    assert "all good" not in r.stdout

    fake.add(Reply.text("```python\nx = 1\n```\n"))
    r = await cli("generate", "x", "--language", "python")
    assert r.code == 1
    assert f"{root}/chat/completions" in r.stderr and "does base_url need /v1?" in r.stderr


async def test_a_model_the_provider_does_not_list_is_a_problem(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    fake.models = ["fake-b", "other"]
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url, ("fake-a", "fake-b")))
    r = await cli("doctor")
    assert r.code == 1, r.stdout
    lines = r.stdout.splitlines()
    i = next(i for i, ln in enumerate(lines) if "model fake-a" in ln)
    assert "✗" in lines[i] and "does not list it" in lines[i]
    assert "fake-b, other" in lines[i + 1]
    assert not any("model fake-b" in ln for ln in lines)
    assert "1 problem(s)" in r.stdout
