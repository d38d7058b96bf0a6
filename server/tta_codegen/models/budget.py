"""Spending limits, checked before a request is sent.

The estimate is the most a request can cost: the prompt (chars/4) at the input price plus
``max_tokens`` at the output price. A request that could push spending past
``budget.per_request_usd``, ``budget.daily_usd`` or ``budget.monthly_usd`` is refused with
a message naming the budget and what is left. Free models always pass.

A request that fits *reserves* its estimate in the ledger (spent + reserved is what
counts), and its ledger row settles the reservation: concurrent writers (two editor
windows, a team on one PostgreSQL ledger) cannot spend the same money twice.
"""

from __future__ import annotations

import time

from tta_codegen.models.errors import ModelError
from tta_codegen.models.ledger import BudgetRefusal, LedgerBackend, start_of_day, start_of_month
from tta_codegen.models.settings import BudgetConfig, ModelConfig


class BudgetExceeded(ModelError):
    """A request was refused before sending because it could exceed a budget."""

    def __init__(self, message: str, budget: str, remaining_usd: float) -> None:
        super().__init__(message)
        self.budget = budget
        self.remaining_usd = remaining_usd


def is_free(model: ModelConfig) -> bool:
    return model.free or (model.input_cost_per_mtok == 0 and model.output_cost_per_mtok == 0)


def estimate_cost(model: ModelConfig, prompt_tokens: int, max_tokens: int) -> float:
    """Upper bound of a request's price in USD (0 for free models)."""
    if is_free(model):
        return 0.0
    return (
        prompt_tokens * model.input_cost_per_mtok + max_tokens * model.output_cost_per_mtok
    ) / 1_000_000


def _usd(value: float) -> str:
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


async def check_budget(
    budget: BudgetConfig,
    ledger: LedgerBackend | None,
    model: ModelConfig,
    estimate_usd: float,
    now: float | None = None,
) -> str | None:
    """Reserve ``estimate_usd`` against the budgets; raise BudgetExceeded if it does not fit.

    Returns the reservation to settle (pass it to the ledger's ``record``) or release, or
    None when nothing was reserved (free model, no period budget).
    """
    if estimate_usd <= 0 or is_free(model):
        return None
    what = f"this request to {model.id!r} could cost up to {_usd(estimate_usd)}"
    if budget.per_request_usd is not None and estimate_usd > budget.per_request_usd:
        raise BudgetExceeded(
            f"refused before sending: {what}, more than budget.per_request_usd "
            f"({_usd(budget.per_request_usd)}); lower generation.max_tokens, pick a cheaper "
            "or free model, or raise the budget",
            "per_request_usd",
            budget.per_request_usd,
        )
    if ledger is None:
        return None
    now = time.time() if now is None else now
    limits = [
        (name, limit, since)
        for name, limit, since in (
            ("daily_usd", budget.daily_usd, start_of_day(now)),
            ("monthly_usd", budget.monthly_usd, start_of_month(now)),
        )
        if limit is not None
    ]
    if not limits:
        return None
    try:
        return await ledger.reserve(estimate_usd, limits)
    except BudgetRefusal as exc:
        period = "today" if exc.name == "daily_usd" else "this month"
        left = max(0.0, exc.limit - exc.spent)
        raise BudgetExceeded(
            f"refused before sending: {what}, but budget.{exc.name} ({_usd(exc.limit)}) has "
            f"{_usd(left)} left ({_usd(exc.spent)} spent or reserved {period}); use a free "
            f"model or raise budget.{exc.name}",
            exc.name,
            left,
        ) from None
