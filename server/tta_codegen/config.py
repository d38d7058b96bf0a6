"""Configuration: one typed object, loaded in exactly one place.

Layers are read in the contract's order (later wins): built-in defaults, the user file,
the workspace file (``tta-codegen.toml`` or ``[tool.tta-codegen]`` in ``pyproject.toml``),
the editor's settings (``initializationOptions`` / ``workspace/configuration``) and the
environment. Each layer is validated on its own first so that an error names the file
and the key that caused it; the bad key is dropped and the rest still applies, so one
typo never takes the whole server down.

This module never reads API keys: a provider names the env var and reads it when it
sends a request.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tta_codegen.agents.settings import OpenHandsSettings
from tta_codegen.context.settings import ContextConfig
from tta_codegen.gates.settings import GatesConfig, RefineConfig
from tta_codegen.models.settings import (
    TASK_TYPES,
    BudgetConfig,
    LedgerConfig,
    ModelConfig,
    OutcomesConfig,
    ProviderConfig,
    RoutingConfig,
    SafetyConfig,
    TaskRouting,
    TaskType,
)
from tta_codegen.prompts.settings import PromptsConfig

__all__ = [
    "TASK_TYPES",
    "BudgetConfig",
    "Config",
    "ConfigIssue",
    "ModelConfig",
    "ProviderConfig",
    "RoutingConfig",
    "TaskRouting",
    "TaskType",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The agent package owns its table (the contract's three keys plus its limits).
OpenHandsConfig = OpenHandsSettings


class AgentsConfig(_Strict):
    openhands: OpenHandsConfig = Field(default_factory=OpenHandsConfig)


class ReviewConfig(_Strict):
    # "lens": the editor keeps generated code as a pending change (Accept/Discard/Diff/
    # Regenerate lenses) until the user decides; "auto": kept at once. The CLI does not
    # read this: it has its own --diff/--yes.
    mode: Literal["lens", "auto"] = "lens"


class GenerationConfig(_Strict):
    max_tokens: int = Field(default=1024, gt=0, le=200_000)
    temperature: float = Field(default=0.2, ge=0, le=2)
    # Cap on the code a single reply may write, so a runaway model cannot flood a document.
    max_output_chars: int = Field(default=200_000, gt=0)
    # Where tta.generateTests writes: <tests_dir>/test_<module>.py under the workspace root.
    tests_dir: str = "tests"


class StreamingConfig(_Strict):
    # Minimum gap between two applyEdits of one generation; text arriving meanwhile is batched.
    flush_interval_ms: int = Field(default=30, ge=0, le=5000)
    # How long to wait for the client's didChange that confirms an edit before resending.
    confirm_timeout_ms: int = Field(default=3000, ge=50, le=60_000)


class Config(_Strict):
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: list[ModelConfig] = Field(default_factory=list)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)
    prompts: PromptsConfig = Field(default_factory=PromptsConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    refine: RefineConfig = Field(default_factory=RefineConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    outcomes: OutcomesConfig = Field(default_factory=OutcomesConfig)

    def model(self, model_id: str) -> ModelConfig | None:
        return next((m for m in self.models if m.id == model_id), None)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in one layer, worded for the user."""

    source: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.reason}"


@dataclass
class ConfigLayer:
    source: str  # a file path or "initializationOptions", "env", ...
    data: dict[str, Any]


@dataclass
class LoadedConfig:
    config: Config
    issues: list[ConfigIssue] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def error_message(self) -> str:
        lines = [str(i) for i in self.issues]
        return "Configuration error: " + "; ".join(lines)


ENV_PREFIX = "TTA_CODEGEN_"


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tta-codegen" / "config.toml"


def _read_toml(path: Path) -> tuple[dict[str, Any] | None, ConfigIssue | None]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh), None
    except FileNotFoundError:
        return None, None
    except tomllib.TOMLDecodeError as exc:
        return None, ConfigIssue(str(path), "(file)", f"not valid TOML: {exc}")
    except OSError as exc:
        return None, ConfigIssue(str(path), "(file)", f"cannot be read: {exc.strerror}")


def file_layers(workspace_root: Path | None) -> tuple[list[ConfigLayer], list[ConfigIssue]]:
    """The user file and the workspace file(s), in precedence order."""
    layers: list[ConfigLayer] = []
    issues: list[ConfigIssue] = []
    candidates: list[tuple[Path, str | None]] = [(user_config_path(), None)]
    if workspace_root is not None:
        candidates.append((workspace_root / "pyproject.toml", "tool.tta-codegen"))
        candidates.append((workspace_root / "tta-codegen.toml", None))
    for path, table in candidates:
        data, issue = _read_toml(path)
        if issue:
            issues.append(issue)
        if data is None:
            continue
        if table is not None:
            section: Any = data
            for part in ("tool", "tta-codegen"):
                section = section.get(part) if isinstance(section, dict) else None
            if section is None:
                continue
            if not isinstance(section, dict):
                issues.append(ConfigIssue(str(path), table, "must be a table"))
                continue
            data = section
        layers.append(ConfigLayer(str(path), data))
    return layers, issues


def env_layer(environ: Mapping[str, str]) -> ConfigLayer | None:
    """``TTA_CODEGEN_ROUTING__DEFAULT=code-a`` style overrides (values may be JSON)."""
    data: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = value
    return ConfigLayer("environment", data) if data else None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _loc_str(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(root)"


def _drop(data: Any, loc: Sequence[int | str]) -> None:
    """Remove the value at ``loc`` (or its nearest removable parent)."""
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and part in node:
            if last:
                del node[part]
                return
            child = node[part]
            if not isinstance(child, dict | list):
                del node[part]
                return
            node = child
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if last or not isinstance(node[part], dict | list):
                node.pop(part)
                return
            # Dropping a whole list entry keeps the indexes of the other errors honest
            # only if we stop here; a partly broken model entry is dropped as a whole.
            node.pop(part)
            return
        else:
            return


def _validate_layer(layer: ConfigLayer) -> tuple[dict[str, Any], list[ConfigIssue]]:
    data = copy.deepcopy(layer.data)
    issues: list[ConfigIssue] = []
    for _ in range(50):  # each pass removes at least one bad key
        try:
            Config.model_validate(data)
            return data, issues
        except ValidationError as exc:
            errors = exc.errors()
            for err in errors:
                loc = [p for p in err["loc"] if not str(p).startswith("function-")]
                reason = err["msg"]
                if err["type"] == "extra_forbidden":
                    reason = "unknown key"
                issues.append(ConfigIssue(layer.source, _loc_str(loc), reason))
            # Remove from the deepest/last location first so list indexes stay valid.
            for err in sorted(errors, key=lambda e: [str(p) for p in e["loc"]], reverse=True):
                _drop(data, list(err["loc"]))
    return {}, issues


def _check_references(config: Config) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    ids = {m.id for m in config.models}
    seen: set[str] = set()
    for i, m in enumerate(config.models):
        if m.id in seen:
            issues.append(ConfigIssue("configuration", f"models[{i}].id", f"duplicate id {m.id!r}"))
        seen.add(m.id)
        if m.provider not in config.providers:
            known = ", ".join(sorted(config.providers)) or "none configured"
            issues.append(
                ConfigIssue(
                    "configuration",
                    f"models[{i}].provider",
                    f"unknown provider {m.provider!r} (known: {known})",
                )
            )
    refs: list[tuple[str, str | None]] = [("routing.default", config.routing.default)]
    refs += [(f"routing.fallbacks[{i}]", f) for i, f in enumerate(config.routing.fallbacks)]
    for task, tr in config.routing.tasks.items():
        refs.append((f"routing.tasks.{task}.model", tr.model))
        refs += [
            (f"routing.tasks.{task}.fallbacks[{i}]", f) for i, f in enumerate(tr.fallbacks or [])
        ]
    for key, ref in refs:
        if ref is not None and ref not in ids:
            issues.append(ConfigIssue("configuration", key, f"no model with id {ref!r}"))
    for name, p in config.providers.items():
        if p.kind in ("openai", "anthropic", "ollama") and not p.base_url:
            issues.append(ConfigIssue("configuration", f"providers.{name}.base_url", "is required"))
    return issues


def load_config(
    workspace_root: Path | None = None,
    *,
    editor_settings: Sequence[tuple[str, Mapping[str, Any] | None]] = (),
    environ: Mapping[str, str] | None = None,
    extra_layers: Sequence[ConfigLayer] = (),
) -> LoadedConfig:
    """Read every layer, validate, merge. Never raises for bad user input."""
    layers, issues = file_layers(workspace_root)
    layers.extend(extra_layers)
    for source, data in editor_settings:
        if data is None:
            continue
        if not isinstance(data, Mapping):
            issues.append(ConfigIssue(source, "(root)", "must be an object"))
            continue
        layers.append(ConfigLayer(source, dict(data)))
    env = env_layer(os.environ if environ is None else environ)
    if env is not None:
        layers.append(env)

    merged: dict[str, Any] = {}
    for layer in layers:
        clean, layer_issues = _validate_layer(layer)
        issues.extend(layer_issues)
        merged = _merge(merged, clean)
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:  # pragma: no cover - layers are valid one by one
        issues.append(ConfigIssue("configuration", "(merged)", str(exc)))
        config = Config()
    sources = [layer.source for layer in layers]
    # Zero-key default: with no model configured (and none dropped as broken, which the
    # user must fix rather than silently get another model), use the shipped one.
    if not config.models and not any(i.key.startswith(("models", "(")) for i in issues):
        from tta_codegen.models.embedded import embedded_available, embedded_default_layer

        if embedded_available():
            config = Config.model_validate(_merge(embedded_default_layer(), merged))
            sources.insert(0, "embedded default")
    issues.extend(_check_references(config))
    return LoadedConfig(config, issues, sources)
