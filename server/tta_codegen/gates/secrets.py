"""What a gate process must not read, and the secret values its output must not carry.

Generated code is untrusted: a hostile reply can read any file the gate can and print it,
and the output flows into the next prompt. So, before a gate runs, this module lists

* the workspace's secret files: the names the context engine never opens
  (:func:`tta_codegen.redact.is_secret_path`: ``.env*``, keys, certificates, cloud
  credentials) and what ``.tta-codegenignore`` files exclude ("the model must not see
  this"). ``.gitignore`` is not used: it also lists build products the project needs to
  import (``_version.py``, compiled modules, virtualenvs);
* the user's credential folders and files (``~/.ssh``, ``~/.aws``, ``~/.config/gcloud``,
  ``~/.netrc``, ``~/.docker``, ...) and tta-codegen's own config and data (the cost
  ledger, the trusted-folder list), for ``$HOME`` and for the account's home if different;

and the sandbox hides them inside the gate's mount namespace. The exact values held by
those files and by the environment's secret-named variables become a
:class:`~tta_codegen.redact.KnownSecrets` that the runner redacts every gate result with.

Blocking file I/O: callers run :func:`scan` in a thread.
"""

from __future__ import annotations

import contextlib
import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from tta_codegen.redact import (
    KnownSecrets,
    is_secret_path,
    secret_env_values,
    secret_file_values,
)

IGNORE_FILE = ".tta-codegenignore"
# Folders of a home directory (or files) that hold credentials, relative to the home.
HOME_SECRET_DIRS = (".ssh", ".aws", ".config/gcloud", ".docker", ".gnupg", ".kube", ".azure")
HOME_SECRET_FILES = (".netrc", ".git-credentials", ".pypirc", ".npmrc", ".pgpass")
# Not walked for secrets: tool caches and dependency trees (large, and not the user's files).
_SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}
)  # fmt: skip
# A workspace larger than this is walked only this far (a folder opened by mistake).
MAX_ENTRIES = 50_000
# Values are read from secret files up to this size (keys and .env files are small).
MAX_VALUE_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Secrets:
    """Paths to hide from one gate run and the values to redact from its output."""

    files: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()
    known: KnownSecrets = field(default_factory=KnownSecrets)


def home_dirs() -> list[Path]:
    """``$HOME`` and the account's home directory, when they differ."""
    homes = [Path.home()]
    with contextlib.suppress(KeyError, OSError):
        account = Path(pwd.getpwuid(os.getuid()).pw_dir)
        if account not in homes:
            homes.append(account)
    return homes


def app_dirs() -> list[Path]:
    """tta-codegen's own config and data folders (config, ledger, trusted folders).

    The same rule as ``config.user_config_path`` and ``models.paths.user_data_dir``;
    repeated here so that the gates do not import the config or model layers.
    """
    home = Path.home()
    config = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    data = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return [Path(config) / "tta-codegen", Path(data) / "tta-codegen"]


def _ignore_spec(directory: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = (directory / IGNORE_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines.splitlines())


def workspace_secret_files(workspace: Path) -> list[Path]:
    """Secret files under ``workspace`` (see the module docstring), not following links."""
    found: list[Path] = []
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(workspace):
        base = Path(dirpath)
        spec = _ignore_spec(base)
        if spec is not None:
            specs.append((base, spec))
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for name in filenames:
            seen += 1
            path = base / name
            rel = path.relative_to(workspace)
            hidden = is_secret_path(rel) or any(
                path.is_relative_to(at) and s.match_file(path.relative_to(at).as_posix())
                for at, s in specs
            )
            if hidden:
                found.append(path)
        seen += len(dirnames)
        if seen > MAX_ENTRIES:
            break
    return found


def _values(path: Path) -> list[str]:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if path.is_file() and path.stat().st_size <= MAX_VALUE_FILE_BYTES:
            return secret_file_values(path.read_text(encoding="utf-8"))
    return []


def scan(workspace: Path | None) -> Secrets:
    """Everything a gate run must hide, and what its output must not contain."""
    files: list[Path] = []
    dirs: list[Path] = []
    credential_dirs: list[Path] = []
    if workspace is not None and workspace.is_dir():
        files += workspace_secret_files(workspace)
    for home in home_dirs():
        credential_dirs += [home / d for d in HOME_SECRET_DIRS]
        files += [home / f for f in HOME_SECRET_FILES]
    credential_dirs = [d for d in dict.fromkeys(credential_dirs) if d.is_dir()]
    # Our own folders hold no secret values (keys live in the environment), only settings
    # and the ledger: hidden, but not read for values.
    dirs = credential_dirs + [d for d in app_dirs() if d.is_dir() and d not in credential_dirs]
    files = [f for f in dict.fromkeys(files) if f.is_file()]
    values = secret_env_values(os.environ)
    for path in files:
        values += _values(path)
    for directory in credential_dirs:
        # Key files in credential folders (id_rsa, credentials): small files only.
        with contextlib.suppress(OSError):
            for entry in directory.iterdir():
                values += _values(entry)
    return Secrets(
        files=tuple(str(f) for f in files),
        dirs=tuple(str(d) for d in dirs),
        known=KnownSecrets.of(values),
    )
