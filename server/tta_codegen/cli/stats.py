"""``tta-codegen stats [--json]``: per-model requests, latency and cost from the ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tta_codegen.cli.app import EXIT_OK, EXIT_USAGE, app
from tta_codegen.completion.acceptance import AcceptanceLog, acceptance_path
from tta_codegen.config import load_config
from tta_codegen.models.ledger import CostLedger
from tta_codegen.models.stats import summary


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.0f}"


@app.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Workspace whose budgets to show.",
)
def stats_command(as_json: bool, workspace: Path) -> None:
    """Per-model requests, failures, latency (ttft/total p50/p95), tokens/s and cost."""
    loaded = load_config(workspace.resolve())
    for issue in loaded.issues:
        click.echo(f"config: {issue}", err=True)
    ledger = CostLedger()
    data = summary(ledger.rows_sync(), budget=loaded.config.budget)
    data["ledger"] = str(ledger.path)
    data["completions"] = AcceptanceLog(acceptance_path(ledger.path)).summary_sync()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    elif not data["models"]:
        click.echo(f"no requests recorded yet (ledger: {ledger.path})")
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
        click.echo(f"ledger: {ledger.path}")
    if not as_json:
        for c in data["completions"]:
            click.echo(
                f"completion {c['model']}: {c['shown']} shown, {c['accepted']} accepted, "
                f"{c['chars_accepted']} chars accepted"
            )
    sys.exit(EXIT_USAGE if not loaded.ok else EXIT_OK)
