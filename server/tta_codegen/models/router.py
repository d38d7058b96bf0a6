"""The model layer's one entry point: pick a model, stream from it, fall back on failure.

The engine sees a single stream of events; which provider answered, how many tried
before it and what it cost are all reported in-band, so the engine can reset the
document when a model fails after it had already streamed text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from tta_codegen.config import Config, ModelConfig
from tta_codegen.models.base import ModelRequest, Provider, TextDelta, Usage
from tta_codegen.models.errors import ModelError, NoModelConfigured, ProviderError
from tta_codegen.models.registry import ProviderRegistry


@dataclass(frozen=True)
class AttemptStarted:
    model: str


@dataclass(frozen=True)
class AttemptFailed:
    model: str
    error: str
    streamed: bool  # True when text had already been delivered from this attempt


@dataclass(frozen=True)
class Finished:
    model: str
    usage: Usage
    cost_usd: float


RouterEvent = AttemptStarted | TextDelta | AttemptFailed | Finished


class AllModelsFailed(ModelError):
    def __init__(self, attempts: list[AttemptFailed]) -> None:
        last = attempts[-1].error if attempts else "no model was tried"
        tried = ", ".join(a.model for a in attempts)
        super().__init__(f"all models failed ({tried}); last error: {last}")
        self.attempts = attempts


def estimate_tokens(request: ModelRequest) -> int:
    """Rough prompt size (chars/4) for when a provider reports none."""
    return sum(len(m.content) for m in request.messages) // 4 + 4 * len(request.messages)


def cost_of(model: ModelConfig, usage: Usage) -> float:
    if usage.cost_usd is not None:
        return usage.cost_usd
    if model.free:
        return 0.0
    return (
        usage.prompt_tokens * model.input_cost_per_mtok
        + usage.completion_tokens * model.output_cost_per_mtok
    ) / 1_000_000


class ModelRouter:
    def __init__(self, config: Config, registry: ProviderRegistry) -> None:
        self.config = config
        self.registry = registry

    def plan(self, task_type: str, model_id: str | None = None) -> list[ModelConfig]:
        """The ordered list of models to try: the chosen one, then its fallbacks."""
        cfg = self.config
        if not cfg.models:
            raise NoModelConfigured(
                "no model is configured: add a [providers.NAME] table and a [[models]] entry "
                "to tta-codegen.toml (see the README), or install the embedded model with "
                "pip install 'tta-codegen[local]'"
            )
        task = cfg.routing.tasks.get(task_type)  # type: ignore[call-overload]
        ids: list[str] = []
        if model_id:
            if cfg.model(model_id) is None:
                known = ", ".join(m.id for m in cfg.models)
                raise NoModelConfigured(f"unknown model {model_id!r} (configured: {known})")
            ids.append(model_id)
        elif task is not None and task.model:
            ids.append(task.model)
        elif cfg.routing.default:
            ids.append(cfg.routing.default)
        else:
            suitable = [m.id for m in cfg.models if task_type in m.task_types]
            ids.append((suitable or [cfg.models[0].id])[0])
        fallbacks = task.fallbacks if task is not None and task.fallbacks is not None else None
        ids.extend(fallbacks if fallbacks is not None else cfg.routing.fallbacks)
        seen: set[str] = set()
        plan: list[ModelConfig] = []
        for mid in ids:
            model = cfg.model(mid)
            if model is not None and mid not in seen:
                seen.add(mid)
                plan.append(model)
        return plan

    async def stream(
        self,
        request: ModelRequest,
        model_id: str | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> AsyncIterator[RouterEvent]:
        """Stream from the first model that works.

        ``should_stop`` lets the caller end a reply early (the code block closed): the
        provider stream is closed at once and usage is estimated from what arrived.
        """
        failures: list[AttemptFailed] = []
        for model in self.plan(request.task_type, model_id):
            yield AttemptStarted(model.id)
            try:
                provider: Provider = self.registry.get(model.provider)
            except ModelError as exc:
                failure = AttemptFailed(model.id, str(exc), False)
                failures.append(failure)
                yield failure
                continue
            usage: Usage | None = None
            streamed = False
            deltas = 0
            try:
                req = request
                if model.max_tokens is not None and model.max_tokens < request.max_tokens:
                    req = ModelRequest(**{**request.__dict__, "max_tokens": model.max_tokens})
                async with aclosing(provider.stream(model, req)) as items:
                    async for item in items:
                        if isinstance(item, TextDelta):
                            streamed = True
                            deltas += 1
                            yield item
                            if should_stop is not None and should_stop():
                                break
                        else:
                            usage = item
            except ProviderError as exc:
                failure = AttemptFailed(model.id, str(exc), streamed)
                failures.append(failure)
                yield failure
                continue
            if usage is None:
                usage = Usage(estimate_tokens(request), deltas)
            yield Finished(model.id, usage, cost_of(model, usage))
            return
        raise AllModelsFailed(failures)

    async def aclose(self) -> None:
        await self.registry.aclose()
