"""Project rules: the conventions the generated code must follow, from the repo itself.

Read from the well-known files agents look for (``AGENTS.md``, ``CLAUDE.md``,
``.cursorrules``, ``.github/copilot-instructions.md``, ``docs/ARCHITECTURE.md``) and
from ``[context] rules``. Only files inside the workspace are read, never credential
files, and the text is redacted like everything else that leaves the machine.
"""

from __future__ import annotations

import logging
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


@dataclass(frozen=True)
class RuleFile:
    source: str  # path relative to its root
    text: str
    reason: str
    path: str = ""  # absolute


class RulesReader:
    """Reads rule files, cached by (path, mtime, size)."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[float, int, str]] = {}

    def read(self, roots: list[Path], configured: list[str]) -> list[RuleFile]:
        out: list[RuleFile] = []
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
                text = self._read(path)
                if text is None:
                    continue
                seen.add(path)
                rel = path.relative_to(root).as_posix()
                out.append(RuleFile(rel, text, reason, str(path)))
        return out

    def _read(self, path: Path) -> str | None:
        try:
            st = path.stat()
        except OSError:
            self._cache.pop(path, None)
            return None
        if not path.is_file():
            return None
        cached = self._cache.get(path)
        if cached is not None and cached[0] == st.st_mtime and cached[1] == st.st_size:
            return cached[2]
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_RULE_BYTES)
        except OSError:
            return None
        text = redact(data.decode("utf-8", errors="replace")).strip()
        if st.st_size > MAX_RULE_BYTES:
            text += "\n[... truncated]"
        self._cache[path] = (st.st_mtime, st.st_size, text)
        return text
