"""What a client asks the engine for, in engine terms (offsets, not LSP positions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tta_codegen.stubs import Stub


@dataclass
class GenerationRequest:
    """One generate/refine/tests request, in server terms (offsets into ``text``)."""

    # "implement": fill the body of ``stub`` (``[start, end)`` is the whole function).
    kind: Literal["generate", "refine", "tests", "implement"]
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
    stub: Stub | None = None

    @property
    def task_type(self) -> str:
        return {
            "generate": "code_generation",
            "implement": "code_generation",
            "refine": "refinement",
            "tests": "tests",
        }[self.kind]


def whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a selection to whole lines when only indentation or a newline is left out,
    so the rewrite owns its indentation and the selection's last newline."""
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip():
        start = line_start
    if end > start and text[end - 1 : end] != "\n":
        nl = text.find("\n", end)
        rest = text[end:nl] if nl >= 0 else text[end:]
        if not rest.strip():
            end = nl + 1 if nl >= 0 else len(text)
    return start, end


def insert_request(
    *, path: str, language: str, text: str, offset: int, description: str, **fields: Any
) -> GenerationRequest:
    """A request to write new code at ``offset`` (``tta.generate``, ``tta-codegen generate``).

    ``fields``: the rest of :class:`GenerationRequest` (model, template, variables, refine…).
    """
    return GenerationRequest(
        kind="generate",
        path=path,
        language=language,
        text=text,
        start=offset,
        end=offset,
        description=description,
        **fields,
    )


def refine_request(
    *,
    path: str,
    language: str,
    text: str,
    start: int,
    end: int,
    instruction: str,
    **fields: Any,
) -> GenerationRequest:
    """A request to rewrite ``[start, end)`` following ``instruction`` (``tta.refine``,
    ``tta-codegen refine``); callers widen the range with :func:`whole_lines` first."""
    return GenerationRequest(
        kind="refine",
        path=path,
        language=language,
        text=text,
        start=start,
        end=end,
        description=instruction,
        **fields,
    )


def implement_request(
    *,
    path: str,
    language: str,
    text: str,
    stub: Stub,
    description: str,
    **fields: Any,
) -> GenerationRequest:
    """A request to write ``stub``'s body: the model sees the function as the selection."""
    task = (
        f"Implement the function {stub.name}(): replace its placeholder body with a working "
        "implementation. Keep its decorators, signature and docstring exactly as they are. "
        "Answer with the whole function."
    )
    if description.strip():
        task += f"\n\nWhat it must do: {description.strip()}"
    return GenerationRequest(
        kind="implement",
        path=path,
        language=language,
        text=text,
        start=stub.start,
        end=stub.end,
        description=task,
        stub=stub,
        **fields,
    )


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
