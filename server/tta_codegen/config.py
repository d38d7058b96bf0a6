"""Configuration: one typed object, loaded in exactly one place.

Layers are read in the contract's order (later wins): built-in defaults, the user file,
the workspace file (``tta-codegen.toml`` or ``[tool.tta-codegen]`` in ``pyproject.toml``),
the editor's settings (``initializationOptions`` / ``workspace/configuration``) and the
environment. Each layer is validated on its own first so that an error names the file
and the key that caused it; the bad key is dropped and the rest still applies (an unknown
key inside a ``[[models]]`` entry drops that key, not the entry), so one typo never takes
the whole server down. Cross-key problems (``routing.default`` naming no model) name the
file or environment variable that set the key.

This module never reads API keys: a provider names the env var and reads it when it
sends a request. Workspace files are filtered by workspace trust (:mod:`tta_codegen.trust`)
before they are validated: in an untrusted folder the keys that could send a key
somewhere or run a program are dropped, and :attr:`LoadedConfig.ignored` says which.
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

from tta_codegen import trust
from tta_codegen.agents.settings import OpenHandsSettings
from tta_codegen.completion.settings import CompletionConfig
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
    # How many times a reply cut off by the token limit (or an unclosed fence) is continued
    # before the answer says "truncated".
    max_continuations: int = Field(default=2, ge=0, le=10)
    # Where tta.generateTests writes: <tests_dir>/test_<module>.py under the workspace root.
    tests_dir: str = "tests"


class StreamingConfig(_Strict):
    # Optional floor between two applyEdits of one generation. 0 (the default) is
    # latency-first: text is sent the moment no edit is in flight, and whatever arrives
    # while one is in flight goes out, batched, in the next — so the bytes sent stay the
    # reply's own size while no completed line waits on a timer.
    flush_interval_ms: int = Field(default=0, ge=0, le=5000)
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
    completion: CompletionConfig = Field(default_factory=CompletionConfig)
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
    workspace: bool = False  # a file of the workspace: subject to workspace trust


@dataclass
class LoadedConfig:
    config: Config
    issues: list[ConfigIssue] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    # Keys of workspace files left out because the workspace is not trusted.
    ignored: list[trust.Ignored] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def trust_message(self) -> str | None:
        """One line naming the keys ignored for lack of trust, and how to trust; None if none."""
        return trust.message(self.ignored) if self.ignored else None

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
    # (file, table inside it, whether it belongs to the workspace)
    candidates: list[tuple[Path, str | None, bool]] = [(user_config_path(), None, False)]
    if workspace_root is not None:
        candidates.append((workspace_root / "pyproject.toml", "tool.tta-codegen", True))
        candidates.append((workspace_root / "tta-codegen.toml", None, True))
    for path, table, own in candidates:
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
        layers.append(ConfigLayer(str(path), data, workspace=own))
    return layers, issues


def workspace_fingerprint(workspace_root: Path) -> str | None:
    """The hash ``tta-codegen trust`` records for this folder; None when it has no config."""
    layers, _ = file_layers(workspace_root)
    own = [(layer.source, layer.data) for layer in layers if layer.workspace]
    return trust.fingerprint(own) if own else None


def _apply_trust(
    layers: list[ConfigLayer], workspace_root: Path | None, trusted: bool
) -> list[trust.Ignored]:
    """Drop the keys that need trust from the workspace's files unless it is trusted."""
    own = [(layer.source, layer.data) for layer in layers if layer.workspace]
    if not own or workspace_root is None or trusted:
        return []
    if trust.is_trusted(workspace_root, trust.fingerprint(own)):
        return []
    ignored: list[trust.Ignored] = []
    for layer in layers:
        if layer.workspace:
            layer.data, keys = trust.filter_layer(layer.data)
            if keys:
                ignored.append(trust.Ignored(layer.source, tuple(keys)))
    return ignored


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


def _drop(data: Any, loc: Sequence[int | str]) -> bool:
    """Remove the bad value at ``loc``, and only it: the rest of its table or entry stays.

    When there is nothing at ``loc`` to remove (a required key is missing), the nearest
    list entry holding it goes instead: a ``[[models]]`` entry without an ``id`` is
    unusable. Returns True when a list entry was removed (the indexes after it moved).
    """
    node = data
    entry: tuple[list[Any], int] | None = None
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and part in node:
            if last or not isinstance(node[part], dict | list):
                del node[part]
                return False
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if last or not isinstance(node[part], dict | list):
                node.pop(part)
                return True
            entry = (node, part)
            node = node[part]
        else:
            break
    if entry is not None:
        entry[0].pop(entry[1])
        return True
    return False


def layer_source(layer: ConfigLayer, path: Sequence[int | str]) -> str:
    """Where a key was set, as the user can find it: the file, or the environment variable."""
    if layer.source != "environment":
        return layer.source
    names = [str(p) for p in path if isinstance(p, str)]
    return "environment variable " + ENV_PREFIX + "__".join(names).upper()


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
                issue = ConfigIssue(layer_source(layer, loc), _loc_str(loc), reason)
                if issue not in issues:  # a later pass may meet the same problem again
                    issues.append(issue)
            # Remove from the deepest/last location first so list indexes stay valid; once
            # a whole list entry went, the rest are re-found by the next pass.
            for err in sorted(errors, key=lambda e: [str(p) for p in e["loc"]], reverse=True):
                if _drop(data, list(err["loc"])):
                    break
    return {}, issues


def _origin(layers: Sequence[tuple[ConfigLayer, dict[str, Any]]], path: Sequence[str]) -> str:
    """The source of the last layer that set ``path`` (later layers win, lists replace)."""
    for layer, data in reversed(layers):
        node: Any = data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return layer_source(layer, path)
    return "configuration"


def _check_references(
    config: Config, layers: Sequence[tuple[ConfigLayer, dict[str, Any]]] = ()
) -> list[ConfigIssue]:
    """Cross-key checks on the merged config, each issue named by the layer that set it."""
    issues: list[ConfigIssue] = []
    ids = {m.id for m in config.models}
    seen: set[str] = set()
    models_from = _origin(layers, ("models",))
    for i, m in enumerate(config.models):
        if m.id in seen:
            issues.append(ConfigIssue(models_from, f"models[{i}].id", f"duplicate id {m.id!r}"))
        seen.add(m.id)
        if m.provider not in config.providers:
            known = ", ".join(sorted(config.providers)) or "none configured"
            issues.append(
                ConfigIssue(
                    models_from,
                    f"models[{i}].provider",
                    f"unknown provider {m.provider!r} (known: {known})",
                )
            )
    refs: list[tuple[tuple[str, ...], str, str | None]] = [
        (("routing", "default"), "routing.default", config.routing.default)
    ]
    refs += [
        (("routing", "fallbacks"), f"routing.fallbacks[{i}]", f)
        for i, f in enumerate(config.routing.fallbacks)
    ]
    for task, tr in config.routing.tasks.items():
        refs.append((("routing", "tasks", task, "model"), f"routing.tasks.{task}.model", tr.model))
        refs += [
            (("routing", "tasks", task, "fallbacks"), f"routing.tasks.{task}.fallbacks[{i}]", f)
            for i, f in enumerate(tr.fallbacks or [])
        ]
    for path, key, ref in refs:
        if ref is not None and ref not in ids:
            issues.append(ConfigIssue(_origin(layers, path), key, f"no model with id {ref!r}"))
    for name, p in config.providers.items():
        if p.kind in ("openai", "anthropic", "ollama") and not p.base_url:
            source = _origin(layers, ("providers", name))
            issues.append(ConfigIssue(source, f"providers.{name}.base_url", "is required"))
    return issues


def load_config(
    workspace_root: Path | None = None,
    *,
    editor_settings: Sequence[tuple[str, Mapping[str, Any] | None]] = (),
    environ: Mapping[str, str] | None = None,
    extra_layers: Sequence[ConfigLayer] = (),
    trusted: bool = False,
) -> LoadedConfig:
    """Read every layer, validate, merge. Never raises for bad user input.

    ``trusted``: the client vouches for the workspace for this run (``--trust-workspace``,
    the editor's trust flag); otherwise ``tta-codegen trust`` must have recorded it.
    """
    layers, issues = file_layers(workspace_root)
    ignored = _apply_trust(layers, workspace_root, trusted)
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
    cleaned: list[tuple[ConfigLayer, dict[str, Any]]] = []
    for layer in layers:
        clean, layer_issues = _validate_layer(layer)
        issues.extend(layer_issues)
        cleaned.append((layer, clean))
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
    dropped = {key for i in ignored for key in i.keys}
    for issue in _check_references(config, cleaned):
        if issue.key in dropped:
            # Say why a required key is missing: the workspace's value needs trust.
            issue = ConfigIssue(
                issue.source, issue.key, f"{issue.reason}; {trust.message(ignored)}"
            )
        issues.append(issue)
    return LoadedConfig(config, issues, sources, ignored)
