"""``tta-codegen report [--out report.html] [--since 30d]``: one offline HTML file with
charts of acceptance, retention, gate pass rates, cost, latency and templates used."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tta_codegen.cli._files import FileProblem, write_atomic
from tta_codegen.cli.app import EXIT_OK, EXIT_USAGE, app
from tta_codegen.config import load_config
from tta_codegen.models.ledger_pg import open_ledger
from tta_codegen.outcomes.metrics import parse_since


@app.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write (self-contained: opens with no network).",
)
@click.option("--since", default="30d", show_default=True, help="30d, 12h, 2w, a date, or all.")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Workspace whose ledger settings to use.",
)
def report_command(out: Path, since: str, workspace: Path) -> None:
    """Write the ledger's numbers as charts to one self-contained HTML file."""
    loaded = load_config(workspace.resolve())
    for issue in loaded.issues:
        click.echo(f"config: {issue}", err=True)
    try:
        since_ts = None if since.strip().lower() == "all" else parse_since(since)
    except ValueError as exc:
        click.echo(f"tta-codegen: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    try:
        from tta_codegen.outcomes.report import render_report
    except ImportError:
        click.echo(
            "tta-codegen: the report needs plotly: pip install 'tta-codegen[report]'", err=True
        )
        sys.exit(EXIT_USAGE)
    ledger = open_ledger(loaded.config.ledger)
    page = render_report(
        ledger.rows_sync(since_ts),
        ledger.outcomes_sync(since_ts),
        ledger.retention_sync(since_ts),
        since=since_ts,
        ledger=ledger.describe(),
    )
    try:
        write_atomic(out, page)
    except FileProblem as exc:
        click.echo(f"tta-codegen: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"report written to {out} ({len(page) // 1024} KiB, opens offline)", err=True)
    sys.exit(EXIT_OK)
