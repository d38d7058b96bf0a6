"""Typed failures of the model layer; the router decides on retry/fallback from them."""

from __future__ import annotations

_RETRYABLE_KINDS = {"connect", "timeout", "overloaded", "rate_limit", "server", "stream"}
# Failures that say something about the request, not about the model's health.
INPUT_KINDS = {"context_length"}


class ModelError(Exception):
    """Base of everything the model layer raises on purpose."""


class ProviderError(ModelError):
    """A provider failed a request.

    ``retryable`` says whether trying again (here or on another model) can help;
    ``kind`` names the failure class the router and the user care about.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        kind: str = "error",
        retryable: bool | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.kind = kind
        # False when nothing reached the provider (no API key in the environment).
        self.sent = sent
        if retryable is None:
            retryable = kind in _RETRYABLE_KINDS
            if status is not None and (status == 429 or status >= 500):
                retryable = True
        self.retryable = retryable

    @property
    def counts_against_model(self) -> bool:
        """Whether this failure is the model's (health, circuit breaker) or ours.

        A missing key (nothing sent) is configuration; an input too long for the context
        window is the request's. Neither says the model is unwell.
        """
        return self.sent and self.kind not in INPUT_KINDS

    def __str__(self) -> str:
        prefix = f"HTTP {self.status}: " if self.status else ""
        return f"{prefix}{self.message}"


class NoModelConfigured(ModelError):
    """No model can serve the request; the message says what to configure."""
