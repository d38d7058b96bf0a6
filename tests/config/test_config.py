"""Configuration layers: precedence, validation with file/key/reason, partial recovery."""

from __future__ import annotations

from pathlib import Path

from tta_codegen.config import load_config

GOOD = """
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:8080/v1"
api_key_env = "LOCAL_API_KEY"

[[models]]
id = "code-a"
provider = "local"

[[models]]
id = "code-b"
provider = "local"
input_cost_per_mtok = 1.5

[routing]
default = "code-a"
fallbacks = ["code-b"]

[budget]
daily_usd = 5.0

[agents.openhands]
enabled = false
base_url = "http://127.0.0.1:3000"
api_key_env = "OPENHANDS_API_KEY"

[review]
mode = "lens"
"""


def env(tmp: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp / "cfg")}


def test_contract_minimal_form_is_accepted(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    (tmp_path / "tta-codegen.toml").write_text(GOOD)
    loaded = load_config(tmp_path, environ={}, trusted=True)
    assert loaded.ok, loaded.issues
    cfg = loaded.config
    assert cfg.routing.default == "code-a" and cfg.routing.fallbacks == ["code-b"]
    assert cfg.model("code-b") is not None and cfg.model("code-b").input_cost_per_mtok == 1.5  # type: ignore[union-attr]
    assert cfg.budget.daily_usd == 5.0
    assert cfg.review.mode == "lens"
    assert cfg.providers["local"].api_key_env == "LOCAL_API_KEY"


def test_layers_later_wins(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cfg_home = tmp_path / "cfg"
    (cfg_home / "tta-codegen").mkdir(parents=True)
    (cfg_home / "tta-codegen" / "config.toml").write_text(
        "[budget]\ndaily_usd = 1.0\nmonthly_usd = 9.0\n"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg_home))
    (tmp_path / "pyproject.toml").write_text("[tool.tta-codegen.budget]\ndaily_usd = 2.0\n")
    (tmp_path / "tta-codegen.toml").write_text("[budget]\ndaily_usd = 3.0\n")
    loaded = load_config(
        tmp_path,
        editor_settings=[("initializationOptions", {"budget": {"per_request_usd": 0.5}})],
        environ={"TTA_CODEGEN_BUDGET__DAILY_USD": "4.5"},
    )
    assert loaded.ok, loaded.issues
    b = loaded.config.budget
    assert (b.daily_usd, b.monthly_usd, b.per_request_usd) == (4.5, 9.0, 0.5)


def test_bad_values_are_reported_with_file_key_reason_and_rest_applies(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = tmp_path / "tta-codegen.toml"
    path.write_text(GOOD.replace("daily_usd = 5.0", 'daily_usd = "lots"\nweekly = 3'))
    loaded = load_config(tmp_path, environ={})
    keys = {(i.source, i.key) for i in loaded.issues}
    assert (str(path), "budget.daily_usd") in keys
    assert (str(path), "budget.weekly") in keys
    assert any("unknown key" in i.reason for i in loaded.issues)
    # Everything else in the file still applied.
    assert loaded.config.routing.default == "code-a"
    assert "budget.daily_usd" in loaded.error_message() and str(path) in loaded.error_message()


def test_broken_toml_and_dangling_references(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    (tmp_path / "tta-codegen.toml").write_text("[routing\ndefault = 1")
    loaded = load_config(tmp_path, environ={})
    assert any("not valid TOML" in i.reason for i in loaded.issues)
    loaded = load_config(
        tmp_path / "nowhere",
        editor_settings=[
            (
                "initializationOptions",
                {"routing": {"default": "ghost"}, "models": [{"id": "m", "provider": "nope"}]},
            )
        ],
        environ={},
    )
    reasons = " ".join(str(i) for i in loaded.issues)
    assert "no model with id 'ghost'" in reasons and "unknown provider 'nope'" in reasons


def test_a_pasted_key_is_refused_in_api_key_env(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    loaded = load_config(
        None,
        editor_settings=[
            (
                "initializationOptions",
                {
                    "providers": {
                        "x": {
                            "base_url": "http://127.0.0.1:1/v1",
                            "api_key_env": "sk-live-abcdef0123456789",
                        }
                    }
                },
            )
        ],
        environ={},
    )
    assert any(i.key == "providers.x.api_key_env" for i in loaded.issues)
    assert "sk-live-abcdef0123456789" not in loaded.error_message()
