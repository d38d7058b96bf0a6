"""Project rules: the conventions the generated code must follow, from the repo itself.

Read from the well-known files agents look for (``AGENTS.md``, ``CLAUDE.md``,
``.cursorrules``, ``.github/copilot-instructions.md``, ``docs/ARCHITECTURE.md``) and
from ``[context] rules``. Only files inside the workspace are read, never credential
files, and the text is redacted like everything else that leaves the machine.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from tta_codegen.redact import is_secret_path, redact

log = logging.getLogger(__name__)

WELL_KNOWN_RULES = (
    "AGENTS.md",
    "CLAUDE.md",
    ".cursorrules",
    ".github/copilot-instructions.md",
    "docs/ARCHITECTURE.md",
)
MAX_RULE_BYTES = 64_000
# How long the places of the rule files (names resolved and checked) are reused.
RESOLVE_S = 1.0


@dataclass(frozen=True)
class RuleFile:
    source: str  # path relative to its root
    text: str
    reason: str
    path: str = ""  # absolute


@dataclass(frozen=True)
class _Candidate:
    """A place a rule file may be: where it was named, where that resolves, and why."""

    named: str  # root / name, as configured (a symlink there may be re-pointed)
    path: Path  # resolved
    root: Path
    reason: str


class RulesReader:
    """Reads rule files, cached by (path, mtime, size).

    Where the files may be (each name resolved, checked to be inside the workspace and not
    a credential file) is worked out once per :data:`RESOLVE_S` (that was most of a
    request's ~35 syscalls here); each candidate is still stat'ed on every read. So a rule
    file created, deleted or edited counts on the next request; a symlink re-pointed
    counts after at most :data:`RESOLVE_S`, or at once when the editor reports it
    (:meth:`files_changed`).
    """

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[int, int, str]] = {}
        # (roots, configured names) -> (monotonic time resolved, candidates)
        self._plan: tuple[tuple[tuple[Path, ...], tuple[str, ...]], float, list[_Candidate]] | None
        self._plan = None

    def read(self, roots: list[Path], configured: list[str]) -> list[RuleFile]:
        out: list[RuleFile] = []
        for c in self._candidates(roots, configured):
            text = self._read(c.path)
            if text is not None:
                rel = c.path.relative_to(c.root).as_posix()
                out.append(RuleFile(rel, text, c.reason, str(c.path)))
        return out

    def files_changed(self, paths: list[str]) -> None:
        """The editor reported these files or folders changed: resolve again if one of
        them is (or holds) a rule file's place."""
        plan = self._plan
        if plan is None:
            return
        places = [p for c in plan[2] for p in (c.named, str(c.path))]
        if any(place == p or place.startswith(p + os.sep) for p in paths for place in places):
            self._plan = None

    def _candidates(self, roots: list[Path], configured: list[str]) -> list[_Candidate]:
        key = (tuple(roots), tuple(configured))
        now = time.monotonic()
        plan = self._plan
        if plan is not None and plan[0] == key and now - plan[1] < RESOLVE_S:
            return plan[2]
        found: list[_Candidate] = []
        seen: set[Path] = set()
        for root in roots:
            names = [(n, "well-known project rules file") for n in WELL_KNOWN_RULES]
            names += [(n, "listed in [context] rules") for n in configured]
            for name, reason in names:
                path = (root / name).resolve()
                if path in seen:
                    continue
                if not (path == root or root in path.parents):
                    log.warning("context rules: %s is outside the workspace; skipped", name)
                    continue
                if is_secret_path(path):
                    log.warning("context rules: %s looks like a credential file; skipped", name)
                    continue
                seen.add(path)
                found.append(_Candidate(str(root / name), path, root, reason))
        self._plan = (key, now, found)
        return found

    def _read(self, path: Path) -> str | None:
        try:
            st = os.stat(path)
        except OSError:
            self._cache.pop(path, None)
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        cached = self._cache.get(path)
        if cached is not None and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
            return cached[2]
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_RULE_BYTES)
        except OSError:
            return None
        text = redact(data.decode("utf-8", errors="replace")).strip()
        if st.st_size > MAX_RULE_BYTES:
            text += "\n[... truncated]"
        self._cache[path] = (st.st_mtime_ns, st.st_size, text)
        return text
