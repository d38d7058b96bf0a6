"""The agent interface: start a task in a workspace, stream its events, cancel it.

Any autonomous agent (OpenHands today) sits behind this; callers never see its wire
format. ``AgentRun.events`` always ends with exactly one :class:`AgentEnded`, whatever
happened (the agent finished, failed, looped, hung, or could not be reached), so a
caller needs no error path of its own besides cancellation.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from tta_codegen.agents.events import AgentEvent, AgentTask, Health


class AgentRun(Protocol):
    @property
    def task_id(self) -> str | None:
        """The agent's id for the task, once started."""
        ...

    def events(self) -> AsyncGenerator[AgentEvent, None]:
        """Start the task and yield what happens, ending with one ``AgentEnded``."""
        ...

    async def cancel(self) -> None:
        """Stop the task on the agent's side (idempotent; safe before it started)."""
        ...


class AgentBackend(Protocol):
    name: str

    async def health(self) -> Health:
        """A cheap check that the agent is reachable and accepts our key."""
        ...

    def start(self, task: AgentTask) -> AgentRun:
        """A run of ``task``; nothing is sent until its events are iterated."""
        ...

    async def aclose(self) -> None: ...


__all__ = ["AgentBackend", "AgentRun"]
