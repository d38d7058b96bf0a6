"""A circuit breaker per model: stop sending to a model that keeps failing, probe it later.

Closed: requests flow; ``failure_threshold`` consecutive failures open it. Open: the model
is skipped until ``recovery_timeout_s`` has passed. Half-open: one request is let through;
success closes the circuit, failure opens it again for another timeout. A provider that
asks for a long pause (Retry-After beyond what we wait) opens it for that long.

The board is process-wide by default so a config reload (a new router) keeps what was
learnt about each model; tests pass their own board and clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tta_codegen.models.settings import BreakerConfig

State = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    state: State = "closed"
    consecutive_failures: int = 0
    total_failures: int = 0
    total_successes: int = 0
    opened_at: float = 0.0
    open_for_s: float = 0.0
    probing: bool = False  # a half-open trial request is in flight
    last_error: str | None = None


class BreakerBoard:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, model_id: str) -> CircuitBreaker:
        return self._breakers.setdefault(model_id, CircuitBreaker())

    def state(self, model_id: str, config: BreakerConfig) -> State:
        """The state now (an open circuit whose timeout passed reads as half-open)."""
        b = self._breakers.get(model_id)
        if b is None or not config.enabled:
            return "closed"
        if b.state == "open" and self._clock() - b.opened_at >= b.open_for_s:
            return "half_open"
        return b.state

    def seconds_until_retry(self, model_id: str) -> float:
        b = self.get(model_id)
        return max(0.0, b.opened_at + b.open_for_s - self._clock())

    def allow(self, model_id: str, config: BreakerConfig) -> bool:
        """May a request go to this model now? Claims the half-open probe if it is free."""
        if not config.enabled:
            return True
        state = self.state(model_id, config)
        if state == "closed":
            return True
        if state == "open":
            return False
        b = self.get(model_id)
        if b.probing:
            return False  # one probe at a time
        b.state, b.probing = "half_open", True
        return True

    def success(self, model_id: str) -> None:
        b = self.get(model_id)
        b.state, b.consecutive_failures, b.probing = "closed", 0, False
        b.total_successes += 1

    def failure(
        self, model_id: str, config: BreakerConfig, error: str, cooldown_s: float | None = None
    ) -> None:
        b = self.get(model_id)
        b.consecutive_failures += 1
        b.total_failures += 1
        b.last_error = error
        was_probe = b.state == "half_open"
        b.probing = False
        if not config.enabled:
            return
        if was_probe or b.consecutive_failures >= config.failure_threshold or cooldown_s:
            b.state = "open"
            b.opened_at = self._clock()
            b.open_for_s = max(config.recovery_timeout_s, cooldown_s or 0.0)

    def release(self, model_id: str) -> None:
        """A probe ended with neither success nor failure (cancelled): let another try."""
        self.get(model_id).probing = False


_shared = BreakerBoard()


def shared_board() -> BreakerBoard:
    return _shared
