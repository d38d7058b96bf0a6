"""Per-model numbers from the ledger: requests, failures, latency percentiles, speed, cost.

Feeds ``tta.stats``, ``tta-codegen stats`` and the observed side of model selection.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tta_codegen.models.errors import INPUT_KINDS
from tta_codegen.models.ledger import LedgerRow, start_of_day, start_of_month
from tta_codegen.models.selection import Observed
from tta_codegen.models.settings import BudgetConfig


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


@dataclass
class ModelStats:
    model: str
    requests: int
    failures: int
    cancelled: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    total_p50_ms: float | None
    total_p95_ms: float | None
    prompt_tokens: int
    completion_tokens: int
    tokens_per_s: float | None
    cost_today_usd: float
    cost_month_usd: float
    cost_total_usd: float
    last_used: float | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def model_stats(rows: Iterable[LedgerRow], now: float | None = None) -> list[ModelStats]:
    now = time.time() if now is None else now
    day, month = start_of_day(now), start_of_month(now)
    by_model: dict[str, list[LedgerRow]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    out: list[ModelStats] = []
    for model, items in sorted(by_model.items()):
        ok = [r for r in items if r.outcome == "ok"]
        ttfts = [r.ttft_s for r in ok if r.ttft_s is not None]
        totals = [r.latency_s for r in ok]
        # Speed of generation proper: tokens over the time after the first one arrived.
        gen_time = sum(max(0.0, r.latency_s - (r.ttft_s or 0.0)) for r in ok)
        gen_tokens = sum(r.completion_tokens for r in ok)
        out.append(
            ModelStats(
                model=model,
                requests=len(items),
                failures=sum(1 for r in items if r.outcome == "error"),
                cancelled=sum(1 for r in items if r.outcome == "cancelled"),
                ttft_p50_ms=_ms(percentile(ttfts, 50)),
                ttft_p95_ms=_ms(percentile(ttfts, 95)),
                total_p50_ms=_ms(percentile(totals, 50)),
                total_p95_ms=_ms(percentile(totals, 95)),
                prompt_tokens=sum(r.prompt_tokens for r in items),
                completion_tokens=sum(r.completion_tokens for r in items),
                tokens_per_s=round(gen_tokens / gen_time, 1) if gen_time > 0 else None,
                cost_today_usd=round(sum(r.cost_usd for r in items if r.ts >= day), 8),
                cost_month_usd=round(sum(r.cost_usd for r in items if r.ts >= month), 8),
                cost_total_usd=round(sum(r.cost_usd for r in items), 8),
                last_used=max(r.ts for r in items),
            )
        )
    return out


def budget_status(
    budget: BudgetConfig, rows: Sequence[LedgerRow], now: float | None = None
) -> dict[str, object]:
    """Each configured budget with what was spent against it and what is left."""
    now = time.time() if now is None else now
    out: dict[str, object] = {}
    periods = (("daily_usd", start_of_day(now)), ("monthly_usd", start_of_month(now)))
    for name, since in periods:
        limit = getattr(budget, name)
        if limit is not None:
            spent = sum(r.cost_usd for r in rows if r.ts >= since)
            out[name] = {
                "limit": limit,
                "spent": round(spent, 8),
                "left": round(max(0.0, limit - spent), 8),
            }
    if budget.per_request_usd is not None:
        out["per_request_usd"] = {"limit": budget.per_request_usd}
    return out


def summary(
    rows: Sequence[LedgerRow], now: float | None = None, budget: BudgetConfig | None = None
) -> dict[str, Any]:
    """The ``tta.stats`` answer: per-model stats, totals and budgets."""
    now = time.time() if now is None else now
    models = model_stats(rows, now)
    return {
        "budget": budget_status(budget, rows, now) if budget is not None else {},
        "models": [m.to_dict() for m in models],
        "totals": {
            "requests": sum(m.requests for m in models),
            "failures": sum(m.failures for m in models),
            "cost_today_usd": round(sum(m.cost_today_usd for m in models), 8),
            "cost_month_usd": round(sum(m.cost_month_usd for m in models), 8),
            "cost_total_usd": round(sum(m.cost_total_usd for m in models), 8),
        },
    }


def observed(rows: Iterable[LedgerRow]) -> dict[str, Observed]:
    """What selection needs: request and failure counts, total latency percentiles."""
    by_model: dict[str, list[LedgerRow]] = {}
    for row in rows:
        if row.outcome != "cancelled":  # a cancel says nothing about the model
            by_model.setdefault(row.model, []).append(row)
    out: dict[str, Observed] = {}
    for model, items in by_model.items():
        totals = [r.latency_s for r in items if r.outcome == "ok"]
        p50, p95 = percentile(totals, 50), percentile(totals, 95)
        out[model] = Observed(
            requests=len(items),
            # An input too long for the window is the request's failure, not the model's.
            failures=sum(
                1 for r in items if r.outcome == "error" and r.error_kind not in INPUT_KINDS
            ),
            latency_p50_ms=None if p50 is None else p50 * 1000,
            latency_p95_ms=None if p95 is None else p95 * 1000,
        )
    return out
