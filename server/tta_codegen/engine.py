"""The pipeline every client shares: request → context → prompt → model → code stream.

The engine knows no editor and no terminal. It pushes code into a :class:`CodeSink`
(the LSP edit session, or the CLI's file writer) and returns a :class:`GenerationResult`;
clients turn those into applyEdits, progress and answers. Cancellation arrives as
``asyncio.CancelledError`` and is left to the client, which owns the document.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from tta_codegen.config import Config
from tta_codegen.context.types import ContextProvider, ContextResult
from tta_codegen.extract import CodeExtractor
from tta_codegen.models.base import ChatMessage, ModelRequest, TextDelta, Usage
from tta_codegen.models.errors import ModelError
from tta_codegen.models.router import (
    AllModelsFailed,
    AttemptFailed,
    AttemptStarted,
    Finished,
    ModelRouter,
)
from tta_codegen.prompts.builder import PromptBuilder
from tta_codegen.prompts.loader import PromptError
from tta_codegen.request import GenerationRequest, language_for

__all__ = ["Engine", "GenerationRequest", "GenerationResult", "language_for"]

Status = Literal["completed", "cancelled", "failed"]


@dataclass
class Attempt:
    model: str
    error: str | None = None


@dataclass
class GenerationResult:
    status: Status
    text: str = ""
    model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    iterations: int = 0
    gates: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    ttft_s: float | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    total_s: float = 0.0

    def to_answer(self) -> dict[str, Any]:
        """The contract's answer object."""
        answer: dict[str, Any] = {
            "status": self.status,
            "text": self.text,
            "model": self.model,
            "attempts": [
                {"model": a.model, **({"error": a.error} if a.error else {})} for a in self.attempts
            ],
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
            },
            "cost_usd": round(self.cost_usd, 8),
            "iterations": self.iterations,
            "gates": self.gates,
        }
        if self.error is not None:
            answer["error"] = self.error
        if self.warnings:
            answer["warnings"] = self.warnings
        return answer


class CodeSink(Protocol):
    """Where streamed code goes. ``write`` must not block; the sink batches."""

    def write(self, text: str) -> None: ...

    async def reset(self) -> None:
        """Forget everything written so far (a model failed mid-stream; the next one starts)."""
        ...

    def progress(self, model: str, tokens: int) -> None: ...


class GenerationFailed(Exception):
    """Raised inside the engine for a reply that streamed but produced no usable code."""


class Engine:
    """Holds the per-process pieces (config, router, templates) the pipeline uses."""

    def __init__(
        self,
        config: Config,
        router: ModelRouter,
        *,
        context: ContextProvider | None = None,
        prompts: PromptBuilder | None = None,
    ) -> None:
        self.config = config
        self.router = router
        self.context = context
        self.prompts = prompts or PromptBuilder(config)

    async def gather_context(self, request: GenerationRequest) -> ContextResult | None:
        if self.context is None:
            return None
        return await self.context.gather(request, self.config)

    async def build_messages(self, request: GenerationRequest) -> list[ChatMessage]:
        context = await self.gather_context(request)
        # Rendering reads template files: keep it off the event loop.
        return await asyncio.to_thread(self.prompts.build, request, context)

    async def generate(self, request: GenerationRequest, sink: CodeSink) -> GenerationResult:
        started = time.perf_counter()
        result = GenerationResult(status="failed", iterations=1)
        try:
            messages = await self.build_messages(request)
        except PromptError as exc:
            result.error = str(exc)
            return result
        gen = self.config.generation
        model_request = ModelRequest(
            messages=messages,
            max_tokens=gen.max_tokens,
            temperature=gen.temperature,
            task_type=await asyncio.to_thread(self.prompts.task_type, request),
        )
        state = _AttemptState(gen.max_output_chars)
        try:
            async for event in self.router.stream(
                model_request, request.model, should_stop=state.should_stop
            ):
                if isinstance(event, AttemptStarted):
                    state.start(event.model)
                    sink.progress(event.model, 0)
                elif isinstance(event, TextDelta):
                    if result.ttft_s is None:
                        result.ttft_s = time.perf_counter() - started
                    code = state.feed(event.text)
                    if code:
                        sink.write(code)
                    sink.progress(state.model, state.tokens)
                elif isinstance(event, AttemptFailed):
                    result.attempts.append(Attempt(event.model, event.error))
                    if state.written:
                        await sink.reset()
                elif isinstance(event, Finished):
                    tail = state.finish()
                    if tail:
                        sink.write(tail)
                    result.attempts.append(Attempt(event.model, state.failure))
                    if state.failure:
                        # The model answered, but with nothing usable: same as a failure.
                        if state.written:
                            await sink.reset()
                        result.error = state.failure
                        result.model = event.model
                        result.usage, result.cost_usd = event.usage, event.cost_usd
                        return result
                    result.status = "completed"
                    result.text = state.text()
                    result.warnings = [f.to_dict() for f in self.router.check_output(result.text)]
                    result.model = event.model
                    result.usage, result.cost_usd = event.usage, event.cost_usd
        except AllModelsFailed as exc:
            result.error = str(exc)
        except ModelError as exc:
            result.error = str(exc)
        finally:
            result.total_s = time.perf_counter() - started
        return result


class _AttemptState:
    """What one model attempt produced so far."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.model = ""
        self.start("")

    def start(self, model: str) -> None:
        self.model = model
        self.extractor = CodeExtractor()
        self.parts: list[str] = []
        self.chars = 0
        self.tokens = 0
        self.failure: str | None = None

    @property
    def written(self) -> bool:
        return self.chars > 0

    def should_stop(self) -> bool:
        return self.extractor.done or self.failure is not None

    def feed(self, text: str) -> str:
        self.tokens += 1
        code = self.extractor.feed(text)
        return self._take(code)

    def _take(self, code: str) -> str:
        if not code or self.failure:
            return ""
        if self.chars + len(code) > self.max_chars:
            self.failure = (
                f"the reply exceeded generation.max_output_chars ({self.max_chars}); "
                "nothing was kept"
            )
            return ""
        self.parts.append(code)
        self.chars += len(code)
        return code

    def finish(self) -> str:
        tail = self._take(self.extractor.finish())
        if self.failure is None and not self.extractor.saw_code:
            self.failure = (
                "the model answered with prose and no code"
                if self.extractor.saw_prose or self.tokens
                else "the model returned an empty reply"
            )
        return tail

    def text(self) -> str:
        return "".join(self.parts)
