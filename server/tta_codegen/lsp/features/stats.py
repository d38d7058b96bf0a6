"""``tta.stats``: per-model requests, failures, latency, speed and cost, from the ledger,
and the outcome metrics (acceptance, gates, retention; see docs/metrics.md)."""

from __future__ import annotations

from typing import Any

from tta_codegen.completion.acceptance import AcceptanceLog, acceptance_path
from tta_codegen.lsp.outcomes import recorder
from tta_codegen.lsp.params import EmptyParams, parse_params
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.models.stats import summary
from tta_codegen.outcomes.metrics import outcome_metrics


def register(server: TtaLanguageServer) -> None:
    server.command("tta.stats")(cmd_stats)


async def cmd_stats(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    parse_params(EmptyParams, args, "tta.stats", optional=True)
    router = ls.engine.router
    await router.flush()  # rows of just-cancelled requests
    await recorder(ls).flush()  # outcomes decided a moment ago
    ledger = router.ledger
    return {
        **summary(await ledger.rows(), budget=ls.loaded.config.budget),
        "outcomes": outcome_metrics(await ledger.outcomes(), await ledger.retention()),
        "ledger": ledger.describe(),
        # Inline completion: suggestions shown / accepted per model (completion/acceptance.py).
        "completions": await AcceptanceLog(acceptance_path(ledger.path)).summary(),
    }
