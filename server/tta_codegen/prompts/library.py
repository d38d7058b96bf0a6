"""The template library: every template found in the prompt folders, validated, by id.

It owns discovery (which file wins for an id), validation (header, Jinja syntax, the
variables a template uses), reloading (a cheap mtime/size scan on use, so editing a
template takes effect on the next request without a restart) and the checks on the
variables a user passes. A broken template becomes a :class:`TemplateProblem` naming
file, line and reason and is skipped: the rest of the library keeps working.

Requests scan less (:meth:`PromptLibrary.refresh` with ``trust_folders_s``, what the
prompt builder uses). The rule: a template added, removed or renamed (also an editor's
save-by-rename) counts on the next request, since it changes its folder's mtime and every
request stats the folders; a template's *body* edited in place counts on the next request
too (Jinja checks the mtime of each file it renders); its *header* (title, variables)
edited in place counts once the last full scan is ``trust_folders_s`` old, or at once when
the editor reports the change (:func:`files_changed`, from didSave and
didChangeWatchedFiles). A folder whose mtime is close to the scan's own time is not
trusted (mtime granularity: a change in the same clock tick would look like none).

Rendering is synchronous and touches the disk; async callers run it in a thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from tta_codegen.prompts.loader import LibraryLoader, PromptError, make_environment, render
from tta_codegen.prompts.meta import (
    BUILTIN_VARIABLES,
    PromptMeta,
    TemplateProblem,
    parse_header,
    validate_meta,
)
from tta_codegen.prompts.roots import Origin, PromptRoot

SUFFIX = ".j2"
_Signature = tuple[tuple[int, str, int, int], ...]
# Every folder the scan looked at, with its mtime (-1: missing or unreadable).
_Folders = tuple[tuple[str, int], ...]
# A folder changed this close to a scan may have changed again in the same clock tick.
_RACY_NS = 50_000_000


@dataclass(frozen=True)
class PromptTemplate:
    meta: PromptMeta
    path: Path
    origin: Origin
    shadows: tuple[str, ...] = ()  # files with the same id it overrides

    @property
    def id(self) -> str:
        return self.meta.id

    def listing(self) -> dict[str, Any]:
        """The ``tta.listPrompts`` entry: the contract's fields first, then extras."""
        variables: list[dict[str, Any]] = []
        for name, spec in self.meta.variables.items():
            entry: dict[str, Any] = {"name": name, "required": spec.required}
            if not spec.required:
                entry["default"] = spec.default
            if spec.description:
                entry["description"] = spec.description
            if spec.example is not None:
                entry["example"] = spec.example
            variables.append(entry)
        return {
            "id": self.meta.id,
            "title": self.meta.title,
            "category": self.meta.category,
            "description": self.meta.description,
            "variables": variables,
            "task_type": self.meta.task_type,
            "applies_to": self.meta.applies_to,
            "source": self.origin,
            "path": str(self.path),
        }


@dataclass
class _State:
    signature: _Signature = ()
    templates: dict[str, PromptTemplate] = field(default_factory=dict)
    problems: list[TemplateProblem] = field(default_factory=list)
    env: jinja2.Environment | None = None
    checked_at: float = float("-inf")
    folders: _Folders = ()
    # Whether every folder's mtime was clearly older than the scan (see _RACY_NS).
    settled: bool = False

    def env_or_fail(self) -> jinja2.Environment:
        assert self.env is not None, "refresh() runs before any render"
        return self.env


class PromptLibrary:
    """All templates of one set of folders; safe to share between threads."""

    def __init__(self, roots: Sequence[PromptRoot]) -> None:
        self.roots = tuple(roots)
        self._lock = threading.Lock()
        self._state = _State()
        self._dirty = False  # the editor reported a change: the next refresh scans all
        self.loads = 0  # how many times the folders were (re)read; tests check reloads

    # -- loading ---------------------------------------------------------------------

    def refresh(self, max_age: float = 0.0, *, trust_folders_s: float = 0.0) -> None:
        """Reread the folders if a file changed; skip the scan if one ran < ``max_age`` s ago.

        ``trust_folders_s``: for that long after a full scan, finding every folder as it
        was (one stat each) stands for the full scan (see the module's rule).
        """
        with self._lock:
            now = time.monotonic()
            state = self._state
            if state.env is not None and now - state.checked_at < max_age:
                return
            if (
                state.env is not None
                and not self._dirty
                and now - state.checked_at < trust_folders_s
                and state.settled
                and _folders_unchanged(state.folders)
            ):
                return
            began = time.time_ns()
            self._dirty = False  # before the scan: a change reported during it counts next time
            signature, folders = self._scan()
            if state.env is None or signature != state.signature:
                state = self._state = self._load(signature)
                self.loads += 1
            state.checked_at = now
            state.folders = folders
            state.settled = all(mtime < began - _RACY_NS for _, mtime in folders)

    def invalidate(self) -> None:
        """The next :meth:`refresh` scans every file (the editor reported a change)."""
        self._dirty = True

    def concerns(self, path: str) -> bool:
        """Whether a change to ``path`` (a file or folder) may change this library."""
        if path.endswith(SUFFIX):
            return True
        for root in self.roots:
            folder = str(root.path)
            inside = path == folder or path.startswith(folder + os.sep)
            if inside or folder.startswith(path + os.sep):  # a file in it, or a parent
                return True
        return False

    def stale(self, max_age: float) -> bool:
        """True when the folders were not checked in the last ``max_age`` seconds."""
        return time.monotonic() - self._state.checked_at >= max_age

    def _scan(self) -> tuple[_Signature, _Folders]:
        entries: list[tuple[int, str, int, int]] = []
        folders: list[tuple[str, int]] = []
        for index, root in enumerate(self.roots):
            _scan_j2(index, str(root.path), entries, folders)
        return tuple(entries), tuple(folders)

    def _load(self, signature: _Signature) -> _State:
        settled_before = time.time_ns() - _RACY_NS  # files older than this may be reused
        problems: list[TemplateProblem] = []
        env = make_environment([r.path for r in self.roots])
        allowed = set(BUILTIN_VARIABLES) | set(env.globals)
        candidates: dict[str, list[PromptTemplate]] = {}
        for index, root in enumerate(self.roots):
            if root.must_exist and not root.path.is_dir():
                problems.append(TemplateProblem(str(root.path), 0, "prompt folder does not exist"))
                continue
            seen: dict[str, Path] = {}
            for _, file, mtime, size in (e for e in signature if e[0] == index):
                path = Path(file)
                if not _is_template(root.path, path):
                    continue
                stamp = (mtime, size) if mtime < settled_before else None
                loaded = _load_template(env, root, path, allowed, stamp)
                if isinstance(loaded, TemplateProblem):
                    problems.append(loaded)
                    continue
                if loaded.id in seen:
                    problems.append(
                        TemplateProblem(
                            str(path), 1, f"duplicate id {loaded.id!r} (also in {seen[loaded.id]})"
                        )
                    )
                    continue
                seen[loaded.id] = path
                candidates.setdefault(loaded.id, []).append(loaded)
        templates: dict[str, PromptTemplate] = {}
        for template_id, found in candidates.items():
            winner, *shadowed = found  # roots are in precedence order
            templates[template_id] = PromptTemplate(
                winner.meta, winner.path, winner.origin, tuple(str(t.path) for t in shadowed)
            )
        loader = env.loader
        assert isinstance(loader, LibraryLoader)
        loader.by_id = {i: t.path for i, t in templates.items()}
        return _State(signature, dict(sorted(templates.items())), problems, env)

    def _current(self) -> _State:
        if self._state.env is None:
            self.refresh()
        return self._state

    # -- queries -----------------------------------------------------------------------

    @property
    def problems(self) -> list[TemplateProblem]:
        return list(self._current().problems)

    def templates(self) -> list[PromptTemplate]:
        """Every usable template, by category then id."""
        return sorted(self._current().templates.values(), key=lambda t: (t.meta.category, t.id))

    def find(self, template_id: str) -> PromptTemplate | None:
        return self._current().templates.get(template_id)

    def get(self, template_id: str) -> PromptTemplate:
        state = self._current()
        found = state.templates.get(template_id)
        if found is not None:
            return found
        broken = [p for p in state.problems if Path(p.file).stem == template_id]
        if broken:
            raise PromptError(f"template {template_id!r} is broken: {broken[0]}")
        raise PromptError(f"unknown template {template_id!r} (see tta.listPrompts)")

    # -- rendering ---------------------------------------------------------------------

    def resolve_variables(
        self, template: PromptTemplate, given: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The user's values checked against the template's declarations, defaults filled."""
        declared = template.meta.variables
        for name in given:
            if name in BUILTIN_VARIABLES:
                raise PromptError(
                    f"template {template.id!r}: variable {name!r} is filled from the request; "
                    "do not pass it in variables"
                )
            if name not in declared:
                known = ", ".join(declared) or "none"
                raise PromptError(
                    f"template {template.id!r} has no variable {name!r} (its variables: {known})"
                )
        missing = [n for n, s in declared.items() if s.required and _blank(given.get(n))]
        if missing:
            detail = ", ".join(
                f"{n!r} ({declared[n].description})" if declared[n].description else repr(n)
                for n in missing
            )
            plural = "s" if len(missing) > 1 else ""
            raise PromptError(f"template {template.id!r} needs variable{plural} {detail}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            value = given.get(name)
            values[name] = (
                spec.default if value is None else _coerce(template.id, name, value, spec.default)
            )
        return values

    def render_template(
        self, template_id: str, variables: Mapping[str, Any], builtins: Mapping[str, Any]
    ) -> str:
        template = self.get(template_id)
        values = {**builtins, **self.resolve_variables(template, variables)}
        return render(self._current().env_or_fail(), f"@{template_id}", values)

    def render_file(self, name: str, variables: Mapping[str, Any]) -> str:
        """A shared file by path (``_base/system.j2``), from the highest-precedence folder."""
        return render(self._current().env_or_fail(), name, variables)


def _folder_mtime(folder: str) -> int:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return -1


def _folders_unchanged(folders: _Folders) -> bool:
    return all(_folder_mtime(folder) == mtime for folder, mtime in folders)


def _scan_j2(
    index: int,
    folder: str,
    out: list[tuple[int, str, int, int]],
    folders: list[tuple[str, int]],
) -> None:
    """Every ``.j2`` file under ``folder`` as (root index, path, mtime, size), in walk order,
    and every folder looked at with its mtime (``folders``; a missing one too).

    Plain strings and ``os.scandir``, no ``Path`` per file (that was most of its ~0.3 ms).
    The order is ``os.walk``'s top-down one: a folder's files sorted, then its subfolders
    sorted (dot-folders skipped, symlinked folders not entered).
    """
    # Before the listing: a file added after this stat shows as a changed folder later.
    folders.append((folder, _folder_mtime(folder)))
    try:
        with os.scandir(folder) as it:
            found = list(it)
    except OSError:
        return
    files: list[str] = []
    subfolders: list[str] = []
    for entry in found:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if not entry.name.startswith(".") and not entry.is_symlink():
                subfolders.append(entry.name)
        elif entry.name.endswith(SUFFIX):
            files.append(entry.name)
    for name in sorted(files):
        path = os.path.join(folder, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append((index, path, st.st_mtime_ns, st.st_size))
    for name in sorted(subfolders):
        _scan_j2(index, os.path.join(folder, name), out, folders)


def _is_template(root: Path, path: Path) -> bool:
    """Files under ``_``-prefixed folders (``_base``) or named ``_*`` are shared blocks."""
    return not any(part.startswith("_") for part in path.relative_to(root).parts)


@dataclass(frozen=True)
class _Parsed:
    """What a template file says on its own, a function of its text and folder alone:
    its header and metadata, the templates it includes and the variables it uses."""

    source: str
    meta: PromptMeta
    refs: tuple[str | None, ...]
    undeclared: frozenset[str]


# Parsing and analysing a template is ~2 ms of Jinja work each; a library (one per
# workspace) reads all of them. Each file's _Parsed is kept by (path, folder, mtime, size)
# for files settled on disk (see _RACY_NS), so another workspace's library, a reload after
# one template changed, and the forks of the warm process (which read the built-in library
# once, tta_codegen.cli.warm) parse only what changed. Checks that depend on the other
# files (includes found, variables allowed) still run at every load.
_PARSED: dict[tuple[str, str, int, int], _Parsed | TemplateProblem] = {}
_PARSED_MAX = 2048


def _load_template(
    env: jinja2.Environment,
    root: PromptRoot,
    path: Path,
    allowed: set[str],
    stamp: tuple[int, int] | None = None,
) -> PromptTemplate | TemplateProblem:
    rel = path.relative_to(root.path)
    category = rel.parts[0] if len(rel.parts) > 1 else "custom"
    key = (str(path), category, *stamp) if stamp is not None else None
    parsed = _PARSED.get(key) if key is not None else None
    if parsed is None:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return TemplateProblem(str(path), 1, f"cannot be read: {exc}")
        parsed = _parse(env, source, path, category)
        if key is not None:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = parsed
    if isinstance(parsed, TemplateProblem):
        return parsed
    problem = _check_source(env, parsed, path, allowed)
    if problem is not None:
        return problem
    return PromptTemplate(parsed.meta, path, root.origin)


def _parse(
    env: jinja2.Environment, source: str, path: Path, category: str
) -> _Parsed | TemplateProblem:
    header = parse_header(source, str(path))
    if isinstance(header, TemplateProblem):
        return header
    meta = validate_meta(header, path, category)
    if isinstance(meta, TemplateProblem):
        return meta
    try:
        ast = env.parse(source, path.name, str(path))
    except jinja2.TemplateSyntaxError as exc:
        return TemplateProblem(str(path), exc.lineno, f"template syntax error: {exc.message}")
    refs = tuple(jinja2.meta.find_referenced_templates(ast))
    return _Parsed(source, meta, refs, frozenset(jinja2.meta.find_undeclared_variables(ast)))


def _check_source(
    env: jinja2.Environment, parsed: _Parsed, path: Path, allowed: set[str]
) -> TemplateProblem | None:
    source, meta = parsed.source, parsed.meta
    for ref in parsed.refs:
        if ref is None:
            continue  # a computed name: checked when it renders
        try:
            env.get_template(ref)
        except jinja2.TemplateNotFound:
            return TemplateProblem(str(path), _line_of(source, ref), f"{ref!r} not found")
        except jinja2.TemplateSyntaxError as exc:
            return TemplateProblem(
                exc.filename or ref, exc.lineno, f"template syntax error: {exc.message}"
            )
    unknown = sorted(parsed.undeclared - allowed - set(meta.variables))
    if unknown:
        return TemplateProblem(
            str(path),
            _line_of(source, unknown[0]),
            f"uses undeclared variable {unknown[0]!r}: declare it under [variables.{unknown[0]}] "
            f"in the header (built-in variables: {', '.join(BUILTIN_VARIABLES)})",
        )
    return None


def _line_of(source: str, needle: str) -> int:
    index = source.find(needle, source.find("#}") if "#}" in source else 0)
    return source.count("\n", 0, index) + 1 if index >= 0 else 1


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _coerce(template_id: str, name: str, value: Any, default: Any) -> Any:
    """Values typed as text (CLI ``--var n=3``, an input box) take the default's type."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            lowered = value.strip().lower()
            if lowered in ("true", "yes", "1", "on"):
                return True
            if lowered in ("false", "no", "0", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        kind = type(default).__name__
        raise PromptError(
            f"template {template_id!r}: variable {name!r} must be a {kind}, got {value!r}"
        ) from None
    return value


# One library per set of folders, shared by every engine (config reloads make new ones).
_libraries: dict[tuple[PromptRoot, ...], PromptLibrary] = {}
_libraries_lock = threading.Lock()


def library_for(roots: Sequence[PromptRoot]) -> PromptLibrary:
    key = tuple(roots)
    with _libraries_lock:
        library = _libraries.get(key)
        if library is None:
            library = _libraries[key] = PromptLibrary(key)
        return library


def files_changed(paths: Sequence[str]) -> None:
    """The editor reported files saved, created, changed or deleted: every library they
    may concern scans all its files on its next use."""
    with _libraries_lock:
        libraries = list(_libraries.values())
    for library in libraries:
        if any(library.concerns(p) for p in paths):
            library.invalidate()
