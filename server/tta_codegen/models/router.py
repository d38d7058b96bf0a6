"""The model layer's one entry point: pick models, stream from one, retry, fall back.

The engine sees a single stream of events; which provider answered, how many tried
before it and what it cost are all reported in-band, so the engine can reset the
document when a model fails after it had already streamed text.

Per request, in order: the prompt safety checks (when enabled), the plan (explicit model,
the task's model, automatic selection under the task's requirements, ``routing.default``;
then fallbacks), and for each model in the plan: its circuit breaker, its budget check
(before anything is sent), then the request itself with retries on the same model
(backoff with jitter, ``Retry-After`` honoured) while nothing has streamed yet. Every
request sent lands in the cost ledger.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from tta_codegen.background import after_path
from tta_codegen.config import Config, ModelConfig
from tta_codegen.models.base import ModelRequest, Provider, Stop, TextDelta, Usage
from tta_codegen.models.breaker import BreakerBoard, shared_board
from tta_codegen.models.budget import BudgetExceeded, check_budget, estimate_cost, is_free
from tta_codegen.models.catalog import CatalogEntry, enrich, load_all_caches_async
from tta_codegen.models.errors import ModelError, NoModelConfigured, ProviderError
from tta_codegen.models.ledger import LedgerBackend, LedgerRow
from tta_codegen.models.ledger_pg import open_ledger
from tta_codegen.models.registry import ProviderRegistry
from tta_codegen.models.retry import RetryPolicy
from tta_codegen.models.safety import Finding, SafetyChecker
from tta_codegen.models.selection import Observed, Requirements, select
from tta_codegen.models.stats import observed as observed_from_rows

log = logging.getLogger(__name__)

# How far back, and how often, the ledger is read for observed latency and failures.
OBSERVED_WINDOW_S = 7 * 86_400
_OBSERVED_REFRESH_S = 60.0
# After the caller stopped a reply (its code block closed), how long to keep reading for
# the provider's usage chunk and finish reason before closing the stream.
USAGE_GRACE_S = 1.0
# The same for an inline suggestion, on an HTTP provider: long enough to read an end that
# is already on its way (the model stopped at a stop sequence, a short reply), which gives
# the connection back to the pool, so the next keystroke's request skips a TCP (and TLS)
# handshake (~1.4 ms on loopback, tens of ms to a remote provider); short enough that a
# stream still generating closes within the 10 ms supersede target anyway.
COMPLETION_GRACE_S = 0.01
# A model none of whose requests this process has seen yet is "degraded" when more than
# this share of its recent requests (the ledger's, within OBSERVED_WINDOW_S) failed.
DEGRADED_FAILURE_RATE = 0.5


@dataclass(frozen=True)
class AttemptStarted:
    model: str


@dataclass(frozen=True)
class Retrying:
    """The same model is tried again after ``delay_s`` (nothing had streamed)."""

    model: str
    error: str
    delay_s: float
    retry: int  # 1 for the first retry


@dataclass(frozen=True)
class AttemptFailed:
    model: str
    error: str
    streamed: bool  # True when text had already been delivered from this attempt
    kind: str = "error"  # ProviderError.kind, or "circuit_open" / "budget" / "config"
    # What this attempt spent, as written to the ledger (a failure still costs).
    usage: Usage | None = None
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Finished:
    model: str
    usage: Usage
    cost_usd: float
    ttft_s: float | None = None  # request sent -> first text, on the final try
    latency_s: float = 0.0
    tries: int = 1
    stop_reason: str | None = None  # "length": the token limit cut the reply off


RouterEvent = AttemptStarted | Retrying | TextDelta | AttemptFailed | Finished


class AllModelsFailed(ModelError):
    def __init__(self, attempts: list[AttemptFailed]) -> None:
        last = attempts[-1].error if attempts else "no model was tried"
        tried = ", ".join(a.model for a in attempts)
        super().__init__(f"all models failed ({tried}); last error: {last}")
        self.attempts = attempts


class _Reservation:
    """A budget reservation held by one attempt: settled by its first ledger row (in the
    same transaction), released if the attempt ends without one."""

    def __init__(self, uid: str | None) -> None:
        self.uid = uid

    def take(self) -> str | None:
        uid, self.uid = self.uid, None
        return uid


def estimate_tokens(request: ModelRequest) -> int:
    """Rough prompt size (chars/4) for when a provider reports none."""
    return sum(len(m.content) for m in request.messages) // 4 + 4 * len(request.messages)


def cost_of(model: ModelConfig, usage: Usage) -> float:
    """The provider's own price when it reports one, else ours from the model's prices."""
    if usage.cost_usd is not None:
        return usage.cost_usd
    if model.free:
        return 0.0
    return (
        usage.prompt_tokens * model.input_cost_per_mtok
        + usage.completion_tokens * model.output_cost_per_mtok
    ) / 1_000_000


def _cost_source(model: ModelConfig, usage: Usage) -> str:
    if usage.cost_usd is not None:
        return "reported"
    return "free" if is_free(model) else "priced"


class ModelRouter:
    def __init__(
        self,
        config: Config,
        registry: ProviderRegistry,
        *,
        ledger: LedgerBackend | None = None,
        breakers: BreakerBoard | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.registry = registry
        # The real ledger unless told otherwise; its file appears on the first request.
        self.ledger = ledger if ledger is not None else open_ledger(config.ledger)
        self.breakers = breakers if breakers is not None else shared_board()
        self.retry = RetryPolicy(config.routing.retry, rand)
        self.safety = SafetyChecker(config.safety)
        self._sleep = sleep
        self._catalogs: dict[str, dict[str, CatalogEntry]] | None = None
        self._models: list[ModelConfig] = list(config.models)
        self._observed: dict[str, Observed] = {}
        self._observed_at = -_OBSERVED_REFRESH_S
        self._observed_once = False
        self._pending: set[asyncio.Task[None]] = set()

    # -- catalog and observations ------------------------------------------------------

    @property
    def models(self) -> list[ModelConfig]:
        """Configured models, completed from the cached provider catalogs once loaded."""
        return self._models

    def model(self, model_id: str) -> ModelConfig | None:
        return next((m for m in self._models if m.id == model_id), None)

    async def prepare(self) -> None:
        """Load catalog caches (once) and recent observations (every minute), off the loop.

        The first request waits for the observations; later ones use what was read last
        while a refresh (a week of ledger rows) runs in the background, after the request
        is sent (``background.after_path``): with generations minutes apart, nearly every
        one found them stale and read them on its way to the provider.
        """
        if self._catalogs is None:
            self._catalogs = await load_all_caches_async(self.config.providers)
            self._models = enrich(list(self.config.models), self._catalogs)
        now = time.monotonic()
        if now - self._observed_at >= _OBSERVED_REFRESH_S:
            self._observed_at = now
            if self._observed_once:
                self._spawn(after_path(self._observe()))
            else:
                await self._observe()

    async def _observe(self) -> None:
        """Read the observation window of the ledger into :attr:`observed`."""
        try:
            rows = await self.ledger.rows(since=time.time() - OBSERVED_WINDOW_S)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot read the cost ledger %s: %s", self.ledger.describe(), exc)
            rows = []
        # History is the ledger's (machine-wide, by model id): only rows from the provider
        # this config names for the model speak for it.
        provider_of = {m.id: m.provider for m in self._models}
        self._observed = observed_from_rows(
            r for r in rows if provider_of.get(r.model) == r.provider
        )
        self._observed_once = True

    async def warm(self) -> None:
        """Make now what the first request would: the HTTP providers of the configured
        models and their clients (see :class:`~tta_codegen.models.http.WarmClient`).
        Nothing is sent; a provider that cannot be built is left for the request to
        report. The embedded model is not loaded here."""
        for name in dict.fromkeys(m.provider for m in self._models):
            pconf = self.config.providers.get(name)
            if pconf is None or pconf.kind not in ("openai", "anthropic", "ollama"):
                continue
            try:
                provider = self.registry.get(name)
                warm = getattr(provider, "warm", None)
                if warm is not None:
                    await warm()
            except Exception as exc:  # the request reports it properly
                log.info("could not warm provider %r: %s", name, exc)

    @property
    def observed(self) -> dict[str, Observed]:
        return self._observed

    def health_key(self, model: ModelConfig) -> str:
        """The breaker's key: provider endpoint and model id.

        The board is process-wide, and the same id on another provider (another workspace's
        ``fast``) is another model: it must not inherit this one's failures.
        """
        provider = self.config.providers.get(model.provider)
        where = (provider.base_url or provider.model_path or "") if provider else ""
        return f"{model.provider} {where} {model.id}"

    # -- planning ----------------------------------------------------------------------

    def plan(
        self,
        task_type: str,
        model_id: str | None = None,
        *,
        prompt_tokens: int = 0,
        max_tokens: int | None = None,
    ) -> list[ModelConfig]:
        """The ordered list of models to try: the chosen one, then its fallbacks."""
        cfg = self.config
        models = self._models
        if not models:
            raise NoModelConfigured(
                "no model is configured: add a [providers.NAME] table and a [[models]] entry "
                "to tta-codegen.toml (see the README), or install the embedded model with "
                "pip install 'tta-codegen[local]'"
            )
        max_tokens = max_tokens or cfg.generation.max_tokens
        task = cfg.routing.tasks.get(task_type)  # type: ignore[call-overload]
        fallbacks = task.fallbacks if task is not None and task.fallbacks is not None else None
        fallback_ids: list[str] = fallbacks if fallbacks is not None else cfg.routing.fallbacks
        unavailable = frozenset(
            m.id
            for m in models
            if self.breakers.state(self.health_key(m), cfg.routing.breaker) == "open"
        )
        ids: list[str] = []
        if model_id:
            if self.model(model_id) is None:
                known = ", ".join(m.id for m in models)
                raise NoModelConfigured(f"unknown model {model_id!r} (configured: {known})")
            ids = [model_id, *fallback_ids]
        elif task is not None and task.model:
            ids = [task.model, *fallback_ids]
        elif task is not None and task.has_requirements:
            req = Requirements(
                max_latency_ms=task.max_latency_ms,
                min_quality_score=task.min_quality_score,
                max_cost_usd=task.max_cost_usd,
                prefer_free=task.prefer_free,
            )
            ranked = select(
                models,
                task_type,
                req,
                self._observed,
                prompt_tokens=prompt_tokens,
                max_tokens=max_tokens,
                unavailable=unavailable,
            )
            ids = [m.id for m in ranked]  # only models meeting the requirements
        elif cfg.routing.default:
            ids = [cfg.routing.default, *fallback_ids]
        else:
            try:
                ranked = select(
                    models, task_type, Requirements(), self._observed, unavailable=unavailable
                )
                ids = [ranked[0].id]
            except NoModelConfigured:
                ids = [models[0].id]
            ids += fallback_ids
        seen: set[str] = set()
        plan: list[ModelConfig] = []
        for mid in ids:
            model = self.model(mid)
            if model is not None and mid not in seen:
                seen.add(mid)
                plan.append(model)
        return plan

    def default_model(self, task_type: str = "code_generation") -> str | None:
        """The model a request that names none would try first: the head of the plan
        (None when no model is configured or none meets the task's requirements).

        Call :meth:`prepare` first for the plan a request would get (catalog prices,
        observed history)."""
        try:
            plan = self.plan(task_type)
        except ModelError:
            return None
        return plan[0].id if plan else None

    # -- streaming ---------------------------------------------------------------------

    async def stream(
        self,
        request: ModelRequest,
        model_id: str | None = None,
        should_stop: Callable[[], bool] | None = None,
        accept: Callable[[str | None], str | None] | None = None,
    ) -> AsyncGenerator[RouterEvent]:
        """Stream from the first model that works.

        ``should_stop`` lets the caller end a reply early (the code block closed): no more
        text is passed on, the stream is read for at most :data:`USAGE_GRACE_S` more for
        its usage and finish reason, then closed (usage is estimated, and marked so, when
        none came). ``accept`` judges a finished reply, given the provider's stop reason
        (``"length"`` when the token limit cut it): a message means it was unusable (prose
        only, too long), and the next model in the plan is tried as after a failure.
        Raises SafetyRefused or BudgetExceeded before anything is sent, AllModelsFailed
        when every model in the plan failed.
        """
        await self.prepare()
        self.safety.check_prompt([m.content for m in request.messages])
        prompt_tokens = estimate_tokens(request)
        plan = self.plan(
            request.task_type, model_id, prompt_tokens=prompt_tokens, max_tokens=request.max_tokens
        )
        failures: list[AttemptFailed] = []
        refusals: list[BudgetExceeded] = []
        bcfg = self.config.routing.breaker
        for model in plan:
            yield AttemptStarted(model.id)
            key = self.health_key(model)
            if not self.breakers.allow(key, bcfg):
                last = self.breakers.get(key).last_error or "repeated failures"
                wait = self.breakers.seconds_until_retry(key)
                failure = AttemptFailed(
                    model.id,
                    f"skipped: circuit open after repeated failures (last: {last}); "
                    f"tried again in {wait:.0f} s",
                    False,
                    "circuit_open",
                )
                failures.append(failure)
                yield failure
                continue
            reservation: str | None = None
            try:
                provider: Provider = self.registry.get(model.provider)
                req = request
                if model.max_tokens is not None and model.max_tokens < request.max_tokens:
                    req = ModelRequest(**{**request.__dict__, "max_tokens": model.max_tokens})
                estimate = estimate_cost(model, prompt_tokens, req.max_tokens)
                reservation = await check_budget(self.config.budget, self.ledger, model, estimate)
            except BudgetExceeded as exc:
                self.breakers.release(key)
                refusals.append(exc)
                failure = AttemptFailed(model.id, str(exc), False, "budget")
                failures.append(failure)
                yield failure
                continue
            except ModelError as exc:
                self.breakers.release(key)
                failure = AttemptFailed(model.id, str(exc), False, "config")
                failures.append(failure)
                yield failure
                continue
            except (sqlite3.Error, OSError) as exc:
                # An unreadable ledger must not block work; the budget cannot be checked.
                log.warning("budget check skipped: cannot read the ledger: %s", exc)
            # aclosing: a caller that walks away closes the attempt (and its HTTP stream) now.
            settle = _Reservation(reservation)
            attempt_gen = self._attempt(model, provider, req, request, should_stop, accept, settle)
            try:
                async with aclosing(attempt_gen) as attempt:
                    async for event in attempt:
                        yield event
                        if isinstance(event, Finished):
                            return
                        if isinstance(event, AttemptFailed):
                            failures.append(event)
            finally:
                if (unsettled := settle.take()) is not None:
                    self._spawn(self._release(unsettled))
        if refusals and len(refusals) == len(
            [f for f in failures if f.kind not in ("circuit_open",)]
        ):
            raise refusals[0]
        raise AllModelsFailed(failures)

    async def _attempt(
        self,
        model: ModelConfig,
        provider: Provider,
        req: ModelRequest,
        original: ModelRequest,
        should_stop: Callable[[], bool] | None,
        accept: Callable[[str | None], str | None] | None = None,
        reservation: _Reservation | None = None,
    ) -> AsyncGenerator[RouterEvent]:
        """One model: tries (with retries) until it finishes or gives up."""
        prompt_tokens = estimate_tokens(original)
        bcfg = self.config.routing.breaker
        # The embedded model sends no usage chunk to wait for, and would only go on
        # generating (on this machine's CPU) during a grace period. An inline suggestion is
        # short and often superseded at the next keystroke: its stream is read only for an
        # end the provider already sent (COMPLETION_GRACE_S), then closed (usage
        # estimated), so a newer request never waits on an older one's grace.
        if provider.config.kind == "llamacpp":
            grace_s = 0.0
        elif original.task_type == "completion":
            grace_s = COMPLETION_GRACE_S
        else:
            grace_s = USAGE_GRACE_S
        key = self.health_key(model)
        tries = 0
        while True:
            tries += 1
            started = time.perf_counter()
            ttft: float | None = None
            usage: Usage | None = None
            stop_reason: str | None = None
            streamed = False
            deltas = 0
            grace_until: float | None = None  # set once the caller stopped the reply
            try:
                async with aclosing(provider.stream(model, req)) as items:
                    while True:
                        if grace_until is None:
                            try:
                                item = await anext(items)
                            except StopAsyncIteration:
                                break
                        else:
                            left = grace_until - time.perf_counter()
                            if left <= 0 or usage is not None:
                                break
                            try:
                                item = await asyncio.wait_for(anext(items), left)
                            except (StopAsyncIteration, TimeoutError, ProviderError):
                                break  # the code is whole; what follows it does not matter
                        if isinstance(item, TextDelta):
                            deltas += 1  # billed even after the stop: counted
                            if grace_until is not None:
                                continue
                            if ttft is None:
                                ttft = time.perf_counter() - started
                            streamed = True
                            yield item
                            if should_stop is not None and should_stop():
                                grace_until = time.perf_counter() + grace_s
                        elif isinstance(item, Stop):
                            # After the caller's stop the reply was whole for it: a later
                            # "length" cut only the prose after the code.
                            if grace_until is None:
                                stop_reason = item.reason
                        else:
                            usage = item
            except ProviderError as exc:
                latency = time.perf_counter() - started
                cooldown = None
                if (
                    exc.retry_after is not None
                    and exc.retry_after > self.retry.config.max_retry_after_s
                ):
                    cooldown = exc.retry_after
                if not exc.sent:
                    # Nothing went out (no key): configuration, not a request the model failed.
                    self.breakers.release(key)
                    yield AttemptFailed(model.id, str(exc), False, exc.kind)
                    return
                spent = usage or Usage(prompt_tokens if streamed else 0, deltas, estimated=streamed)
                spent_usd = await self._record(
                    model,
                    original,
                    spent,
                    latency,
                    ttft,
                    "error",
                    exc.kind,
                    billed=streamed,
                    reservation=reservation,
                )
                delay = None if streamed else self.retry.delay(tries, exc)
                if delay is not None:
                    yield Retrying(model.id, str(exc), delay, tries)
                    await self._sleep(delay)
                    continue
                # The breaker counts failed requests, not tries: one failure once the retries
                # are spent, and none for an input the model's window cannot take.
                if exc.counts_against_model or cooldown:
                    self.breakers.failure(key, bcfg, str(exc), cooldown)
                else:
                    self.breakers.release(key)
                message = str(exc) if tries == 1 else f"{exc} (after {tries} tries)"
                yield AttemptFailed(model.id, message, streamed, exc.kind, spent, spent_usd)
                return
            except (GeneratorExit, asyncio.CancelledError):
                # The caller went away (cancel): note it without awaiting in a dying task.
                self.breakers.release(key)
                spent = usage or Usage(prompt_tokens, deltas, estimated=True)
                self._spawn(
                    self._record(
                        model,
                        original,
                        spent,
                        time.perf_counter() - started,
                        ttft,
                        "cancelled",
                        None,
                        billed=streamed,
                        reservation=reservation,
                    )
                )
                raise
            latency = time.perf_counter() - started
            if usage is None:
                usage = Usage(prompt_tokens, deltas, estimated=True)
            self.breakers.success(key)
            verdict = accept(stop_reason) if accept is not None else None
            if verdict:
                cost = await self._record(
                    model,
                    original,
                    usage,
                    latency,
                    ttft,
                    "error",
                    "unusable",
                    reservation=reservation,
                )
                yield AttemptFailed(model.id, verdict, streamed, "unusable", usage, cost)
                return
            cost = await self._record(
                model, original, usage, latency, ttft, "ok", None, reservation=reservation
            )
            yield Finished(model.id, usage, cost, ttft, latency, tries, stop_reason)
            return

    async def _record(
        self,
        model: ModelConfig,
        request: ModelRequest,
        usage: Usage,
        latency_s: float,
        ttft_s: float | None,
        outcome: str,
        error_kind: str | None,
        *,
        billed: bool = True,
        reservation: _Reservation | None = None,
    ) -> float:
        """Write one ledger row (settling the budget reservation, the first time);
        returns the cost recorded. Never raises."""
        cost = cost_of(model, usage) if billed else 0.0
        row = LedgerRow(
            ts=time.time(),
            model=model.id,
            provider=model.provider,
            task_type=request.task_type,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=cost,
            cost_source=_cost_source(model, usage),
            latency_s=latency_s,
            ttft_s=ttft_s,
            outcome=outcome,
            error_kind=error_kind,
        )
        uid = reservation.take() if reservation is not None else None
        try:
            await self.ledger.record(row, uid)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot write the cost ledger %s: %s", self.ledger.describe(), exc)
        return cost

    async def _release(self, reservation: str) -> None:
        try:
            await self.ledger.release(reservation)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot release a budget reservation: %s", exc)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait for ledger writes still in flight (after a cancel)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # -- reporting ---------------------------------------------------------------------

    def health(self, model_id: str) -> dict[str, Any]:
        """What ``tta.listModels`` shows: the breaker's state plus recent history."""
        bcfg = self.config.routing.breaker
        model = self.model(model_id)
        key = self.health_key(model) if model is not None else model_id
        state = self.breakers.state(key, bcfg)
        b = self.breakers.get(key)
        obs = self._observed.get(model_id)
        if state == "open":
            health = "down"
        elif state == "half_open":
            health = "recovering"
        elif b.consecutive_failures:
            health = "degraded"
        elif b.total_successes:
            health = "ok"
        elif obs is not None and obs.requests:
            # Nothing sent by this process yet: the ledger's recent history decides.
            health = "degraded" if obs.failure_rate > DEGRADED_FAILURE_RATE else "ok"
        else:
            health = "unknown"
        out: dict[str, Any] = {
            "health": health,
            "circuit": state,
            "consecutive_failures": b.consecutive_failures,
        }
        if b.last_error and state != "closed":
            out["last_error"] = b.last_error
        if state == "open":
            out["retry_in_s"] = round(self.breakers.seconds_until_retry(key), 1)
        return out

    def check_output(self, code: str) -> list[Finding]:
        """Safety warnings for generated code ([] when ``[safety]`` is off)."""
        return self.safety.check_output(code)

    async def aclose(self) -> None:
        await self.flush()
        await self.registry.aclose()
        await asyncio.to_thread(self.ledger.close)  # the team ledger's connection
