"""The commands' answers as pydantic models: the contract's shapes (docs/protocol.md).

Built whole by the flows and turned into JSON once, at the edge (:meth:`_Answer.wire`),
so no answer is a dict patched after the fact. Optional fields the contract marks with
``?`` are left out of the JSON when they are None; every other field is always sent (a
generation's ``model`` is ``null`` when no model answered).

A generation's base fields (status ... warnings) are the engine's
:meth:`~tta_codegen.engine.GenerationResult.to_answer`, the same object the CLI prints for
``--json``; the LSP adds ``range``, ``diagnostics``, ``review``, ``tests``, ``uri``,
``created`` and ``agent``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from tta_codegen.engine import GenerationResult, Status


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Fields the contract marks optional: absent from the JSON when None.
    omit_if_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (v is None and k in self.omit_if_none)}

    def wire(self) -> dict[str, Any]:
        """The JSON object sent to the client."""
        return self.model_dump(mode="json")


class PositionAnswer(_Answer):
    line: int
    character: int


class RangeAnswer(_Answer):
    start: PositionAnswer
    end: PositionAnswer

    @classmethod
    def of(cls, region: types.Range) -> RangeAnswer:
        return cls(
            start=PositionAnswer(line=region.start.line, character=region.start.character),
            end=PositionAnswer(line=region.end.line, character=region.end.character),
        )


class AttemptAnswer(_Answer):
    omit_if_none = frozenset({"error"})
    model: str
    error: str | None = None


class UsageAnswer(_Answer):
    omit_if_none = frozenset({"estimated"})
    prompt_tokens: int
    completion_tokens: int
    estimated: Literal[True] | None = None


class ReviewRef(_Answer):
    """``review``: the pending change a generation left (review mode)."""

    id: str
    range: RangeAnswer


class DiagnosticAnswer(_Answer):
    """One published diagnostic (a failing gate, a safety warning) in the answer."""

    line: int
    message: str
    source: str | None


class AgentFileAnswer(_Answer):
    path: str
    uri: str
    created: bool


class AgentAnswer(_Answer):
    """``agent``: how the agent backend ran a ``tta.generate``."""

    task_id: str | None
    reason: str
    end: str
    files: list[AgentFileAnswer]


class GenerationAnswer(_Answer):
    """The answer of ``tta.generate``, ``tta.refine``, ``tta.generateTests`` and
    ``tta.regenerate``."""

    omit_if_none = frozenset(
        {
            "error",
            "warnings",
            "range",
            "diagnostics",
            "review",
            "tests",
            "uri",
            "created",
            "agent",
        }
    )
    status: Status
    text: str
    model: str | None
    attempts: list[AttemptAnswer]
    usage: UsageAnswer
    cost_usd: float
    iterations: int
    gates: list[dict[str, Any]]
    error: str | None = None
    warnings: list[dict[str, Any]] | None = None
    range: RangeAnswer | None = None
    diagnostics: list[DiagnosticAnswer] | None = None
    review: ReviewRef | None = None
    tests: GenerationAnswer | None = None  # tta.generate with tests: true
    uri: str | None = None  # tta.generateTests: the test file
    created: bool | None = None  # tta.generateTests: it created the test file
    agent: AgentAnswer | None = None

    @classmethod
    def of(cls, result: GenerationResult, **fields: Any) -> GenerationAnswer:
        """The engine's answer object for ``result``, plus the LSP's own ``fields``."""
        return cls.model_validate({**result.to_answer(), **fields})

    @classmethod
    def failed(cls, error: str) -> GenerationAnswer:
        """Refused before anything ran (bad config, an overlapping generation)."""
        return cls.of(GenerationResult(status="failed", error=error))


class ChangeAnswer(_Answer):
    """What became of a pending change or a running generation (``tta.accept``,
    ``tta.discard``, ``tta.cancel``), or why it was refused (``status: "refused"``, with
    the ``actions`` a client offers, e.g. "Discard anyway")."""

    omit_if_none = frozenset({"message", "error", "actions"})
    status: Literal["accepted", "discarded", "refused", "failed", "cancelling"]
    id: str
    message: str | None = None
    error: str | None = None
    actions: list[dict[str, Any]] | None = None


class DiffAnswer(_Answer):
    """``tta.diff``: the pending change, original → now."""

    id: str
    uri: str
    range: RangeAnswer
    diff: str
    original: str
    current: str
    # The whole document as it was, for a side-by-side view (VS Code's vscode.diff).
    original_document: str


class PendingSummary(_Answer):
    """One row of ``tta.listPending``."""

    id: str
    uri: str
    range: RangeAnswer
    command: str
    model: str | None
