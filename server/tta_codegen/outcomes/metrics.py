"""The plan's success metrics, computed from outcome, retention and request rows.

Every number says what it is over (``*_of`` counts) so a rate over three generations is
not read as a trend. See docs/metrics.md for each definition.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tta_codegen.models.ledger import OutcomeRow, RetentionRow

# Retained at least this share of the accepted text: "needed only minimal editing".
MINIMAL_EDITING = 0.8
BY_KEYS = ("model", "template", "category")


def parse_since(value: str | None, now: float | None = None) -> float | None:
    """``30d``, ``12h``, ``2w``, ``90m`` or an ISO date, as a timestamp; None for all time."""
    if value is None or not value.strip():
        return None
    now = time.time() if now is None else now
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", value)
    if m:
        unit = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}[m.group(2)]
        return now - float(m.group(1)) * unit
    try:
        return datetime.fromisoformat(value.strip()).astimezone().timestamp()
    except ValueError:
        raise ValueError(
            f"--since {value!r}: use a duration such as 30d, 12h, 2w or a date such as 2026-11-01"
        ) from None


def week_of(ts: float) -> str:
    year, week, _ = datetime.fromtimestamp(ts).astimezone().isocalendar()
    return f"{year}-W{week:02d}"


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d")


def _rate(hits: int, total: int) -> float | None:
    return None if total == 0 else round(hits / total, 4)


def _median(values: Sequence[float], digits: int) -> float | None:
    return None if not values else round(statistics.median(values), digits)


def latest_retention(retention: Sequence[RetentionRow]) -> dict[str, float]:
    """Per outcome, its latest ratio: the idle measurement when there is one, else save."""
    out: dict[str, tuple[int, float, float]] = {}
    for r in retention:
        rank = 1 if r.stage == "idle" else 0
        prev = out.get(r.outcome_uid)
        if prev is None or (rank, r.ts) > (prev[0], prev[1]):
            out[r.outcome_uid] = (rank, r.ts, r.ratio)
    return {uid: v[2] for uid, v in out.items()}


def outcome_metrics(
    outcomes: Sequence[OutcomeRow], retention: Sequence[RetentionRow]
) -> dict[str, Any]:
    """The plan's metrics over ``outcomes`` (retention rows of other outcomes are ignored).

    The plan's numbers are over generations (generate, refine, tests); inline suggestions
    are many small offers, mostly dismissed, and would drown them: they get their own
    ``inline_*`` keys.
    """
    inline = [o for o in outcomes if o.kind == "inline"]
    outcomes = [o for o in outcomes if o.kind != "inline"]
    counts = {d: 0 for d in ("accepted", "discarded", "regenerated", "cancelled", "failed")}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    decided = counts["accepted"] + counts["discarded"] + counts["regenerated"]
    first = [o.gates_first for o in outcomes if o.gates_first is not None]
    final = [o.gates_final for o in outcomes if o.gates_final is not None]
    accepted = [o for o in outcomes if o.outcome == "accepted"]
    ratios_by_uid = latest_retention(retention)
    ratios = [ratios_by_uid[o.uid] for o in accepted if o.uid in ratios_by_uid]
    to_accept = [
        o.generation_s + o.decision_s
        for o in accepted
        if o.generation_s is not None and o.decision_s is not None
    ]
    accepted_lines = sum(o.lines for o in accepted)
    cost = sum(o.cost_usd for o in outcomes)
    per_week: dict[str, dict[str, int]] = {}
    for o in accepted:
        cat = per_week.setdefault(o.category or o.template or o.kind, {})
        week = week_of(o.ts)
        cat[week] = cat.get(week, 0) + 1
    return {
        "generations": len(outcomes),
        **counts,
        "ci_runs": sum(1 for o in outcomes if o.source == "ci"),
        "acceptance_rate": _rate(counts["accepted"], decided),
        "acceptance_rate_of": decided,
        "gates_pass_rate_first": _rate(sum(first), len(first)),
        "gates_pass_rate_final": _rate(sum(final), len(final)),
        "gates_checked": len(final),
        "retention_p50": _median(ratios, 4),
        "minimal_editing_share": _rate(sum(1 for r in ratios if r >= MINIMAL_EDITING), len(ratios)),
        "retention_measured": len(ratios),
        "request_to_accept_p50_s": None
        if not to_accept
        else round(statistics.median(to_accept), 3),
        "accepted_lines": accepted_lines,
        "cost_usd": round(cost, 8),
        "cost_per_accepted_line_usd": None
        if not accepted_lines
        else round(cost / accepted_lines, 8),
        "components_per_week": per_week,
        **inline_metrics(inline, ratios_by_uid),
    }


def inline_metrics(inline: Sequence[OutcomeRow], ratios_by_uid: dict[str, float]) -> dict[str, Any]:
    """Inline suggestions: offered, accepted, and how much of the accepted text stayed."""
    accepted = [o for o in inline if o.outcome == "accepted"]
    ratios = [ratios_by_uid[o.uid] for o in accepted if o.uid in ratios_by_uid]
    return {
        "inline_suggestions": len(inline),
        "inline_accepted": len(accepted),
        "inline_acceptance_rate": _rate(len(accepted), len(inline)),
        "inline_retention_p50": _median(ratios, 4),
    }


def grouped(
    outcomes: Sequence[OutcomeRow], retention: Sequence[RetentionRow], by: str
) -> dict[str, dict[str, Any]]:
    """The metrics per model, template or category (``"(none)"`` where it is not set)."""
    if by not in BY_KEYS:
        raise ValueError(f"--by {by!r}: use one of {', '.join(BY_KEYS)}")
    groups: dict[str, list[OutcomeRow]] = {}
    for o in outcomes:
        groups.setdefault(getattr(o, by) or "(none)", []).append(o)
    return {key: outcome_metrics(rows, retention) for key, rows in sorted(groups.items())}
