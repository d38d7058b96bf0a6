"""What a client asks the engine for, in engine terms (offsets, not LSP positions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass
class GenerationRequest:
    """One generate/refine/tests request, in server terms (offsets into ``text``)."""

    kind: Literal["generate", "refine", "tests"]
    path: str
    language: str
    text: str  # the document as it was when the request arrived
    start: int  # insertion point, or start of the range to rewrite
    end: int  # == start for an insertion
    description: str
    model: str | None = None
    template: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    refine: bool | None = None  # None: the config's [refine] enabled
    workspace_root: str | None = None
    # For the gates: more files to place beside the candidate, and tests to run.
    gate_files: dict[str, str] = field(default_factory=dict)
    test_targets: list[str] = field(default_factory=list)

    @property
    def task_type(self) -> str:
        return {"generate": "code_generation", "refine": "refinement", "tests": "tests"}[self.kind]


LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".ts": "typescript", ".tsx": "typescriptreact", ".jsx": "javascriptreact", ".go": "go",
    ".rs": "rust", ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".hpp": "cpp",
    ".cs": "csharp", ".rb": "ruby", ".php": "php", ".lua": "lua", ".sh": "shellscript",
    ".sql": "sql", ".html": "html", ".css": "css", ".md": "markdown", ".toml": "toml",
    ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".kt": "kotlin", ".swift": "swift",
}  # fmt: skip


def language_for(path: str, language_id: str | None = None) -> str:
    if language_id:
        return language_id
    return LANGUAGE_BY_SUFFIX.get(Path(path).suffix.lower(), "")
