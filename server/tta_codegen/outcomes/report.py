"""``tta-codegen report``: the ledger as one self-contained, offline HTML page.

Charts are drawn by plotly.js, which the ``plotly`` package ships; its minified bundle
is inlined once into the page, so the file opens anywhere with no network (no CDN, no
fonts fetched). The page holds numbers only: counts, rates, costs, latencies, model and
template names — never code or prompts. After the charts are drawn a small script
writes, per chart, how many traces and data points it rendered into ``#render-check``,
which the tests read from headless Chromium.
"""

from __future__ import annotations

import html
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tta_codegen import __version__
from tta_codegen.models.ledger import LedgerRow, OutcomeRow, RetentionRow
from tta_codegen.models.stats import model_stats
from tta_codegen.outcomes.metrics import day_of, latest_retention, outcome_metrics, week_of

CHART_IDS = (
    "acceptance-retention",
    "gates",
    "cost-per-day",
    "latency",
    "templates",
    "components-per-week",
)


def _figures(
    requests: Sequence[LedgerRow],
    outcomes: Sequence[OutcomeRow],
    retention: Sequence[RetentionRow],
) -> dict[str, Any]:
    import plotly.graph_objects as go

    figs: dict[str, Any] = {}
    # The charts are about generated code; inline suggestions have their own numbers.
    outcomes = [o for o in outcomes if o.kind != "inline"]
    layout = {
        "margin": {"l": 50, "r": 20, "t": 50, "b": 50},
        "height": 360,
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.18},
    }

    # Acceptance and retention per day.
    ratios = latest_retention(retention)
    by_day: dict[str, list[OutcomeRow]] = defaultdict(list)
    for o in outcomes:
        by_day[day_of(o.ts)].append(o)
    days = sorted(by_day)
    acc, ret = [], []
    for d in days:
        m = outcome_metrics(by_day[d], retention)
        acc.append(m["acceptance_rate"])
        kept = [ratios[o.uid] for o in by_day[d] if o.outcome == "accepted" and o.uid in ratios]
        ret.append(statistics.median(kept) if kept else None)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=days, y=acc, mode="lines+markers", name="acceptance rate"))
    fig.add_trace(go.Scatter(x=days, y=ret, mode="lines+markers", name="retention p50"))
    fig.update_layout(
        title="Acceptance and retention per day", yaxis={"range": [0, 1.05]}, **layout
    )
    figs["acceptance-retention"] = fig

    # Gate pass rates per model: first try and final.
    by_model: dict[str, list[OutcomeRow]] = defaultdict(list)
    for o in outcomes:
        by_model[o.model or "(none)"].append(o)
    models = sorted(by_model)
    first = [outcome_metrics(by_model[m], [])["gates_pass_rate_first"] for m in models]
    final = [outcome_metrics(by_model[m], [])["gates_pass_rate_final"] for m in models]
    fig = go.Figure(
        [go.Bar(x=models, y=first, name="first try"), go.Bar(x=models, y=final, name="final")]
    )
    fig.update_layout(
        title="Quality gates pass rate", barmode="group", yaxis={"range": [0, 1.05]}, **layout
    )
    figs["gates"] = fig

    # Cost per day per model (stacked).
    cost: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in requests:
        cost[r.model][day_of(r.ts)] += r.cost_usd
    all_days = sorted({day_of(r.ts) for r in requests})
    fig = go.Figure(
        [
            go.Bar(x=all_days, y=[round(cost[m][d], 6) for d in all_days], name=m)
            for m in sorted(cost)
        ]
    )
    fig.update_layout(title="Cost per day per model (USD)", barmode="stack", **layout)
    figs["cost-per-day"] = fig

    # Latency percentiles per model.
    stats = model_stats(requests)
    names = [s.model for s in stats]
    fig = go.Figure(
        [
            go.Bar(x=names, y=[s.ttft_p50_ms for s in stats], name="first token p50"),
            go.Bar(x=names, y=[s.ttft_p95_ms for s in stats], name="first token p95"),
            go.Bar(x=names, y=[s.total_p50_ms for s in stats], name="total p50"),
            go.Bar(x=names, y=[s.total_p95_ms for s in stats], name="total p95"),
        ]
    )
    fig.update_layout(title="Latency per model (ms)", barmode="group", **layout)
    figs["latency"] = fig

    # Templates used, split by outcome.
    used: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes:
        used[o.outcome][o.template or "(free text)"] += 1
    templates = sorted({t for per in used.values() for t in per})
    fig = go.Figure(
        [
            go.Bar(x=templates, y=[used[kind][t] for t in templates], name=kind)
            for kind in ("accepted", "discarded", "regenerated", "cancelled", "failed")
            if kind in used
        ]
    )
    fig.update_layout(title="Templates used", barmode="stack", **layout)
    figs["templates"] = fig

    # Components (accepted generations) per category per week.
    weekly: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes:
        if o.outcome == "accepted":
            weekly[o.category or o.template or o.kind][week_of(o.ts)] += 1
    weeks = sorted({w for per in weekly.values() for w in per})
    fig = go.Figure(
        [go.Bar(x=weeks, y=[weekly[c][w] for w in weeks], name=c) for c in sorted(weekly)]
    )
    fig.update_layout(title="Components accepted per category per week", barmode="stack", **layout)
    figs["components-per-week"] = fig
    return figs


_CHECK = """
<script>
(function () {
  function check() {
    var out = {};
    document.querySelectorAll('.plotly-graph-div').forEach(function (gd) {
      var points = 0;
      (gd.calcdata || []).forEach(function (cd) {
        cd.forEach(function (p) {
          if (p.y !== null && p.y !== undefined && !isNaN(p.y)) points++;
        });
      });
      out[gd.id] = {traces: gd.querySelectorAll('.trace').length, points: points,
                    svg: gd.querySelectorAll('svg.main-svg').length};
    });
    document.getElementById('render-check').textContent = JSON.stringify(out);
  }
  // Charts drawn before the grid settled take their width again, then are checked.
  function settle() {
    var gds = Array.prototype.slice.call(document.querySelectorAll('.plotly-graph-div'));
    Promise.all(gds.map(function (gd) { return Plotly.Plots.resize(gd); })).then(check, check);
  }
  if (document.readyState === 'complete') { settle(); }
  else { window.addEventListener('load', settle); }
})();
</script>
"""


def render_report(
    requests: Sequence[LedgerRow],
    outcomes: Sequence[OutcomeRow],
    retention: Sequence[RetentionRow],
    *,
    since: float | None = None,
    ledger: str = "",
    now: float | None = None,
) -> str:
    """The whole page as one string (a few MB: most of it is plotly.js)."""
    from plotly.offline import get_plotlyjs

    now = time.time() if now is None else now
    metrics = outcome_metrics(outcomes, retention)
    stats = model_stats(requests, now)
    figs = _figures(requests, outcomes, retention)
    charts = "\n".join(
        '<section class="chart">'
        + figs[cid].to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=cid,
            default_height="360px",
            config={"displaylogo": False, "responsive": True},
        )
        + "</section>"
        for cid in CHART_IDS
    )

    def pct(v: Any) -> str:
        return "-" if v is None else f"{v * 100:.0f}%"

    cards = [
        ("acceptance", pct(metrics["acceptance_rate"])),
        ("gates first try", pct(metrics["gates_pass_rate_first"])),
        ("gates final", pct(metrics["gates_pass_rate_final"])),
        ("retention p50", pct(metrics["retention_p50"])),
        ("minimal editing", pct(metrics["minimal_editing_share"])),
        ("generations", str(metrics["generations"])),
        (
            "cost / accepted line",
            "-"
            if metrics["cost_per_accepted_line_usd"] is None
            else f"${metrics['cost_per_accepted_line_usd']:.5f}",
        ),
        ("requests", str(sum(s.requests for s in stats))),
    ]
    period = (
        "all time"
        if since is None
        else f"since {datetime.fromtimestamp(since).astimezone():%Y-%m-%d %H:%M}"
    )
    stamp = f"{datetime.fromtimestamp(now).astimezone():%Y-%m-%d %H:%M}"
    card_html = "".join(
        f'<div class="card"><div class="v">{html.escape(v)}</div>'
        f'<div class="k">{html.escape(k)}</div></div>'
        for k, v in cards
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tta-codegen report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #1b1f24; background: #fafbfc; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }}
.sub {{ color: #57606a; margin-bottom: 16px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }}
.card {{ background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px;
         min-width: 120px; }}
.card .v {{ font-size: 22px; font-weight: 600; }}
.card .k {{ color: #57606a; font-size: 12px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }}
.chart {{ background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 6px; }}
#render-check {{ display: none; }}
</style>
<script>{get_plotlyjs()}</script>
</head><body>
<h1>tta-codegen report</h1>
<div class="sub">{html.escape(period)} · generated {stamp} · ledger {html.escape(ledger)}
 · tta-codegen {html.escape(__version__)}</div>
<div class="cards">{card_html}</div>
<div class="grid">
{charts}
</div>
<pre id="render-check"></pre>
<script type="application/json" id="metrics">{html.escape(json.dumps(metrics))}</script>
{_CHECK}
</body></html>
"""
