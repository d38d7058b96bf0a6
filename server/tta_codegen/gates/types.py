"""What goes into the gates and what comes out: plain dataclasses, no behaviour beyond shaping.

Positions are 0-based lines and columns in :attr:`GateInput.text`, like LSP; the text a
refinement prompt gets (:func:`failure_summary`) numbers lines from 1, like an editor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RequiredDefinition:
    """A function the generated code must define, e.g. the stub being implemented."""

    name: str
    params: tuple[str, ...]  # parameter names in order, `*args`/`**kw` as written
    # The function's docstring in the original text (its examples are checked too).
    docstring: str = ""


@dataclass
class GateInput:
    # The file's path relative to the workspace root (absolute when there is no workspace).
    path: str
    # The whole file with the generated code applied.
    text: str
    language: str
    workspace_root: Path | None
    # Lines of the generated code in `text`: [start, end), 0-based; None means the whole file.
    # Lint and type errors outside it are not the generated code's and do not fail a gate.
    region: tuple[int, int] | None = None
    # More files to place beside the candidate, e.g. generated tests: relpath -> text.
    extra_files: dict[str, str] = field(default_factory=dict)
    # Test files (relpaths) the `tests` gate runs; read from the workspace unless in extra_files.
    test_targets: list[str] = field(default_factory=list)
    # What the user asked for, in words: its examples are checked by the `examples` gate.
    description: str = ""
    # Functions the code must define (name and parameters): the `definition` gate checks them.
    required: list[RequiredDefinition] = field(default_factory=list)

    def in_region(self, line: int) -> bool:
        if self.region is None:
            return True
        start, end = self.region
        return start <= line < max(end, start + 1)


@dataclass(frozen=True)
class GateDiagnostic:
    line: int  # 0-based, in GateInput.text
    column: int  # 0-based
    message: str
    code: str | None = None


@dataclass(frozen=True)
class SandboxInfo:
    """How well a gate process was isolated on this machine (probed once per server)."""

    network_isolated: bool
    filesystem_readonly: bool
    process_limit: str  # "cgroup" | "rlimit" | "none"
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "network_isolated": self.network_isolated,
            "filesystem_readonly": self.filesystem_readonly,
            "process_limit": self.process_limit,
            "notes": list(self.notes),
        }


@dataclass
class GateResult:
    name: str
    passed: bool
    message: str | None = None
    diagnostics: list[GateDiagnostic] = field(default_factory=list)
    duration_s: float = 0.0
    # True when the gate could not run (its tool is missing); it then does not fail.
    skipped: bool = False
    timed_out: bool = False
    # Full (truncated) output of the gate's process, for logs; `message` is the summary.
    output: str = ""
    sandbox: SandboxInfo | None = None
    # Partial credit: the share of checks inside the gate that passed (tests, examples),
    # when the gate counts them; the candidate selection scores with it.
    fraction: float | None = None
    # What the code computed on the examples' inputs (reprs, in order): candidates that
    # agree with each other are preferred. Only the `examples` gate fills it.
    observed: list[str] = field(default_factory=list)

    def to_answer(self) -> dict[str, Any]:
        """The contract's ``{name, passed, message?}``."""
        answer: dict[str, Any] = {"name": self.name, "passed": self.passed}
        if self.message:
            answer["message"] = self.message
        return answer


def describe(diagnostics: list[GateDiagnostic], limit: int = 10) -> str:
    """`limit` located errors, one a line, numbered from 1 like an editor shows them."""
    lines = []
    for diag in diagnostics[:limit]:
        code = f" [{diag.code}]" if diag.code else ""
        lines.append(f"line {diag.line + 1}, column {diag.column + 1}: {diag.message}{code}")
    if len(diagnostics) > limit:
        lines.append(f"... and {len(diagnostics) - limit} more")
    return "\n".join(lines)


def failure_summary(results: list[GateResult]) -> str:
    """The failed gates and why, worded for a refinement prompt; empty when all passed."""
    return "\n\n".join(
        f"Gate `{r.name}` failed:\n{r.message or '(no output)'}" for r in results if not r.passed
    )
