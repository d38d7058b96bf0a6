"""A varied ledger for the report and stats tests: two weeks, three models, templates,
every outcome, retention measurements. Deterministic (a seeded RNG)."""

from __future__ import annotations

import random
import time

from tta_codegen.models.ledger import CostLedger, LedgerRow, OutcomeRow, RetentionRow

MODELS = ("qwen-coder-32b", "llama-3.3-70b", "smollm2-135m")
TEMPLATES = (
    ("python/function", "python"),
    ("python/class", "python"),
    ("tests/pytest", "tests"),
    (None, None),
)
DECISIONS = ("accepted",) * 6 + ("discarded", "regenerated", "cancelled", "failed")


def seed(ledger: CostLedger, days: int = 14, per_day: int = 8, now: float | None = None) -> int:
    """Write ``days * per_day`` generations with their requests; returns the count."""
    rng = random.Random(22)
    now = time.time() if now is None else now
    n = 0
    for day in range(days):
        for i in range(per_day):
            ts = now - (days - day) * 86_400 + i * 600
            model = MODELS[(day + i) % len(MODELS)]
            free = model == "smollm2-135m"
            latency = rng.uniform(1.0, 8.0)
            cost = 0.0 if free else round(rng.uniform(0.0005, 0.004), 6)
            ledger.write_sync(
                LedgerRow(
                    ts=ts,
                    model=model,
                    provider="fake",
                    task_type="code_generation",
                    prompt_tokens=rng.randint(200, 2000),
                    completion_tokens=rng.randint(40, 400),
                    cost_usd=cost,
                    cost_source="free" if free else "priced",
                    latency_s=latency,
                    ttft_s=latency * rng.uniform(0.05, 0.3),
                    outcome="ok",
                )
            )
            template, category = TEMPLATES[(day * per_day + i) % len(TEMPLATES)]
            decision = DECISIONS[rng.randrange(len(DECISIONS))]
            row = OutcomeRow(
                ts=ts,
                kind="tests" if category == "tests" else "generate",
                source="ci" if i == 0 else "lsp",
                template=template,
                category=category,
                model=model,
                language="python",
                gates_first=rng.random() < 0.7,
                gates_final=rng.random() < 0.95,
                outcome=decision,
                generation_s=latency,
                decision_s=rng.uniform(2, 60),
                lines=rng.randint(3, 40),
                cost_usd=cost,
            )
            ledger.write_sync(row)
            if decision == "accepted":
                ratio = rng.choice((1.0, 1.0, 0.95, 0.85, 0.6, 0.4))
                ledger.write_sync(RetentionRow(row.uid, "save", min(1.0, ratio + 0.05), ts + 60))
                ledger.write_sync(RetentionRow(row.uid, "idle", ratio, ts + 700))
            n += 1
    return n
