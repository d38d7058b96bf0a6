"""What every provider speaks: a chat request in, a stream of text deltas and usage out.

Providers know nothing of documents, edits or routing; the router knows nothing of wire
formats. Keep these types small: they are the seam between the two.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol

from tta_codegen.config import ModelConfig, ProviderConfig


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class FimPrompt:
    """Fill-in-the-middle: the code before and after the cursor (inline completion).

    A model configured for FIM (``fim`` / ``fim_template``) gets these on its provider's
    completion endpoint; any other model gets ``ModelRequest.messages`` (a chat prompt
    asking for the middle), which the caller always fills in as well.
    """

    prefix: str
    suffix: str


@dataclass
class ModelRequest:
    messages: list[ChatMessage]
    max_tokens: int = 1024
    temperature: float = 0.2
    stop: list[str] = field(default_factory=list)
    task_type: str = "code_generation"
    fim: FimPrompt | None = None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Set when the provider reports the price itself (OpenRouter's usage.cost).
    cost_usd: float | None = None
    # True when the provider sent no usage and the counts are ours (chars/4, chunks).
    estimated: bool = False


@dataclass(frozen=True)
class Stop:
    """Why the provider ended the reply, in one vocabulary for every wire format.

    ``"length"`` means the token limit cut it off (OpenAI ``finish_reason: "length"``,
    Anthropic ``stop_reason: "max_tokens"``, Ollama ``done_reason: "length"``, llama.cpp's
    ``"length"``): the reply is not whole. Anything else (``"stop"``) ended it normally.
    """

    reason: str


StreamItem = TextDelta | Usage | Stop


class Provider(Protocol):
    """One backend (an HTTP API or an in-process model)."""

    config: ProviderConfig

    def stream(self, model: ModelConfig, request: ModelRequest) -> AsyncGenerator[StreamItem]:
        """Yield text deltas as they arrive, then (at most) one Stop and one Usage."""
        ...

    async def aclose(self) -> None: ...
