"""Which files of a workspace the index may read: ignore files, size, binary, secrets.

Rules, in order: directories that are never source (VCS metadata, virtualenvs, caches,
``node_modules``); credential files (see :mod:`redact`); ``.gitignore`` files at any
depth (each applies below its own directory, deeper ones win, ``!`` re-includes);
``.git/info/exclude``; ``.tta-codegenignore`` (same syntax, for what git tracks but the
model should not see); and the ``[context] ignore`` patterns. Files over the size limit
and binary files are skipped when read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

from tta_codegen.redact import is_secret_path

IGNORE_FILE = ".tta-codegenignore"
# Never worth indexing, with or without a .gitignore saying so.
DEFAULT_IGNORED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".jj", "node_modules", "__pycache__", ".venv", "venv", ".tox",
     ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".cache",
     ".idea", ".eggs", ".next", ".nuxt", ".gradle", ".terraform", "bower_components"}
)  # fmt: skip
# Text files that are generated, huge and useless as examples.
DEFAULT_IGNORED_FILES = (
    "*.min.js", "*.min.css", "*.map", "*.lock", "package-lock.json", "pnpm-lock.yaml",
    "yarn.lock", "poetry.lock", "uv.lock", "Cargo.lock", "go.sum", "*.pyc", "*.pyo",
    "*.so", "*.dll", "*.dylib", "*.o", "*.a", "*.class", "*.jar", "*.whl", "*.egg",
    "*.zip", "*.gz", "*.bz2", "*.xz", "*.tar", "*.7z", "*.png", "*.jpg", "*.jpeg",
    "*.gif", "*.ico", "*.webp", "*.pdf", "*.sqlite", "*.sqlite3", "*.db", "*.wasm",
    "*.ttf", "*.woff", "*.woff2", "*.mp3", "*.mp4", "*.wav", "*.bin", "*.pkl", "*.npy",
    "*.parquet", "*.onnx", "*.gguf", "*.safetensors", "*.pt", "*.ckpt",
)  # fmt: skip


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


class IgnoreRules:
    """Answers "may the index read this path?" for one workspace root."""

    def __init__(self, root: Path, extra_patterns: list[str] | None = None) -> None:
        self.root = root
        self._defaults = pathspec.GitIgnoreSpec.from_lines(DEFAULT_IGNORED_FILES)
        top = [*_read_lines(root / ".git" / "info" / "exclude"), *(extra_patterns or [])]
        self._extra = pathspec.GitIgnoreSpec.from_lines(top)
        # Directory (relative, "" for the root) → its .gitignore + .tta-codegenignore, or None.
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}

    def forget(self, rel_dir: str | None = None) -> None:
        """Drop cached ignore files (all, or one directory's) after one of them changed."""
        if rel_dir is None:
            self._specs.clear()
        else:
            self._specs.pop(rel_dir, None)

    def _spec(self, rel_dir: str) -> pathspec.GitIgnoreSpec | None:
        if rel_dir in self._specs:
            return self._specs[rel_dir]
        base = self.root / rel_dir if rel_dir else self.root
        lines = [*_read_lines(base / ".gitignore"), *_read_lines(base / IGNORE_FILE)]
        spec = pathspec.GitIgnoreSpec.from_lines(lines) if lines else None
        self._specs[rel_dir] = spec
        return spec

    def _matches(self, rel: str, is_dir: bool) -> bool:
        """The verdict of the ignore files for ``rel`` alone (not its parents)."""
        name = rel.rsplit("/", 1)[-1]
        if is_dir:
            if name in DEFAULT_IGNORED_DIRS or name.endswith(".egg-info"):
                return True
        elif self._defaults.match_file(name) or is_secret_path(rel):
            return True
        probe = rel + "/" if is_dir else rel
        verdict = self._extra.check_file(probe).include
        # Walk the directories above ``rel``, root first: deeper ignore files win.
        parts = rel.split("/")
        for depth in range(len(parts)):
            rel_dir = "/".join(parts[:depth])
            spec = self._spec(rel_dir)
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            include = spec.check_file(sub).include
            if include is not None:
                verdict = include
        return bool(verdict)

    def is_ignored(self, path: Path) -> bool:
        """For one file (incremental updates): checks the file and every parent directory."""
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return True
        if rel in ("", "."):
            return True
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self._matches("/".join(parts[:i]), is_dir=True):
                return True
        return self._matches(rel, is_dir=False)

    def walk(self, max_files: int) -> Iterator[Path]:
        """Every file under the root that is not ignored, pruning ignored directories."""
        count = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            base = Path(dirpath)
            rel_dir = base.relative_to(self.root).as_posix()
            prefix = "" if rel_dir == "." else rel_dir + "/"
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not os.path.islink(os.path.join(dirpath, d))
                and not self._matches(prefix + d, is_dir=True)
            )
            for name in sorted(filenames):
                if self._matches(prefix + name, is_dir=False):
                    continue
                full = base / name
                if full.is_symlink():
                    continue
                yield full
                count += 1
                if count >= max_files:
                    return
