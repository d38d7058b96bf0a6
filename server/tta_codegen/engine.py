"""The pipeline every client shares: request → context → prompt → model → code stream.

The engine knows no editor and no terminal. It pushes code into a :class:`CodeSink`
(the LSP edit session, or the CLI's file writer) and returns a :class:`GenerationResult`;
clients turn those into applyEdits, progress and answers. Cancellation arrives as
``asyncio.CancelledError`` and is left to the client, which owns the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from tta_codegen.config import Config
from tta_codegen.context.types import ContextProvider, ContextResult
from tta_codegen.extract import CodeExtractor
from tta_codegen.gates.runner import run_gates
from tta_codegen.gates.types import GateInput, GateResult, failure_summary
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
from tta_codegen.reindent import Reindenter, common_indent
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
    gate_results: list[GateResult] = field(default_factory=list)
    # "prompt" when the request itself was bad (template, variables): a usage error.
    error_kind: str | None = None
    total_s: float = 0.0
    # Whether the first attempt passed every gate (None: no gate ran), for outcomes.
    gates_first: bool | None = None

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


class BufferSink:
    """A sink that only collects: for results applied in one edit (or printed) at the end."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.on_progress: Callable[[str, int], None] | None = None

    def write(self, text: str) -> None:
        self.parts.append(text)

    async def reset(self) -> None:
        self.parts.clear()

    def progress(self, model: str, tokens: int) -> None:
        if self.on_progress is not None:
            self.on_progress(model, tokens)

    @property
    def text(self) -> str:
        return "".join(self.parts)


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
        return (await self.prepare(request))[0]

    async def prepare(self, request: GenerationRequest) -> tuple[list[ChatMessage], str]:
        """The messages and the task type (for model selection) of a request."""
        context = await self.gather_context(request)

        def render() -> tuple[list[ChatMessage], str]:
            return self.prompts.build(request, context), self.prompts.task_type(request)

        # Rendering reads template files: off the event loop, in one hop (it is on the
        # path to the first token).
        return await asyncio.to_thread(render)

    async def generate(self, request: GenerationRequest, sink: CodeSink) -> GenerationResult:
        """Generate, check against the gates, and refine until they pass (or the limit).

        The sink always shows the latest attempt: before a refinement it is reset, and if
        a refinement fails outright the last good attempt is written back.
        """
        started = time.perf_counter()
        result = GenerationResult(status="failed", iterations=0)
        try:
            try:
                messages, task_type = await self.prepare(request)
            except PromptError as exc:
                result.error, result.error_kind = str(exc), "prompt"
                return result
            refine = self.config.refine.enabled if request.refine is None else request.refine
            limit = self.config.refine.max_iterations if refine else 1
            conversation = list(messages)
            best: str | None = None
            for iteration in range(1, limit + 1):
                result.iterations = iteration
                code = await self._stream_once(
                    request, conversation, task_type, sink, result, started
                )
                if code is None:
                    if best is not None:
                        # A refinement failed: keep showing the last complete attempt.
                        await sink.reset()
                        sink.write(best)
                        result.status, result.text = "completed", best
                    return result
                best = result.text = code
                result.status, result.error = "completed", None
                gate_results = await self.check(request, code)
                result.gate_results = gate_results
                result.gates = [g.to_answer() for g in gate_results]
                failed = failure_summary(gate_results)
                if iteration == 1 and gate_results:
                    result.gates_first = not failed
                if not failed or iteration == limit:
                    break
                conversation = [
                    *messages,
                    ChatMessage("assistant", f"```{request.language}\n{code}```"),
                    ChatMessage("user", refinement_prompt(failed)),
                ]
                await sink.reset()
            result.warnings = [f.to_dict() for f in self.router.check_output(result.text)]
            return result
        finally:
            result.total_s = time.perf_counter() - started

    async def check(self, request: GenerationRequest, code: str) -> list[GateResult]:
        """Run the configured gates on the document as it would be with ``code`` in place."""
        if not self.config.gates.enabled:
            return []
        return await run_gates(gate_input(request, code), self.config.gates)

    async def _stream_once(
        self,
        request: GenerationRequest,
        messages: list[ChatMessage],
        task_type: str,
        sink: CodeSink,
        result: GenerationResult,
        started: float,
    ) -> str | None:
        """One model reply (with the router's fallbacks) streamed into the sink."""
        gen = self.config.generation
        model_request = ModelRequest(
            messages=messages,
            max_tokens=gen.max_tokens,
            temperature=gen.temperature,
            task_type=task_type,
        )
        state = _AttemptState(gen.max_output_chars, request)
        try:

            def accept() -> str | None:
                tail = state.finish()
                if tail and not state.failure:
                    sink.write(tail)
                return state.failure

            async for event in self.router.stream(
                model_request, request.model, should_stop=state.should_stop, accept=accept
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
                    # accept() has already flushed the tail and judged the reply usable.
                    result.attempts.append(Attempt(event.model))
                    result.model = event.model
                    result.usage = _add_usage(result.usage, event.usage)
                    result.cost_usd += event.cost_usd
                    return state.text()
        except AllModelsFailed as exc:
            result.error = str(exc)
        except ModelError as exc:
            result.error = str(exc)
        return None


def refinement_prompt(failures: str) -> str:
    return (
        "The code you wrote does not pass the project's quality gates:\n\n"
        f"{failures}\n\n"
        "Fix every problem listed. Reply with the complete corrected code in one fenced code "
        "block, and nothing else."
    )


def gate_input(request: GenerationRequest, code: str) -> GateInput:
    text = request.text[: request.start] + code + request.text[request.end :]
    first = request.text.count("\n", 0, request.start)
    last = first + code.count("\n") + (0 if code.endswith("\n") else 1)
    root = Path(request.workspace_root) if request.workspace_root else None
    path = request.path
    if root is not None:
        with contextlib.suppress(ValueError):
            path = str(Path(request.path).relative_to(root))
    return GateInput(
        path=path,
        text=text,
        language=request.language,
        workspace_root=root,
        region=(first, max(last, first + 1)),
        extra_files=dict(request.gate_files),
        test_targets=list(request.test_targets),
    )


def _add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens)


class _AttemptState:
    """What one model attempt produced so far."""

    def __init__(self, max_chars: int, request: GenerationRequest | None = None) -> None:
        self.max_chars = max_chars
        self.model = ""
        self.target_indent, self.first_prefixed, self.reindent = _indent_plan(request)
        self.start("")

    def start(self, model: str) -> None:
        self.model = model
        self.extractor = CodeExtractor()
        self.indenter = Reindenter(self.target_indent, first_line_prefixed=self.first_prefixed)
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
        if self.reindent and code:
            code = self.indenter.feed(code)
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
        code = self.extractor.finish()
        if self.reindent:
            code = self.indenter.feed(code) + self.indenter.finish()
        tail = self._take(code)
        if self.failure is None and not self.extractor.saw_code:
            self.failure = (
                "the model answered with prose and no code"
                if self.extractor.saw_prose or self.tokens
                else "the model returned an empty reply"
            )
        return tail

    def text(self) -> str:
        return "".join(self.parts)


def _indent_plan(request: GenerationRequest | None) -> tuple[str, bool, bool]:
    """(target indent, first line already indented, whether to reindent at all)."""
    if request is None:
        return "", False, False
    if request.kind == "refine":
        return common_indent(request.text[request.start : request.end]), False, True
    line_start = request.text.rfind("\n", 0, request.start) + 1
    prefix = request.text[line_start : request.start]
    if prefix and not prefix.strip():
        # The cursor sits in indentation: code goes at that depth, first line after it.
        return prefix, True, True
    return "", False, False
