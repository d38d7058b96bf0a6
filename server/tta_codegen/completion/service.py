"""The completion pipeline: cache, debounce/supersede, prompt, model stream, post-processing.

One ``CompletionService`` per server process (its cache and live requests outlive config
reloads); the router and settings are handed in per request, so a reload applies to the
next keystroke. Knows no editor: it takes text and a cursor offset and returns text.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from tta_codegen.completion.acceptance import AcceptanceLog, acceptance_path
from tta_codegen.completion.cache import CachedSuggestion, CompletionCache
from tta_codegen.completion.postprocess import complete_enough, finish
from tta_codegen.completion.prompt import CompletionPrompt, build_prompt
from tta_codegen.completion.scheduler import CompletionScheduler
from tta_codegen.completion.settings import CompletionConfig
from tta_codegen.models.base import ModelRequest, TextDelta
from tta_codegen.models.errors import ModelError
from tta_codegen.models.router import AttemptStarted, Finished, ModelRouter

log = logging.getLogger(__name__)

# The longest a finished suggestion's model stream stays open waiting for its answer to go
# out (it goes out within a millisecond; this only bounds a request task that never ends).
ANSWER_WAIT_S = 1.0

# Stop sequences per language (OpenAI-compatible servers take at most four).
_STOPS: dict[str, list[str]] = {
    "python": ["\n\n\n", "\nclass ", "\ndef ", "\nif __name__"],
    "javascript": ["\n\n\n", "\nfunction ", "\nexport ", "\nclass "],
    "typescript": ["\n\n\n", "\nfunction ", "\nexport ", "\nclass "],
    "go": ["\n\n\n", "\nfunc ", "\ntype "],
    "rust": ["\n\n\n", "\nfn ", "\npub fn ", "\nimpl "],
}


def stop_sequences(language: str) -> list[str]:
    return list(_STOPS.get(language, ["\n\n\n"]))


async def _answered(answered: asyncio.Future[Any] | None) -> None:
    """Wait until the answer went out. Done callbacks run in the order they were added, so
    the LSP answer (pygls' own callback on the request task) goes out before this wakes.
    Bounded, in case that task never ends."""
    if answered is not None:
        await asyncio.wait({answered}, timeout=ANSWER_WAIT_S)


def _cancel_once(task: asyncio.Task[None]) -> None:
    """Cancel a model stream's task unless a cancellation is already on its way to it.

    A second ``cancel()`` while the first is still pending left the HTTP stream open, the
    stream reading on for ever (httpx runs on anyio, whose cancel scopes count a task's
    cancellation requests): the supersede benchmark hung on every run when a newer request
    closed the stream and the superseded request's own cancellation then did it again.
    """
    if not task.done() and not task.cancelling():
        task.cancel()


async def _after(answered: asyncio.Future[Any] | None, work: Awaitable[object]) -> None:
    await _answered(answered)
    await work


@dataclass(frozen=True)
class Suggestion:
    text: str  # the whole suggestion, starting at ``start``
    start: int  # offset where it begins (before the cursor when part of it was typed)
    model: str
    id: str
    cached: bool = False


@dataclass
class _Shown:
    model: str
    text: str


@dataclass
class CompletionService:
    scheduler: CompletionScheduler = field(default_factory=CompletionScheduler)
    cache: CompletionCache = field(default_factory=lambda: CompletionCache(16))
    acceptance: AcceptanceLog | None = None
    # Suggestions handed out, by id, so an acceptance report can name the model.
    _shown: dict[str, _Shown] = field(default_factory=dict)
    _tasks: set[asyncio.Future[object]] = field(default_factory=set)
    # Per document: the model stream of its latest request (answered or not) until it ends.
    _streams: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def complete(
        self,
        router: ModelRouter,
        config: CompletionConfig,
        uri: str,
        text: str,
        offset: int,
        language: str,
        *,
        path: str | None = None,
        snippets: Callable[[str], Awaitable[list[str]]] | None = None,
        answered: asyncio.Future[Any] | None = None,
    ) -> Suggestion | None:
        """The suggestion at ``offset``, or None (disabled, superseded, nothing useful).

        ``answered``, when given, is done once the suggestion has reached the editor (the
        LSP request's own task): the model stream's end (closing it, its ledger row) waits
        for it, so that work never runs between the model's text and the answer.
        """
        if not config.enabled:
            return None
        # A newer request for the document: the older model stream closes now, directly
        # (not two task cancellations later, after this request's own work has started).
        self._close_stream(uri)
        self.cache.size = config.cache_size
        before, after = text[:offset], text[offset:]
        hit = self.cache.get(uri, before, after)
        if hit is not None:
            # Typing what was predicted: nothing older for this document is still useful.
            self.scheduler.cancel(uri)
            s = hit.suggestion
            return Suggestion(s.text, offset - len(hit.typed), s.model, self._id(s), cached=True)

        async def work() -> Suggestion | None:
            found = await snippets(before[-600:]) if snippets is not None else []
            prompt = build_prompt(
                text,
                offset,
                language,
                max_prefix_chars=config.max_prefix_chars,
                max_suffix_chars=config.max_suffix_chars,
                path=path,
                snippets=found,
            )
            request = ModelRequest(
                messages=prompt.chat_messages(),
                max_tokens=config.max_tokens,
                temperature=config.temperature,
                stop=stop_sequences(language),
                task_type="completion",
                fim=prompt.fim(),
            )
            try:
                reply, model = await self._stream(router, request, prompt, answered, uri)
            except ModelError as exc:
                log.info("inline completion failed: %s", exc)
                return None
            result = finish(reply, prompt)
            if result is None:
                return None
            cached = CachedSuggestion(before, after, result, model)
            self.cache.put(uri, cached)
            suggestion = Suggestion(result, offset, model, self._id(cached))
            # Counted in the background once answered: a keystroke never waits for a disk
            # write, nor shares the interpreter with the thread doing it.
            shown = self._log(router).record(model, "shown", len(result))
            self._background(_after(answered, shown))
            return suggestion

        return await self.scheduler.run(uri, config.debounce_ms / 1000, work)

    async def _stream(
        self,
        router: ModelRouter,
        request: ModelRequest,
        prompt: CompletionPrompt,
        answered: asyncio.Future[Any] | None = None,
        uri: str | None = None,
    ) -> tuple[str, str]:
        """The model's text and name, as soon as more text could not change the suggestion.

        The rest of the stream (its end, usage, the ledger row) is left to finish in the
        background, after ``answered`` (if given) is done: closing the HTTP stream and
        starting the ledger write took ~2-3 ms of loop time that otherwise ran before the
        answer was sent. Cancelling this (``$/cancelRequest``) closes the model stream at
        once; so does any newer request for ``uri``, directly, before or after the answer
        (after it, the router may still be reading the stream's end: COMPLETION_GRACE_S).
        """
        raw: list[str] = []
        model = ""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def complete() -> bool:
            return complete_enough("".join(raw), prompt)

        async def consume() -> None:
            nonlocal raw, model
            stream = router.stream(request, should_stop=complete)
            try:
                async with aclosing(stream) as events:
                    async for event in events:
                        if isinstance(event, AttemptStarted):
                            model, raw = event.model, []
                        elif isinstance(event, TextDelta):
                            raw.append(event.text)
                            if not ready.done() and complete():
                                ready.set_result(None)
                                await _answered(answered)
                        elif isinstance(event, Finished):
                            model = event.model
            except ModelError as exc:
                if not ready.done():
                    ready.set_exception(exc)
                    return
                log.info("inline completion stream failed after its answer: %s", exc)
            except asyncio.CancelledError:
                if not ready.done():  # closed by a newer request: this one is superseded
                    ready.cancel()
                raise
            if not ready.done():
                ready.set_result(None)

        task = asyncio.ensure_future(consume())
        self._track(uri, task)
        try:
            await asyncio.shield(ready)
        except BaseException:
            _cancel_once(task)  # superseded or cancelled: close the model stream now
            raise
        self._background(task)
        return "".join(raw), model

    def _track(self, uri: str | None, task: asyncio.Task[None]) -> None:
        if uri is None:
            return
        self._streams[uri] = task

        def untrack(_: object) -> None:
            if self._streams.get(uri) is task:
                del self._streams[uri]

        task.add_done_callback(untrack)

    def _close_stream(self, uri: str) -> None:
        stream = self._streams.pop(uri, None)
        if stream is not None:
            _cancel_once(stream)

    def _log(self, router: ModelRouter) -> AcceptanceLog:
        if self.acceptance is None:
            self.acceptance = AcceptanceLog(acceptance_path(router.ledger.path))
        return self.acceptance

    def _background(self, work: Awaitable[object]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _id(self, cached: CachedSuggestion) -> str:
        for key, shown in self._shown.items():
            if shown.text == cached.text and shown.model == cached.model:
                return key
        key = uuid.uuid4().hex[:16]
        self._shown[key] = _Shown(cached.model, cached.text)
        while len(self._shown) > 256:
            self._shown.pop(next(iter(self._shown)))
        return key

    async def accepted(
        self, router: ModelRouter, suggestion_id: str | None, model: str | None, chars: int
    ) -> str | None:
        """Record an acceptance reported by a client; returns the model it counted for."""
        shown = self._shown.get(suggestion_id or "")
        name = model or (shown.model if shown else None)
        if not name:
            return None
        await self._log(router).record(name, "accepted", max(0, chars))
        return name

    def forget(self, uri: str) -> None:
        self._close_stream(uri)
        self.cache.forget(uri)
        self.scheduler.cancel(uri)
