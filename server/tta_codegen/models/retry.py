"""When to try the same model again, and how long to wait first.

Exponential backoff with full jitter (AWS's recommendation: spreads retries of many
clients apart), except that a provider's own ``Retry-After`` / ``retry-after-ms`` wins.
Errors that cannot get better by waiting (400/401/402/403, spend limits, context length)
are never retried here; the router may still move on to another model.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tta_codegen.models.errors import ProviderError
from tta_codegen.models.settings import RetryConfig

# A context-length error is "retryable" for fallback (a bigger model may fit) but the same
# model will refuse the same prompt again.
_NEVER_SAME_MODEL = {"context_length", "auth", "spend_limit", "bad_request", "not_found"}
_NEVER_STATUS = {400, 401, 402, 403}


def can_retry_same_model(error: ProviderError) -> bool:
    if not error.retryable or error.kind in _NEVER_SAME_MODEL:
        return False
    return error.status not in _NEVER_STATUS


class RetryPolicy:
    def __init__(self, config: RetryConfig, rand: Callable[[], float] = random.random) -> None:
        self.config = config
        self._rand = rand

    def delay(self, retry_number: int, error: ProviderError) -> float | None:
        """Seconds to wait before retry ``retry_number`` (1-based), or None: don't retry."""
        cfg = self.config
        if retry_number > cfg.max_retries or not can_retry_same_model(error):
            return None
        if error.retry_after is not None:
            if error.retry_after > cfg.max_retry_after_s:
                return None  # too long for an editor: fall back now, cool this model down
            return error.retry_after
        ceiling = min(cfg.max_delay_s, cfg.base_delay_s * 2.0 ** (retry_number - 1))
        # Full jitter, but never less than half the ceiling so a retry is a real backoff.
        return ceiling * (0.5 + 0.5 * self._rand())
