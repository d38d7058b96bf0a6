"""What an agent run reports, independent of the agent behind it.

A backend turns its own wire format into these events; the editor side (``lsp.agent``)
and the CLI only ever see these. File changes carry a path relative to the workspace
and the edit as an operation, so the caller applies it to the text the *editor* has,
as an edit the user can see, never to the disk behind the editor's back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from tta_codegen.models.base import Usage


@dataclass(frozen=True)
class WriteFile:
    """Replace the whole file (or create it) with ``content``."""

    content: str


@dataclass(frozen=True)
class ReplaceText:
    """Replace the one occurrence of ``old`` with ``new``."""

    old: str
    new: str


@dataclass(frozen=True)
class InsertText:
    """Insert ``text`` as whole lines after line ``line`` (1-based; 0 inserts at the top)."""

    line: int
    text: str


EditOp = WriteFile | ReplaceText | InsertText


@dataclass(frozen=True)
class AgentStarted:
    task_id: str


@dataclass(frozen=True)
class AgentStep:
    """One action the agent took (a step counts toward ``max_iterations``)."""

    index: int
    kind: str
    summary: str


@dataclass(frozen=True)
class FileChange:
    """The agent changed a file (confirmed by its sandbox): apply ``op`` to ``path``."""

    path: PurePosixPath
    op: EditOp


Outcome = Literal["finished", "failed", "cancelled"]
# Why a run ended: the agent's own end, or which guard stopped it.
EndReason = Literal[
    "finished",
    "awaiting_user_input",
    "agent_error",
    "agent_stopped",
    "condensation_loop",
    "repeated_action",
    "time_limit",
    "idle_timeout",
    "max_iterations",
    "cost_cap",
    "unauthorized",
    "unavailable",
    "protocol",
    "cancelled",
]


@dataclass(frozen=True)
class AgentEnded:
    """Always the last event of a run."""

    outcome: Outcome
    reason: EndReason
    message: str
    iterations: int = 0
    cost_usd: float = 0.0
    usage: Usage = field(default_factory=Usage)


AgentEvent = AgentStarted | AgentStep | FileChange | AgentEnded


@dataclass(frozen=True)
class AgentTask:
    """What to do and where: ``workspace`` is the editor's folder the agent works in."""

    description: str
    workspace: str


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


__all__ = [
    "AgentEnded",
    "AgentEvent",
    "AgentStarted",
    "AgentStep",
    "AgentTask",
    "EditOp",
    "EndReason",
    "FileChange",
    "Health",
    "InsertText",
    "Outcome",
    "ReplaceText",
    "WriteFile",
]
