"""Choosing models for a task: hard requirements filter, a score ranks, the plan falls back.

Pure functions over the catalog and what was observed, so they can be property-tested.
Requirements (``[routing.tasks.<task>]``):

- ``max_latency_ms``: the model's observed p50 latency (declared ``latency_ms`` until
  measured) must not exceed it; a model with no known latency passes.
- ``min_quality_score``: the declared quality for the task must reach it; unknown fails.
- ``max_cost_usd``: the worst-case price of this request (prompt + max_tokens) must not
  exceed it; free models cost 0.
- ``prefer_free`` (soft): free models rank first.

The score blends the declared quality (5 when not declared) with what was observed: it is
scaled down by the failure rate (shrunk toward 0 while there are few observations) and by
latency, so a model that keeps failing or crawls sinks below a steadier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tta_codegen.models.budget import estimate_cost, is_free
from tta_codegen.models.errors import NoModelConfigured
from tta_codegen.models.settings import ModelConfig

DEFAULT_QUALITY = 5.0
# Observations needed before the measured failure rate counts fully.
_PRIOR_WEIGHT = 10


@dataclass(frozen=True)
class Requirements:
    max_latency_ms: float | None = None
    min_quality_score: float | None = None
    max_cost_usd: float | None = None
    prefer_free: bool = False


@dataclass(frozen=True)
class Observed:
    """What the ledger says about a model (recent requests)."""

    requests: int = 0
    failures: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    @property
    def failure_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Candidate:
    model: ModelConfig
    score: float
    violations: list[str] = field(default_factory=list)


def latency_of(model: ModelConfig, observed: Observed | None) -> float | None:
    if observed is not None and observed.latency_p50_ms is not None:
        return observed.latency_p50_ms
    return model.latency_ms


def violations(
    model: ModelConfig,
    task_type: str,
    req: Requirements,
    observed: Observed | None,
    prompt_tokens: int,
    max_tokens: int,
) -> list[str]:
    """Why this model breaks a hard requirement (empty: it meets them all)."""
    out: list[str] = []
    if req.max_latency_ms is not None:
        latency = latency_of(model, observed)
        if latency is not None and latency > req.max_latency_ms:
            out.append(f"latency {latency:.0f} ms > max_latency_ms {req.max_latency_ms:.0f}")
    if req.min_quality_score is not None:
        quality = model.quality_for(task_type)
        if quality is None or quality < req.min_quality_score:
            shown = "not declared" if quality is None else f"{quality:g}"
            out.append(f"quality {shown} < min_quality_score {req.min_quality_score:g}")
    if req.max_cost_usd is not None:
        cost = estimate_cost(model, prompt_tokens, max_tokens)
        if cost > req.max_cost_usd:
            out.append(f"estimated cost ${cost:.4f} > max_cost_usd ${req.max_cost_usd:.4f}")
    return out


def score(
    model: ModelConfig, task_type: str, req: Requirements, observed: Observed | None
) -> float:
    quality = model.quality_for(task_type)
    value = DEFAULT_QUALITY if quality is None else quality
    if observed is not None and observed.requests:
        weight = observed.requests / (observed.requests + _PRIOR_WEIGHT)
        value *= 1.0 - weight * observed.failure_rate
    latency = latency_of(model, observed)
    if latency is not None:
        # 10 s of typical latency costs a third of the score; never more than half.
        value *= 1.0 - min(0.5, latency / 30_000)
    if req.prefer_free and is_free(model):
        value += 100.0  # dominates every quality difference: free first, then best
    return value


def select(
    models: Sequence[ModelConfig],
    task_type: str,
    req: Requirements,
    observed: dict[str, Observed] | None = None,
    *,
    prompt_tokens: int = 0,
    max_tokens: int = 1024,
    unavailable: frozenset[str] = frozenset(),
) -> list[ModelConfig]:
    """An ordered plan: the best model meeting every hard requirement, then the others.

    Models in ``unavailable`` (open circuits) go last among the qualifying ones, so they
    are probed only when nothing else works. Raises NoModelConfigured, naming each model
    and what it lacks, when no model for the task meets the requirements.
    """
    observed = observed or {}
    suitable = [m for m in models if task_type in m.task_types]
    if not suitable:
        raise NoModelConfigured(
            f"no configured model lists task type {task_type!r} in its task_types"
        )
    ok: list[Candidate] = []
    rejected: list[Candidate] = []
    for m in suitable:
        obs = observed.get(m.id)
        bad = violations(m, task_type, req, obs, prompt_tokens, max_tokens)
        cand = Candidate(m, score(m, task_type, req, obs), bad)
        (rejected if bad else ok).append(cand)
    if not ok:
        why = "; ".join(f"{c.model.id}: {', '.join(c.violations)}" for c in rejected)
        raise NoModelConfigured(
            f"no model meets the requirements of routing.tasks.{task_type} ({why}); "
            "relax them or add a model that does"
        )
    order = {m.id: i for i, m in enumerate(suitable)}
    # Stable: equal scores keep config order, so the first configured model wins ties.
    ok.sort(key=lambda c: (c.model.id in unavailable, -c.score, order[c.model.id]))
    return [c.model for c in ok]
