"""The zero-key default: the shipped model is configured only when nothing else is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tta_codegen.config import Config, load_config
from tta_codegen.models.embedded import (
    EMBEDDED_MODEL_ID,
    embedded_default_layer,
    shipped_model_path,
)


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))


def test_the_shipped_model_is_found_and_is_gguf() -> None:
    path = shipped_model_path()
    assert path is not None and path.name.endswith(".gguf")
    assert path.read_bytes()[:4] == b"GGUF"


def test_default_layer_is_valid_config() -> None:
    config = Config.model_validate(embedded_default_layer())
    (model,) = config.models
    assert model.free and model.quality_for("code_generation") is not None
    assert config.providers[model.provider].kind == "llamacpp"


def test_no_config_at_all_gives_the_embedded_model(tmp_path: Path) -> None:
    loaded = load_config(tmp_path, environ={})
    assert loaded.ok, loaded.issues
    assert [m.id for m in loaded.config.models] == [EMBEDDED_MODEL_ID]
    assert "embedded default" in loaded.sources


def test_configured_models_replace_the_default(tmp_path: Path) -> None:
    (tmp_path / "tta-codegen.toml").write_text(
        '[providers.p]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[[models]]\nid = "mine"\nprovider = "p"\n'
    )
    loaded = load_config(tmp_path, environ={})
    assert [m.id for m in loaded.config.models] == ["mine"]
    assert "embedded default" not in loaded.sources


def test_a_broken_models_entry_is_reported_not_silently_replaced(tmp_path: Path) -> None:
    (tmp_path / "tta-codegen.toml").write_text('[[models]]\nid = "mine"\nprovder = "typo"\n')
    loaded = load_config(tmp_path, environ={})
    assert not loaded.ok and any(i.key.startswith("models") for i in loaded.issues)
    assert loaded.config.models == []


def test_an_unreadable_config_file_does_not_fall_back(tmp_path: Path) -> None:
    (tmp_path / "tta-codegen.toml").write_text("[[models]\nid = 'x'")
    loaded = load_config(tmp_path, environ={})
    assert not loaded.ok and loaded.config.models == []


def test_user_settings_for_the_embedded_provider_apply(tmp_path: Path) -> None:
    (tmp_path / "tta-codegen.toml").write_text(
        "[providers.embedded]\nn_threads = 1\nn_ctx = 2048\n"
    )
    loaded = load_config(tmp_path, environ={})
    assert loaded.ok, loaded.issues
    provider = loaded.config.providers["embedded"]
    assert (provider.kind, provider.n_threads, provider.n_ctx) == ("llamacpp", 1, 2048)
    assert [m.id for m in loaded.config.models] == [EMBEDDED_MODEL_ID]


def test_the_default_keeps_the_context_small_unless_the_user_says_otherwise(
    tmp_path: Path,
) -> None:
    assert load_config(tmp_path, environ={}).config.context.max_tokens == 1024
    (tmp_path / "tta-codegen.toml").write_text("[context]\nmax_tokens = 3000\n")
    loaded = load_config(tmp_path, environ={})
    assert [m.id for m in loaded.config.models] == [EMBEDDED_MODEL_ID]
    assert loaded.config.context.max_tokens == 3000
