"""``tta-codegen stats [--json] [--since 30d] [--by model|template|category]``.

Per-model requests, latency and cost from the ledger, and the outcome metrics
(acceptance, gate pass rates, retention; docs/metrics.md) — from the team ledger when
``[ledger] url`` names one.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from tta_codegen.cli.app import EXIT_OK, EXIT_USAGE, app
from tta_codegen.completion.acceptance import AcceptanceLog, acceptance_path
from tta_codegen.config import load_config
from tta_codegen.models.ledger import start_of_month
from tta_codegen.models.ledger_pg import open_ledger
from tta_codegen.models.stats import summary
from tta_codegen.outcomes.metrics import BY_KEYS, grouped, outcome_metrics, parse_since


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.0f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def outcome_line(m: dict[str, Any]) -> str:
    """The outcome metrics on one line (the table's footer and each ``--by`` group)."""
    per_line = m["cost_per_accepted_line_usd"]
    to_accept = m["request_to_accept_p50_s"]
    return (
        f"acceptance {_pct(m['acceptance_rate'])} of {m['acceptance_rate_of']} · gates first "
        f"{_pct(m['gates_pass_rate_first'])} / final {_pct(m['gates_pass_rate_final'])} · "
        f"retention p50 {_pct(m['retention_p50'])} · minimal editing "
        f"{_pct(m['minimal_editing_share'])} · request→accept p50 "
        f"{'-' if to_accept is None else f'{to_accept:.1f}s'} · "
        f"{'-' if per_line is None else f'${per_line:.5f}'} per accepted line"
    )


@app.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Workspace whose budgets (and ledger) to use.",
)
@click.option("--since", default=None, help="Only this recent: 30d, 12h, 2w or a date.")
@click.option(
    "--by", "by", type=click.Choice(BY_KEYS), default=None, help="Outcome metrics per group."
)
def stats_command(as_json: bool, workspace: Path, since: str | None, by: str | None) -> None:
    """Per-model requests, failures, latency, tokens/s and cost; acceptance, gate pass
    rates, retention and cost per accepted line."""
    loaded = load_config(workspace.resolve())
    for issue in loaded.issues:
        click.echo(f"config: {issue}", err=True)
    try:
        since_ts = parse_since(since)
    except ValueError as exc:
        click.echo(f"tta-codegen: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    ledger = open_ledger(loaded.config.ledger)
    now = time.time()
    # Budgets always need this month's rows, whatever --since says.
    first = start_of_month(now) if since_ts is None else min(since_ts, start_of_month(now))
    rows = ledger.rows_sync(since=None if since_ts is None else first)
    shown = [r for r in rows if since_ts is None or r.ts >= since_ts]
    data = summary(shown, now=now, budget=None)
    data["budget"] = summary(rows, now=now, budget=loaded.config.budget)["budget"]
    outcomes, retention = ledger.outcomes_sync(since_ts), ledger.retention_sync(since_ts)
    data["outcomes"] = outcome_metrics(outcomes, retention)
    if by is not None:
        data["outcomes_by"] = {by: grouped(outcomes, retention, by)}
    data["since"] = since_ts
    data["ledger"] = ledger.describe()
    data["completions"] = AcceptanceLog(acceptance_path(ledger.path)).summary_sync()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        sys.exit(EXIT_USAGE if not loaded.ok else EXIT_OK)
    if not data["models"]:
        click.echo(f"no requests recorded yet (ledger: {data['ledger']})")
    else:
        # As wide as the longest model id, so long ids (OpenRouter's) keep the columns.
        width = max(len("model"), *(len(m["model"]) for m in data["models"]))
        click.echo(
            f"{'model':<{width}} {'req':>5} {'fail':>5} {'ttft p50/p95 ms':>16} "
            f"{'total p50/p95 ms':>17} {'tok/s':>7} {'today $':>10} {'total $':>10}"
        )
        for m in data["models"]:
            tps = "-" if m["tokens_per_s"] is None else f"{m['tokens_per_s']:.1f}"
            click.echo(
                f"{m['model']:<{width}} {m['requests']:>5} {m['failures']:>5} "
                f"{_ms(m['ttft_p50_ms']) + '/' + _ms(m['ttft_p95_ms']):>16} "
                f"{_ms(m['total_p50_ms']) + '/' + _ms(m['total_p95_ms']):>17} {tps:>7} "
                f"{m['cost_today_usd']:>10.4f} {m['cost_total_usd']:>10.4f}"
            )
        t = data["totals"]
        click.echo(
            f"total: {t['requests']} requests, ${t['cost_today_usd']:.4f} today, "
            f"${t['cost_month_usd']:.4f} this month, ${t['cost_total_usd']:.4f} in all"
        )
    for name, b in data["budget"].items():
        if "left" in b:
            click.echo(f"budget.{name}: ${b['left']:.4f} left of ${b['limit']:.2f}")
    o = data["outcomes"]
    if o["generations"]:
        click.echo(
            f"outcomes: {o['generations']} generations · {o['accepted']} accepted · "
            f"{o['discarded']} discarded · {o['regenerated']} regenerated · "
            f"{o['cancelled']} cancelled · {o['failed']} failed · {o['ci_runs']} in CI"
        )
        click.echo(f"  {outcome_line(o)}")
    if o["inline_suggestions"]:
        click.echo(
            f"inline suggestions: {o['inline_suggestions']} · {o['inline_accepted']} accepted "
            f"({_pct(o['inline_acceptance_rate'])}) · retention p50 "
            f"{_pct(o['inline_retention_p50'])}"
        )
    for key, m in data.get("outcomes_by", {}).get(by, {}).items():
        click.echo(f"{by} {key}: {m['generations']} generations · {outcome_line(m)}")
    for c in data["completions"]:
        click.echo(
            f"completion {c['model']}: {c['shown']} shown, {c['accepted']} accepted, "
            f"{c['chars_accepted']} chars accepted"
        )
    if data["models"]:
        click.echo(f"ledger: {data['ledger']}")
    sys.exit(EXIT_USAGE if not loaded.ok else EXIT_OK)
