"""Typed failures of the model layer; the router decides on retry/fallback from them."""

from __future__ import annotations

_RETRYABLE_KINDS = {"connect", "timeout", "overloaded", "rate_limit", "server", "stream"}


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
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.kind = kind
        if retryable is None:
            retryable = kind in _RETRYABLE_KINDS
            if status is not None and (status == 429 or status >= 500):
                retryable = True
        self.retryable = retryable

    def __str__(self) -> str:
        prefix = f"HTTP {self.status}: " if self.status else ""
        return f"{prefix}{self.message}"


class NoModelConfigured(ModelError):
    """No model can serve the request; the message says what to configure."""
