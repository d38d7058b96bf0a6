"""The pipeline every client shares: request → context → prompt → model → code stream.

The engine knows no editor and no terminal. It pushes code into a :class:`CodeSink`
(the LSP edit session, or the CLI's file writer) and returns a :class:`GenerationResult`;
clients turn those into applyEdits, progress and answers. Cancellation arrives as
``asyncio.CancelledError`` and is left to the client, which owns the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from tta_codegen.background import path_clear
from tta_codegen.candidates import Budget, Candidate, best, temperature_schedule, why_next
from tta_codegen.config import Config
from tta_codegen.context.types import ContextProvider, ContextResult
from tta_codegen.extract import CodeExtractor, whole_definitions
from tta_codegen.gates.definition import required_definitions
from tta_codegen.gates.settings import GatesConfig
from tta_codegen.gates.types import GateInput, GateResult, failure_summary
from tta_codegen.layout import lead as layout_lead
from tta_codegen.layout import starts_top_level_def
from tta_codegen.layout import trail as layout_trail
from tta_codegen.models.base import ChatMessage, ModelRequest, TextDelta, Usage
from tta_codegen.models.errors import ModelError
from tta_codegen.models.router import (
    AttemptFailed,
    AttemptStarted,
    Finished,
    ModelRouter,
)
from tta_codegen.models.safety import Finding
from tta_codegen.prompts.builder import PromptBuilder
from tta_codegen.prompts.loader import PromptError
from tta_codegen.reindent import Reindenter, common_indent
from tta_codegen.request import GenerationRequest, language_for
from tta_codegen.stubs import WHOLE_PARSE_CHARS, ImplementError, implement

__all__ = ["Engine", "GenerationRequest", "GenerationResult", "language_for"]

log = logging.getLogger(__name__)

# completed: whole output, every enabled gate passed (or was skipped with its reason).
# gates_failed: code delivered, but a gate still fails. truncated: the reply was cut off
# (token limit, unclosed fence) and could not be continued.
Status = Literal["completed", "gates_failed", "truncated", "cancelled", "failed"]


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
    # The delivered candidate's gate results (the answer's ``gates`` is their to_answer()).
    gates: list[GateResult] = field(default_factory=list)
    error: str | None = None
    ttft_s: float | None = None
    # Safety findings in the delivered code (lines relative to it).
    warnings: list[Finding] = field(default_factory=list)
    # "prompt" when the request itself was bad (template, variables): a usage error.
    error_kind: str | None = None
    total_s: float = 0.0
    # The delivered reply was cut off (token limit, unclosed fence) and not continued.
    truncated: bool = False
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
                **({"estimated": True} if self.usage.estimated else {}),
            },
            "cost_usd": round(self.cost_usd, 8),
            "iterations": self.iterations,
            "gates": [g.to_answer() for g in self.gates],
        }
        if self.error is not None:
            answer["error"] = self.error
        if self.warnings:
            answer["warnings"] = [w.to_dict() for w in self.warnings]
        return answer


class CodeSink(Protocol):
    """Where streamed code goes. ``write`` must not block; the sink batches."""

    def write(self, text: str) -> None: ...

    async def reset(self) -> None:
        """Forget everything written so far (a model failed mid-stream; the next one starts)."""
        ...

    def progress(self, model: str, tokens: int) -> None: ...

    def note(self, message: str) -> None:
        """A human progress line about what the engine does next ("round 2/3: ruff F811 on
        line 7 → new candidate", "continuing a cut-off reply")."""
        ...


class BufferSink:
    """A sink that only collects: for results applied in one edit (or printed) at the end."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.on_progress: Callable[[str, int], None] | None = None
        self.notes: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    async def reset(self) -> None:
        self.parts.clear()

    def progress(self, model: str, tokens: int) -> None:
        if self.on_progress is not None:
            self.on_progress(model, tokens)

    def note(self, message: str) -> None:
        self.notes.append(message)

    @property
    def text(self) -> str:
        return "".join(self.parts)


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
        self._ruff_ahead: asyncio.Future[None] | None = None  # see _gates_ahead
        self._ruff_roots: set[Path | None] = set()  # workspaces it was started ahead for

    async def aclose(self) -> None:
        """Close what this engine opened: ledger writes in flight, provider clients, the
        team ledger's connection. The context provider is borrowed and stays open."""
        if self._ruff_ahead is not None and not self._ruff_ahead.done():
            self._ruff_ahead.cancel()
            await asyncio.wait({self._ruff_ahead})
        await self.router.aclose()

    def _gates_ahead(self, request: GenerationRequest) -> None:
        """Start what the gates will need while the model answers: their imports, and for
        Python the warm ruff server the ruff gate checks with (its process start and
        handshake, ~10 ms on 2 cores, otherwise ran between the last token and the answer
        of a CLI command and of a server's first generation)."""
        import_gates_ahead()
        gates = self.config.gates
        root, path = _gate_path(request)
        if (
            request.language != "python"
            or "ruff" not in gates.enabled_for("python")
            or len(request.text) > WHOLE_PARSE_CHARS
            or root in self._ruff_roots  # once: later generations find it running
            or (self._ruff_ahead is not None and not self._ruff_ahead.done())
        ):
            return
        self._ruff_roots.add(root)
        inp = GateInput(path=path, text="", language="python", workspace_root=root)
        self._ruff_ahead = asyncio.ensure_future(_start_warm_ruff(inp, gates))

    async def gather_context(self, request: GenerationRequest) -> ContextResult | None:
        if self.context is None:
            return None
        return await self.context.gather(request, self.config)

    async def prepare(self, request: GenerationRequest) -> tuple[list[ChatMessage], str]:
        """The messages and the task type (for model selection) of a request."""
        gather = self.context.gather_work(request, self.config) if self.context else None

        def render() -> tuple[list[ChatMessage], str]:
            context = gather() if gather is not None else None
            return self.prompts.build(request, context), self.prompts.task_type(request)

        # Gathering context reads the index and rendering reads template files: off the
        # event loop, both in one hop (each hop is a thread handover on the path to the
        # first token).
        return await asyncio.to_thread(render)

    async def generate(self, request: GenerationRequest, sink: CodeSink) -> GenerationResult:
        """Draw candidates, judge each with the gates, deliver the first that passes or the best.

        Up to ``[refine] max_iterations`` candidates (one without the loop), the first at the
        generation temperature (the single shot), the others along ``[refine] temperatures``;
        the whole loop is bounded by ``[refine] max_seconds``. The sink shows the candidate
        being drawn; at the end it holds the delivered one.
        """
        started = time.perf_counter()
        result = GenerationResult(status="failed", iterations=0)
        try:
            try:
                messages, task_type = await self.prepare(request)
            except PromptError as exc:
                result.error, result.error_kind = str(exc), "prompt"
                return result
            await self._draw(request, messages, task_type, sink, result, started)
            if result.status != "failed":
                result.warnings = self.router.check_output(result.text)
            return result
        finally:
            result.total_s = time.perf_counter() - started

    async def _draw(
        self,
        request: GenerationRequest,
        messages: list[ChatMessage],
        task_type: str,
        sink: CodeSink,
        result: GenerationResult,
        started: float,
    ) -> None:
        """The candidate loop; fills ``result`` with the delivered candidate."""
        settings = self.config.refine
        refine = settings.enabled if request.refine is None else request.refine
        count = settings.max_iterations if refine else 1
        temperatures = temperature_schedule(
            count, self.config.generation.temperature, settings.temperatures
        )
        # Without the loop there is one answer and nothing to bound it against.
        budget = Budget(count, settings.max_seconds if refine else math.inf, time.monotonic())
        drawn: list[Candidate] = []
        conversation = list(messages)
        shown: int | None = None  # the candidate the sink holds in full
        while budget.another(drawn, time.monotonic()):
            index = len(drawn)
            if index:
                sink.note(f"round {index + 1}/{count}: {why_next(drawn[-1])} → new candidate")
                await sink.reset()
                shown = None
            began = time.monotonic()
            code: str | None = None
            # The first candidate is the single shot: never cut, so the loop can only add to
            # what one plain call gives (a slow model still delivers its answer; it is
            # bounded by max_tokens and the provider's timeouts). Later ones must fit.
            limit = None if index == 0 else budget.remaining(began)
            try:
                async with asyncio.timeout(limit):
                    code = await self._stream_once(
                        request, conversation, task_type, sink, result, started,
                        temperature=temperatures[index],
                    )  # fmt: skip
                    if code is None:
                        break  # the model failed outright; result.error says why
                    truncated = result.truncated
                    gates = await self.run_quality_gates(request, code)
            except TimeoutError:
                if code is not None:
                    # Drawn, but the time was up before the gates finished: not judged.
                    unjudged = [_unjudged(settings.max_seconds)]
                    spent = time.monotonic() - began
                    drawn.append(
                        Candidate(
                            index, code, temperatures[index], unjudged, spent, result.truncated
                        )
                    )
                    shown = index
                sink.note(f"[refine] max_seconds ({settings.max_seconds:g} s) reached")
                break
            spent = time.monotonic() - began
            drawn.append(Candidate(index, code, temperatures[index], gates, spent, truncated))
            shown = index
            if index == 0 and gates:
                result.gates_first = not failure_summary(gates)  # for outcome metrics
            feedback = settings.feedback == "always" or (
                settings.feedback == "tests" and request.kind == "tests"
            )
            if feedback and not drawn[-1].passed:
                conversation = [
                    *messages,
                    ChatMessage("assistant", f"```{request.language}\n{code}```"),
                    ChatMessage("user", refinement_prompt(failure_summary(gates))),
                ]
        await _log_candidates(request, drawn)
        result.iterations = len(drawn)
        if not drawn:
            if result.error is None:
                result.error = (
                    f"no answer within [refine] max_seconds ({settings.max_seconds:g} s); "
                    "raise it for a slow model"
                )
            await sink.reset()
            return
        chosen = best(drawn)
        if shown != chosen.index:
            # The sink holds another (or a half-drawn) candidate: put the chosen one back.
            await sink.reset()
            sink.write(chosen.text)
        result.text, result.error, result.truncated = chosen.text, None, chosen.truncated
        result.gates = chosen.gates
        result.status = final_status(chosen.gates, truncated=chosen.truncated)

    async def run_quality_gates(self, request: GenerationRequest, code: str) -> list[GateResult]:
        """Run the configured gates on the document as it would be with ``code`` in place."""
        if not self.config.gates.enabled:
            return []
        if len(request.text) > WHOLE_PARSE_CHARS:
            return too_long_for_gates(request, self.config.gates)
        # Building the input parses the document (to find what was asked for): off the loop.
        inp = await asyncio.to_thread(gate_input, request, code)
        from tta_codegen.gates.runner import run_gates  # imported ahead: import_gates_ahead

        return await run_gates(inp, self.config.gates)

    async def _stream_once(
        self,
        request: GenerationRequest,
        messages: list[ChatMessage],
        task_type: str,
        sink: CodeSink,
        result: GenerationResult,
        started: float,
        *,
        temperature: float | None = None,
    ) -> str | None:
        """One model reply (with the router's fallbacks) streamed into the sink.

        A reply the token limit cut off (or whose fence never closed) is continued, up to
        ``[generation] max_continuations`` times, by asking the same model to go on from
        where it stopped; the joined code is returned. ``result.truncated`` says whether
        it is still cut off. Usage and cost of every attempt, failed or not, are added to
        ``result``.
        """
        gen = self.config.generation
        state = _AttemptState(gen.max_output_chars, request)
        result.truncated = False
        model_id = request.model
        conversation = messages
        continuations = 0

        def accept(stop_reason: str | None) -> str | None:
            if state.cut_off(stop_reason) and state.worth_continuing():
                held = state.pause()  # the extractor stays open: the continuation follows
                if held and not state.failure:
                    sink.write(held)
                return None
            tail = state.finish(stop_reason)
            if tail and not state.failure:
                sink.write(tail)
            return state.failure

        try:
            while True:
                model_request = ModelRequest(
                    messages=conversation,
                    max_tokens=gen.max_tokens,
                    temperature=gen.temperature if temperature is None else temperature,
                    task_type=task_type,
                )
                state.may_continue = continuations < gen.max_continuations
                finished: Finished | None = None
                stream = self.router.stream(
                    model_request, model_id, should_stop=state.should_stop, accept=accept
                )
                # aclosing: leaving early (a failed continuation) closes the HTTP stream now.
                async with contextlib.aclosing(stream) as events:
                    async for event in events:
                        if isinstance(event, AttemptStarted):
                            self._gates_ahead(request)
                            if continuations == 0:
                                state.start(event.model)
                            sink.progress(event.model, state.tokens)
                        elif isinstance(event, TextDelta):
                            if result.ttft_s is None:
                                result.ttft_s = time.perf_counter() - started
                            code = state.feed(event.text)
                            if code:
                                sink.write(code)
                            sink.progress(state.model, state.tokens)
                        elif isinstance(event, AttemptFailed):
                            result.attempts.append(Attempt(event.model, event.error))
                            _add_spent(result, event.usage, event.cost_usd)
                            if continuations:
                                # The continuation failed: deliver what there is, cut off.
                                tail = state.finish("length")
                                if tail and not state.failure:
                                    sink.write(tail)
                                await _show_kept_part(state, sink)
                                result.truncated = state.truncated
                                return state.text() if not state.failure else None
                            if state.written:
                                await sink.reset()
                        elif isinstance(event, Finished):
                            # accept() has already flushed the tail and judged the reply usable.
                            result.attempts.append(Attempt(event.model))
                            result.model = event.model
                            _add_spent(result, event.usage, event.cost_usd)
                            finished = event
                            break
                if finished is None:
                    return None
                if not state.paused:
                    await _show_kept_part(state, sink)
                    result.truncated = state.truncated
                    return state.text()
                continuations += 1
                sink.note(f"continuing a cut-off reply ({continuations}/{gen.max_continuations})")
                model_id = finished.model
                conversation = [
                    *messages,
                    ChatMessage("assistant", state.raw()),
                    ChatMessage("user", CONTINUE_PROMPT),
                ]
                state.resume()
        except ModelError as exc:  # AllModelsFailed, or refused before sending
            result.error = str(exc)
        return None


CONTINUE_PROMPT = (
    "Your reply was cut off by the length limit. Continue it from exactly where it stopped: "
    "write only the rest, starting with the next character, without repeating anything and "
    "without opening a new code block. Close the code block when the code is complete."
)


async def _show_kept_part(state: _AttemptState, sink: CodeSink) -> None:
    """A reply cut off after the complete definitions it was asked for keeps only those:
    the sink, which streamed the cut-off rest too, is rewritten with them."""
    if state.kept_whole_part and not state.failure:
        await sink.reset()
        sink.write(state.text())
        sink.note(
            "the reply was cut off after the code asked for: "
            "keeping its complete definitions, dropping the cut-off rest"
        )


def _add_spent(result: GenerationResult, usage: Usage | None, cost_usd: float) -> None:
    if usage is not None:
        result.usage = _add_usage(result.usage, usage)
    result.cost_usd += cost_usd


def final_status(gate_results: list[GateResult], *, truncated: bool = False) -> Status:
    """The status of delivered code: ``completed`` only when it is whole and every enabled
    gate passed (a skipped gate passes with its reason); cut off beats failing gates."""
    if truncated:
        return "truncated"
    if any(not g.passed and not g.skipped for g in gate_results):
        return "gates_failed"
    return "completed"


def _unjudged(max_seconds: float) -> GateResult:
    return GateResult(
        "gates", False, f"not run: [refine] max_seconds ({max_seconds:g} s) was reached first"
    )


async def _log_candidates(request: GenerationRequest, drawn: list[Candidate]) -> None:
    """Append every candidate to the JSONL file ``TTA_CODEGEN_CANDIDATES_LOG`` names, if any.

    A debugging and benchmarking aid (the HumanEval benchmark measures the candidates' own
    ceiling, pass@K, from it); not part of the answer.
    """
    target = os.environ.get("TTA_CODEGEN_CANDIDATES_LOG")
    if not target or not drawn:
        return
    chosen = best(drawn)
    rows = [
        {
            "path": request.path,
            "index": c.index,
            "temperature": c.temperature,
            "chosen": c is chosen,
            "passed": c.passed,
            "truncated": c.truncated,
            "seconds": round(c.seconds, 3),
            "gates": [g.to_answer() for g in c.gates],
            "text": c.text,
        }
        for c in drawn
    ]

    def append() -> None:
        for row, c in zip(rows, drawn, strict=True):
            row["file"] = gate_input(request, c.text).text  # the file as the gates judged it
        with open(target, "a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")

    await asyncio.to_thread(append)


def refinement_prompt(failures: str) -> str:
    return (
        "The code you wrote does not pass the project's quality gates:\n\n"
        f"{failures}\n\n"
        "Fix every problem listed. Reply with the complete corrected code in one fenced code "
        "block, and nothing else."
    )


GATES_MODULE = "tta_codegen.gates.runner"
RUFF_GATE_MODULE = "tta_codegen.gates.python"


def import_gates_ahead() -> None:
    """Import the gates (runner, sandbox, ruff, examples, tests: ~60 ms of imports) in a
    thread while the model is asked, instead of before the first request.

    A fresh CLI process otherwise imports them before it sends anything, and the process
    then waits idle for the model's first token; here that wait covers them. The engine
    imports the module where it runs the gates: if the thread has not finished, that
    import waits for it (Python's per-module import lock); if the thread failed, that
    import raises as it would have at the start.
    """
    if GATES_MODULE in sys.modules:
        return

    def load() -> None:
        with contextlib.suppress(Exception):  # the engine's own import reports it
            importlib.import_module(GATES_MODULE)

    threading.Thread(target=load, name="tta-import-gates").start()


async def _start_warm_ruff(inp: GateInput, gates: GatesConfig) -> None:
    # In the server, after the provider request is written: never on the path to it.
    await path_clear()
    # The gates may still be importing in import_gates_ahead's thread: wait for that in a
    # thread too, never on the event loop (Python's per-module import lock).
    await asyncio.to_thread(importlib.import_module, RUFF_GATE_MODULE)
    from tta_codegen.gates.python import start_warm_ruff

    try:
        await start_warm_ruff(inp, gates)
    except Exception as exc:  # the gate starts it itself, and reports what fails
        log.debug("warm ruff not started ahead: %s", exc)


def too_long_for_gates(request: GenerationRequest, config: GatesConfig) -> list[GateResult]:
    """Each gate skipped, with the reason: a document this long is not judged whole.

    The gates compile, lint and run the whole file; on a 20 MB document that is many
    seconds of CPU holding the interpreter (other requests wait) and gigabytes for the
    syntax tree, on every candidate. Judging a slice instead would report names defined
    elsewhere in the file as undefined, so the code is delivered unjudged, and says so.
    """
    from tta_codegen.gates.runner import gates_for

    names = gates_for(
        GateInput(path=request.path, text="", language=request.language, workspace_root=None),
        config,
    )
    reason = (
        f"skipped: the document has {len(request.text):,} characters; gates judge documents "
        f"of up to {WHOLE_PARSE_CHARS:,}"
    )
    return [GateResult(name, True, reason, skipped=True) for name in names]


def _gate_path(request: GenerationRequest) -> tuple[Path | None, str]:
    """The workspace root and the file's path in it (absolute outside any workspace)."""
    root = Path(request.workspace_root) if request.workspace_root else None
    path = request.path
    if root is not None:
        with contextlib.suppress(ValueError):
            path = str(Path(request.path).relative_to(root))
    return root, path


def gate_input(request: GenerationRequest, code: str) -> GateInput:
    text = request.text[: request.start] + code + request.text[request.end :]
    first = request.text.count("\n", 0, request.start)
    last = first + code.count("\n") + (0 if code.endswith("\n") else 1)
    root, path = _gate_path(request)
    return GateInput(
        path=path,
        text=text,
        language=request.language,
        workspace_root=root,
        region=(first, max(last, first + 1)),
        extra_files=dict(request.gate_files),
        test_targets=list(request.test_targets),
        # Tests are judged by running them; the code under test asks for nothing.
        description=request.description if request.kind != "tests" else "",
        required=(
            required_definitions(request.text, request.start, request.end, request.description)
            if request.kind != "tests" and request.language == "python"
            else []
        ),
    )


def _add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.prompt_tokens + b.prompt_tokens,
        a.completion_tokens + b.completion_tokens,
        estimated=a.estimated or b.estimated,
    )


class _AttemptState:
    """What one model attempt produced so far (continuations included).

    Code flows extractor → reindent → framing (a generate: its own line, PEP 8 blank lines;
    see :mod:`tta_codegen.layout`) → the sink. An implement request holds its code back
    and writes the whole function once the reply is complete (:mod:`tta_codegen.stubs`).
    """

    def __init__(self, max_chars: int, request: GenerationRequest) -> None:
        self.max_chars = max_chars
        self.request = request
        self.model = ""
        self.target_indent, self.first_prefixed, self.reindent = _indent_plan(request)
        self.frame = request.kind == "generate"
        self.hold = request.stub is not None
        # Python inserted at top level: a cut-off reply may keep its complete definitions.
        self.may_keep_whole_part = (
            self.frame and not self.hold and request.language == "python" and not self.target_indent
        )
        self._required: list[str] | None = None  # names the request asks for, parsed once
        self.may_continue = False  # set by the engine before each reply
        self.start("")

    def start(self, model: str) -> None:
        self.model = model
        self.extractor = CodeExtractor()
        self.indenter = Reindenter(self.target_indent, first_line_prefixed=self.first_prefixed)
        self.parts: list[str] = []
        self.raw_parts: list[str] = []
        self.chars = 0
        self.tokens = 0
        self.failure: str | None = None
        self.paused = False
        self.truncated = False
        # A continuation that started the reply over: ignored, the reply stays cut off.
        self.gave_up = False
        # Cut off after the complete definitions that were asked for: only those are kept.
        self.kept_whole_part = False
        self._head: str | None = "" if self.frame else None  # code held until framed
        # The start of a continuation, held until it shows whether it reopens a fence.
        self._resuming = False
        self._resume_head = ""

    @property
    def written(self) -> bool:
        return self.chars > 0

    def should_stop(self) -> bool:
        return self.extractor.done or self.failure is not None or self.gave_up

    def cut_off(self, stop_reason: str | None) -> bool:
        """The reply ended without its end: the token limit, or a fence still open."""
        if self.gave_up:
            return True
        if self.extractor.done:
            return False  # the code block closed: what the limit cut was prose after it
        return stop_reason == "length" or self.extractor.open_fence

    def worth_continuing(self) -> bool:
        """Whether asking the model to go on can help: continuations left, and the reply
        was not looping (small models repeat a line until the limit: more of that is
        only more time)."""
        return (
            self.may_continue
            and self.failure is None
            and not self.gave_up
            and not _repeating(self.raw())
            and self.whole_part() is None
        )

    def whole_part(self) -> str | None:
        """The complete top-level statements before the cut, when they define everything
        the request asked for by name (see :func:`whole_definitions`); else None. Continuing
        such a reply would only finish code nobody asked for."""
        if not self.may_keep_whole_part:
            return None
        if self._required is None:
            req = self.request
            wanted = required_definitions(req.text, req.start, req.end, req.description)
            self._required = [d.name for d in wanted]
        return whole_definitions(self.text(), self._required)

    def pause(self) -> str:
        """The reply stopped cut off and will be continued: the extractor stays open.
        Returns what a continuation still held back (to write now)."""
        self.paused = True
        return self._resumed(self._resume_head) if self._resuming else ""

    def resume(self) -> None:
        """A continuation of the same reply starts: it may reopen a fence; drop that."""
        self.paused = False
        self._resuming = True
        self._resume_head = ""

    def raw(self) -> str:
        return "".join(self.raw_parts)

    def feed(self, text: str) -> str:
        self.tokens += 1
        if self.gave_up:
            return ""
        if self._resuming:
            # Held to its first line: it may reopen a fence or start the reply over.
            held = self._resume_head + text
            probe = _drop_reopened_fence(held) if self.extractor.in_code else held
            if "\n" not in probe and len(held) < 200:
                self._resume_head = held
                return ""
            return self._resumed(held)
        return self._pass_on(text)

    def _resumed(self, head: str) -> str:
        """The first line of a continuation: a reopened fence dropped, a restart refused."""
        self._resuming, self._resume_head = False, ""
        text = _drop_reopened_fence(head) if self.extractor.in_code else head
        if _starts_over(text, self.text()):
            self.gave_up = True
            return ""
        return self._pass_on(text)

    def _pass_on(self, text: str) -> str:
        self.raw_parts.append(text)
        code = self.extractor.feed(text)
        if self.reindent and code:
            code = self.indenter.feed(code)
        return self._frame(code)

    def _frame(self, code: str, *, final: bool = False) -> str:
        """Hold the first code back until it shows whether it opens a definition."""
        if self._head is None:
            return self._take(code)
        self._head += code
        decided = starts_top_level_def(self._head.lstrip("\n"))
        if decided is None and not final:
            return ""
        if not self._head and not final:
            return ""
        head, self._head = self._head, None
        if not head.strip() and final:
            return self._take(head)
        lead = layout_lead(
            self.request.text,
            self.request.start,
            language=self.request.language,
            top_level_def=bool(decided) and not self.first_prefixed,
        )
        return self._take(lead + head)

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
        return "" if self.hold else code

    def finish(self, stop_reason: str | None = None) -> str:
        early = self._resumed(self._resume_head) if self._resuming else ""
        self.truncated = self.cut_off(stop_reason)
        code = self.extractor.finish()
        if self.reindent:
            code = self.indenter.feed(code) + self.indenter.finish()
        tail = early + self._frame(code, final=True)
        if self.failure is None and not self.extractor.saw_code:
            self.failure = (
                "the model answered with prose and no code"
                if self.extractor.saw_prose or self.tokens
                else "the model returned an empty reply"
            )
        if self.failure is not None:
            return ""
        if self.truncated and (kept := self.whole_part()) is not None:
            # The engine rewrites the sink with the kept code (see _stream_once).
            self.parts, self.chars = [kept], len(kept)
            self.truncated, self.kept_whole_part, tail = False, True, ""
        if self.frame and self.chars:
            end = layout_trail(
                self.request.text, self.request.start, self.text(), language=self.request.language
            )
            tail += self._take(end)
            if self.kept_whole_part:
                return ""
        if self.request.stub is not None:
            try:
                whole = implement(self.request.stub, self.text())
            except ImplementError as exc:
                self.failure = str(exc)
                return ""
            self.parts, self.chars = [whole], len(whole)
            return whole
        return tail

    def text(self) -> str:
        return "".join(self.parts)


def _first_line(text: str) -> str:
    return next(
        (
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith(("```", "~~~"))
        ),
        "",
    )


def _starts_over(continuation: str, reply: str) -> bool:
    """A "continuation" whose first line is the reply's first code line: the model began
    again instead of going on (joining the two would duplicate the code)."""
    first = _first_line(continuation)
    return len(first) >= 8 and first == _first_line(reply)


def _repeating(reply: str, window: int = 12) -> bool:
    """The reply's last lines are mostly repeats: a model looping until the token limit."""
    lines = [line.strip() for line in reply.splitlines() if line.strip()][-window:]
    return len(lines) >= window // 2 and len(set(lines)) <= len(lines) // 2


def _drop_reopened_fence(continuation: str) -> str:
    """A continuation of code that starts by reopening a code block (```python) would put
    the fence line into the code (or end it): drop that line. A bare fence closes the
    block and stays."""
    first, nl, rest = continuation.partition("\n")
    line = first.strip()
    if nl and line.startswith(("```", "~~~")) and line.strip("`~").strip():
        return rest
    return continuation


def _indent_plan(request: GenerationRequest) -> tuple[str, bool, bool]:
    """(target indent, first line already indented, whether to reindent at all)."""
    if request.stub is not None:
        return "", False, False  # stubs.implement indents the body itself
    if request.kind == "refine":
        return common_indent(request.text[request.start : request.end]), False, True
    line_start = request.text.rfind("\n", 0, request.start) + 1
    prefix = request.text[line_start : request.start]
    if prefix and not prefix.strip():
        # The cursor sits in indentation: code goes at that depth, first line after it.
        return prefix, True, True
    return "", False, False
