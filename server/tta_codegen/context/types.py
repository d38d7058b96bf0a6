"""The context stage's interface to the engine: a request in, a budgeted block out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tta_codegen.config import Config
    from tta_codegen.request import GenerationRequest


@dataclass(frozen=True)
class ContextPart:
    """One piece of context and why it was chosen (shown by tta.explainContext)."""

    kind: str  # "rules" | "example" | "repo_map" | "current_file" | ...
    source: str  # a path (with line range) or a name
    text: str
    reason: str
    tokens: int = 0


@dataclass
class ContextResult:
    text: str = ""  # what goes into the prompt's context slot
    rules: str = ""  # project rules, for the system prompt
    parts: list[ContextPart] = field(default_factory=list)
    # The text around the cursor, sized to the budget and redacted; None lets the prompt
    # builder cut its own window from the request.
    before: str | None = None
    after: str | None = None
    max_tokens: int = 0  # the budget this result was packed into
    used_tokens: int = 0


class ContextProvider(Protocol):
    async def gather(self, request: GenerationRequest, config: Config) -> ContextResult: ...

    def gather_work(
        self, request: GenerationRequest, config: Config
    ) -> Callable[[], ContextResult]:
        """``gather``'s blocking part, for a worker thread the caller already uses (the
        engine renders the prompt in the same thread: one hop, not two). Called on the
        event loop."""
        ...
