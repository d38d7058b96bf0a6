"""The temporary copy gates run on: the candidate file and its companions, never the workspace.

Layout of one run's temporary directory::

    <tmp>/work/<relpath>   the candidate, extra files, test targets and the project files that
                           steer tools (pyproject.toml, ruff.toml, conftest.py, __init__.py...)
                           along their directories, at the same relative paths
    <tmp>/home/            HOME and TMPDIR of the gate processes, tool caches
    <tmp>/boot/            sitecustomize.py: the import overlay described below

The workspace stays reachable read-only through PYTHONPATH *after* the copy, so imports of
the project's other modules resolve and the candidate shadows its original. A package that
exists in both (``pkg/__init__.py`` copied because the candidate is ``pkg/mod.py``) would
otherwise hide the workspace's other modules of that package: the overlay extends such a
package's ``__path__`` with its workspace twin.

Everything here is blocking file I/O: callers run it in a thread.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tta_codegen.gates import secrets as secret_paths
from tta_codegen.gates.secrets import Secrets
from tta_codegen.gates.types import GateInput

# Files that change how tools see the candidate: copied from every directory between the
# workspace root and each copied file.
STEERING_FILES: tuple[str, ...] = (
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    "setup.cfg",
    "pytest.ini",
    "tox.ini",
    "mypy.ini",
    ".mypy.ini",
    "conftest.py",
    "__init__.py",
)
RUFF_CONFIG_FILES: tuple[str, ...] = ("ruff.toml", ".ruff.toml")

_OVERLAY = '''"""Written by tta-codegen's gate sandbox: the candidate copy shadows the workspace."""
import os
import sys
from importlib.machinery import PathFinder

_MIRROR = os.environ.get("TTA_GATES_MIRROR", "")
_WORKSPACE = os.environ.get("TTA_GATES_WORKSPACE", "")


class _Overlay:
    """A package found in the copy also searches its workspace twin for submodules."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        spec = PathFinder.find_spec(name, path, target)
        if spec is None or spec.submodule_search_locations is None:
            return None
        locations = list(spec.submodule_search_locations)
        extra = []
        for loc in locations:
            if loc == _MIRROR or loc.startswith(_MIRROR + os.sep):
                twin = _WORKSPACE + loc[len(_MIRROR):]
                if os.path.isdir(twin) and twin not in locations:
                    extra.append(twin)
        if not extra:
            return None
        spec.submodule_search_locations = locations + extra
        return spec


if _MIRROR and _WORKSPACE:
    sys.meta_path.insert(0, _Overlay)
'''


class WorkdirError(ValueError):
    """A path in the gate input that cannot be placed in the copy (absolute, or escaping it)."""


@dataclass
class Workdir:
    root: Path
    work: Path  # the mirror of the workspace's relative paths; the gates' cwd
    home: Path
    boot: Path
    candidate: str  # relpath of the candidate inside `work`, POSIX separators
    workspace: Path | None
    # Directories (relative) that act as import roots: "" and the candidate's package root.
    source_roots: list[str] = field(default_factory=list)
    has_ruff_config: bool = False
    # What the gate processes must not read, and what their output must not carry.
    secrets: Secrets = field(default_factory=Secrets)

    @property
    def candidate_path(self) -> Path:
        return self.work / self.candidate

    def python_path(self) -> list[str]:
        entries = [str(self.boot)]
        entries += [str(self.work / r) if r else str(self.work) for r in self.source_roots]
        if self.workspace is not None:
            entries += [
                str(self.workspace / r) if r else str(self.workspace) for r in self.source_roots
            ]
        return entries

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _relpath(path: str, what: str) -> str:
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or not posix.parts:
        raise WorkdirError(
            f"{what} {path!r} must be a relative path inside the workspace (no '..', not absolute)"
        )
    return str(posix)


def candidate_relpath(inp: GateInput) -> str:
    path = Path(inp.path)
    if path.is_absolute():
        if inp.workspace_root is not None:
            try:
                return path.resolve().relative_to(inp.workspace_root.resolve()).as_posix()
            except ValueError:
                pass
        # No workspace (or outside it): the file alone, under its own name.
        return path.name
    return _relpath(inp.path, "the file path")


def _temp_base(workspace: Path | None) -> str | None:
    base = Path(tempfile.gettempdir()).resolve()
    if workspace is not None and base.is_relative_to(workspace.resolve()):
        # Never create the copy inside the workspace, whatever TMPDIR says.
        return "/tmp" if not Path("/tmp").resolve().is_relative_to(workspace.resolve()) else None
    return None


def _import_root(workspace: Path | None, rel: str) -> str:
    """The nearest ancestor of `rel` that is not a package: where imports of it start."""
    parts = PurePosixPath(rel).parts[:-1]
    root = list(parts)
    while root:
        directory = Path(*root)
        has_init = workspace is not None and (workspace / directory / "__init__.py").is_file()
        if not has_init:
            break
        root.pop()
    return "/".join(root)


def _is_ruff_config(path: Path) -> bool:
    if path.name in RUFF_CONFIG_FILES:
        return path.is_file()
    return (
        path.name == "pyproject.toml"
        and path.is_file()
        and "[tool.ruff" in path.read_text(encoding="utf-8", errors="replace")
    )


def has_ruff_config(workspace: Path | None, rel: str) -> bool:
    """Whether ruff finds a project config for ``rel``: a ruff.toml, .ruff.toml or a
    pyproject.toml with ``[tool.ruff`` in a folder between the workspace root and the file
    (the folders :func:`build` copies steering files from)."""
    if workspace is None:
        return False
    parents = PurePosixPath(rel).parts[:-1]
    for depth in range(len(parents) + 1):
        directory = workspace.joinpath(*parents[:depth])
        if any(
            _is_ruff_config(directory / name) for name in ("pyproject.toml", *RUFF_CONFIG_FILES)
        ):
            return True
    return False


def build(inp: GateInput) -> Workdir:
    """Create the temporary copy for `inp`; the caller removes it with :meth:`Workdir.remove`."""
    workspace = inp.workspace_root.resolve() if inp.workspace_root is not None else None
    rel = candidate_relpath(inp)
    files: dict[str, str] = {rel: inp.text}
    for path, text in inp.extra_files.items():
        files.setdefault(_relpath(path, "extra file"), text)
    copies: dict[str, Path] = {}
    for target in inp.test_targets:
        trel = _relpath(target, "test target")
        if trel not in files and workspace is not None and (workspace / trel).is_file():
            copies[trel] = workspace / trel
    if workspace is not None:
        for placed in [*files, *copies]:
            parents = PurePosixPath(placed).parts[:-1]
            for depth in range(len(parents) + 1):
                directory = PurePosixPath(*parents[:depth]) if depth else PurePosixPath()
                for name in STEERING_FILES:
                    srel = str(directory / name)
                    if srel in files or srel in copies:
                        continue
                    source = workspace / srel
                    if source.is_file():
                        copies[srel] = source

    root = Path(tempfile.mkdtemp(prefix="tta-gates-", dir=_temp_base(workspace)))
    work, home, boot = root / "work", root / "home", root / "boot"
    for made in (work, home, boot):
        made.mkdir()
    (boot / "sitecustomize.py").write_text(_OVERLAY, encoding="utf-8")
    for frel, text in files.items():
        dest = work / frel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
    for frel, source in copies.items():
        dest = work / frel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)

    roots = [""]
    package_root = _import_root(workspace, rel)
    if package_root:
        roots.append(package_root)
    if workspace is not None and (workspace / "src").is_dir() and "src" not in roots:
        roots.append("src")
    has_ruff = any(_is_ruff_config(src) for src in copies.values())
    return Workdir(
        root=root,
        work=work,
        home=home,
        boot=boot,
        candidate=rel,
        workspace=workspace,
        source_roots=roots,
        has_ruff_config=has_ruff,
        secrets=secret_paths.scan(workspace),
    )
