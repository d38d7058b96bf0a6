"""Workspace trust: whether a folder's own config file may send keys or run programs.

A cloned repository's ``tta-codegen.toml`` (or ``[tool.tta-codegen]``) is written by
whoever wrote the repository. Some keys would let it send the user's API key to a
server of its choosing (a provider's ``base_url``, ``api_key_env``, ``headers``; the
agent's ``base_url`` / ``api_key_env``) or run a program on every generation
(``[[gates.commands]]``, ``gates.python``) or loosen the gate sandbox
(``allow_unsandboxed``, ``allow_network``, ``pass_env``). Those keys are honoured from a
workspace file only when the workspace is trusted; everything else in it (models,
routing among the user's own providers, prompts, context, budgets) always applies.

A workspace is trusted when the client says so for this run (``--trust-workspace``, the
editor's own trust flag) or when ``tta-codegen trust`` recorded the folder together with a
hash of its config (:func:`fingerprint`) in the user's data folder; a changed config no
longer matches and needs trust again. Values are hashed as parsed, so the hash covers
exactly what is applied (comments and formatting do not count).

This module reads and writes only its own store; ``config.py`` calls :func:`filter_layer`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tta_codegen.models.paths import user_data_dir

STORE_NAME = "trusted-workspaces.json"

# Per provider / agent table: keys that decide where a key goes or what is sent with it.
_PROVIDER_KEYS = ("base_url", "api_key_env", "headers")
_AGENT_KEYS = ("base_url", "api_key_env")
# Keys of [gates] that run a program or weaken the sandbox generated code runs in.
_GATE_KEYS = ("commands", "python", "allow_unsandboxed", "allow_network", "pass_env")

HOW_TO_TRUST = (
    "to use them, trust the workspace: run `tta-codegen trust` in it (CI: --trust-workspace), "
    "grant trust in VS Code, or :TTATrust in Neovim"
)


@dataclass(frozen=True)
class Ignored:
    """Keys left out of one workspace file because the workspace is not trusted."""

    source: str
    keys: tuple[str, ...]


def store_path() -> Path:
    return user_data_dir() / STORE_NAME


def filter_layer(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``data`` (one workspace file's table) without the keys that need trust, and their names.

    Command gates that are removed are also removed from the file's ``enabled`` lists, so the
    rest of the file still validates.
    """
    clean = json.loads(json.dumps(data))  # a deep copy of plain TOML values
    removed: list[str] = []
    providers = clean.get("providers")
    if isinstance(providers, dict):
        for name, table in providers.items():
            if isinstance(table, dict):
                for key in _PROVIDER_KEYS:
                    if key in table:
                        del table[key]
                        removed.append(f"providers.{name}.{key}")
    agents = clean.get("agents")
    openhands = agents.get("openhands") if isinstance(agents, dict) else None
    if isinstance(openhands, dict):
        for key in _AGENT_KEYS:
            if key in openhands:
                del openhands[key]
                removed.append(f"agents.openhands.{key}")
    gates = clean.get("gates")
    if isinstance(gates, dict):
        names: set[str] = set()
        commands = gates.get("commands")
        if isinstance(commands, list):
            names = {c["name"] for c in commands if isinstance(c, dict) and "name" in c}
        for key in _GATE_KEYS:
            if key in gates:
                del gates[key]
                removed.append(f"gates.{key}")
        if names:
            lists = [gates] + [
                lg for lg in (gates.get("languages") or {}).values() if isinstance(lg, dict)
            ]
            for table in lists:
                if isinstance(table.get("enabled"), list):
                    table["enabled"] = [n for n in table["enabled"] if n not in names]
    return clean, removed


def fingerprint(layers: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """A hash of the workspace's config as parsed: (file name, table) of each workspace file."""
    canonical = json.dumps(
        [[Path(source).name, data] for source, data in layers], sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _key(root: Path) -> str:
    return str(root.resolve())


def _load() -> dict[str, Any]:
    try:
        data = json.loads(store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    folders = data.get("folders") if isinstance(data, dict) else None
    return folders if isinstance(folders, dict) else {}


def is_trusted(root: Path, digest: str) -> bool:
    entry = _load().get(_key(root))
    return isinstance(entry, dict) and entry.get("sha256") == digest


def record(root: Path, digest: str | None) -> Path:
    """Trust ``root`` with its config hashing to ``digest`` (None: forget the folder)."""
    folders = _load()
    if digest is None:
        folders.pop(_key(root), None)
    else:
        folders[_key(root)] = {"sha256": digest, "trusted_at": int(time.time())}
    path = store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole and renamed: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(prefix=".trusted-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": 1, "folders": folders}, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def message(ignored: Sequence[Ignored]) -> str:
    """The one line saying what was ignored and how to trust."""
    parts = [f"{', '.join(i.keys)} from {i.source}" for i in ignored]
    return f"this workspace is not trusted; ignored {'; '.join(parts)}; {HOW_TO_TRUST}"
