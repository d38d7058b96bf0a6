"""Guards that stop a run the agent itself would not stop.

OpenHands issue #8630: the agent can condense its context over and over without ever
editing a file. Its own stuck detector counts only ``condense`` observations, which
recent versions no longer emit, so a run of ``condensation`` / ``condensation_request``
actions goes unnoticed there: this guard counts both. It also catches the plainer loop
of the same action with the same arguments, again and again.

Pure logic over the backend's raw events: no I/O, no clock (the run loop owns time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

CONDENSATION_ACTIONS = frozenset({"condensation", "condensation_request"})
CONDENSATION_OBSERVATIONS = frozenset({"condense"})
# Argument keys that vary between otherwise identical actions (free text, bookkeeping).
_VOLATILE_ARGS = frozenset({"thought", "reasoning_content", "security_risk", "confirmation_state"})


@dataclass(frozen=True)
class LoopVerdict:
    reason: Literal["condensation_loop", "repeated_action"]
    message: str


class LoopGuard:
    """Feed it every event, in order; it answers a verdict once a loop is certain."""

    def __init__(self, condensation_limit: int, repeat_limit: int) -> None:
        self.condensation_limit = condensation_limit
        self.repeat_limit = repeat_limit
        self.condensations_in_a_row = 0
        self.condensations_total = 0
        self._last_signature: str | None = None
        self._repeats = 0

    def observe(self, event: dict[str, Any]) -> LoopVerdict | None:
        if "observation" in event:
            if event.get("observation") in CONDENSATION_OBSERVATIONS:
                return self._condensed()
            # Other observations are answers to actions: they neither break nor extend a loop.
            return None
        action = event.get("action")
        if not isinstance(action, str) or event.get("source") != "agent":
            return None
        if action in CONDENSATION_ACTIONS:
            return self._condensed()
        self.condensations_in_a_row = 0
        signature = _signature(action, event.get("args"))
        if signature == self._last_signature:
            self._repeats += 1
        else:
            self._last_signature, self._repeats = signature, 1
        if self._repeats >= self.repeat_limit:
            return LoopVerdict(
                "repeated_action",
                f"the agent repeated the same {action!r} action {self._repeats} times in a row "
                "without progress; stopped it",
            )
        return None

    def _condensed(self) -> LoopVerdict | None:
        self.condensations_in_a_row += 1
        self.condensations_total += 1
        if self.condensations_in_a_row >= self.condensation_limit:
            return LoopVerdict(
                "condensation_loop",
                f"the agent condensed its context {self.condensations_in_a_row} times in a row "
                "without doing any work (the known OpenHands condensation loop, issue #8630); "
                "stopped it. Use the direct model for this task, or raise "
                "[agents.openhands] condensation_limit if this was real progress",
            )
        return None


def _signature(action: str, args: Any) -> str:
    if isinstance(args, dict):
        args = {k: v for k, v in args.items() if k not in _VOLATILE_ARGS}
    try:
        return action + ":" + json.dumps(args, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return action + ":" + repr(args)


__all__ = ["CONDENSATION_ACTIONS", "LoopGuard", "LoopVerdict"]
