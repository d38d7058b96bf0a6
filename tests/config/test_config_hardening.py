"""Issue 19, items 5-6: a bad key costs only itself, and every issue names where it was set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tta_codegen.config import load_config

FAST = """
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:8080/v1"

[[models]]
id = "fast"
provider = "local"
colour = "red"

[[models]]
id = "slow"
provider = "local"

[routing]
default = "fast"
"""


def test_an_unknown_key_in_a_models_entry_drops_the_key_not_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = tmp_path / "tta-codegen.toml"
    path.write_text(FAST)
    loaded = load_config(tmp_path, environ={}, trusted=True)
    assert [str(i) for i in loaded.issues] == [f"{path}: models[0].colour: unknown key"]
    assert [m.id for m in loaded.config.models] == ["fast", "slow"]
    assert loaded.config.routing.default == "fast"


def test_an_entry_missing_a_required_key_is_dropped_and_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = tmp_path / "tta-codegen.toml"
    path.write_text(
        FAST.replace('id = "fast"\n', "").replace('default = "fast"', 'default = "slow"')
    )
    loaded = load_config(tmp_path, environ={}, trusted=True)
    keys = [i.key for i in loaded.issues]
    assert keys.count("models[0].colour") == 1 and keys.count("models[0].id") == 1
    assert [m.id for m in loaded.config.models] == ["slow"]


@pytest.mark.parametrize("where", ["tta-codegen.toml", "pyproject.toml", "user", "env"])
def test_a_dangling_routing_default_names_its_file_or_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    cfg_home = tmp_path / "cfg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg_home))
    base = FAST.replace('colour = "red"\n', "").replace('[routing]\ndefault = "fast"\n', "")
    (tmp_path / "tta-codegen.toml").write_text(base)
    environ: dict[str, str] = {}
    if where == "tta-codegen.toml":
        (tmp_path / "tta-codegen.toml").write_text(base + '[routing]\ndefault = "ghost"\n')
        source = str(tmp_path / "tta-codegen.toml")
    elif where == "pyproject.toml":
        (tmp_path / "pyproject.toml").write_text('[tool.tta-codegen.routing]\ndefault = "ghost"\n')
        source = str(tmp_path / "pyproject.toml")
    elif where == "user":
        (cfg_home / "tta-codegen").mkdir(parents=True)
        (cfg_home / "tta-codegen" / "config.toml").write_text('[routing]\ndefault = "ghost"\n')
        source = str(cfg_home / "tta-codegen" / "config.toml")
    else:
        environ = {"TTA_CODEGEN_ROUTING__DEFAULT": "ghost"}
        source = "environment variable TTA_CODEGEN_ROUTING__DEFAULT"
    loaded = load_config(tmp_path, environ=environ, trusted=True)
    assert [str(i) for i in loaded.issues] == [
        f"{source}: routing.default: no model with id 'ghost'"
    ]


def test_bad_env_values_name_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    loaded = load_config(tmp_path, environ={"TTA_CODEGEN_BUDGET__DAILY_USD": "lots"}, trusted=True)
    (issue,) = loaded.issues
    assert issue.source == "environment variable TTA_CODEGEN_BUDGET__DAILY_USD"
    assert issue.key == "budget.daily_usd"


async def test_through_the_cli_the_entry_stays_and_the_file_is_named(tmp_path: Path) -> None:
    from tests.cli.conftest import cli_env, run_cli

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tta-codegen.toml").write_text(FAST)
    env = cli_env(tmp_path / "home")
    r = await run_cli("doctor", "--timeout", "0.5", cwd=ws, env=env)
    assert "models[0].colour: unknown key" in r.stdout
    assert "✓ models: fast, slow" in r.stdout and "no model is configured" not in r.stdout
    (ws / "tta-codegen.toml").write_text(FAST.replace('colour = "red"\n', "").replace(
        'default = "fast"', 'default = "ghost"'))  # fmt: skip
    r = await run_cli("generate", "x", cwd=ws, env=env)
    assert r.code == 2
    assert f"{ws / 'tta-codegen.toml'}: routing.default: no model with id 'ghost'" in r.stderr
