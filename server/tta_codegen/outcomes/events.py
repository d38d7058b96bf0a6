"""Outcome events: one row per generation, written when its fate is decided.

A :class:`OutcomeDraft` is made when a generation starts and filled in when it ends
(model, gates, cost, lines); :func:`record` turns it into an
:class:`~tta_codegen.models.ledger.OutcomeRow` at the decision (accept, discard,
regenerate, cancel, failure) and writes it in the background. Nothing here runs on the
streaming path: the draft is a few attribute writes, the write is a worker-thread task.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tta_codegen.background import EVENT_SETTLE_S, after_path
from tta_codegen.gates.types import failure_summary
from tta_codegen.models.ledger import LedgerBackend, OutcomeRow, RetentionRow, new_uid

if TYPE_CHECKING:
    from tta_codegen.engine import GenerationResult

log = logging.getLogger(__name__)

# "dismissed" is an inline suggestion's end when it was not accepted (replaced by another
# suggestion, its document closed, the server stopped): no decision on generated code.
Decision = Literal["accepted", "discarded", "regenerated", "cancelled", "failed", "dismissed"]
DECISIONS: tuple[str, ...] = (
    "accepted",
    "discarded",
    "regenerated",
    "cancelled",
    "failed",
    "dismissed",
)

# Request kinds and LSP commands as outcome kinds.
_KINDS = {
    "tta.generate": "generate",
    "tta.refine": "refine",
    "tta.generateTests": "tests",
    "generate": "generate",
    "refine": "refine",
    "tests": "tests",
    "inline": "inline",
}


def run_source() -> str:
    """ "ci" on a CI runner (the ``CI`` variable every CI service sets), else "cli"."""
    return "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false", "no") else "cli"


@dataclass
class OutcomeDraft:
    """An outcome being assembled; cheap to create, nothing written until :func:`record`."""

    kind: str
    source: str
    template: str | None = None
    language: str | None = None
    started: float = field(default_factory=time.time)
    model: str | None = None
    gates_first: bool | None = None
    gates_final: bool | None = None
    lines: int = 0
    cost_usd: float = 0.0
    completed: float | None = None
    uid: str = field(default_factory=new_uid)
    # Resolved off the event loop, when the row is written (reading the template library).
    category_of: Callable[[], str | None] | None = None

    @classmethod
    def start(
        cls, command: str, source: str, template: str | None, language: str | None
    ) -> OutcomeDraft:
        return cls(_KINDS.get(command, command), source, template, language)

    def finish(self, result: GenerationResult, text: str) -> None:
        """The generation ended: what it produced (only its size is kept)."""
        self.answered(result.model, text)
        self.cost_usd += result.cost_usd
        self.gates_first = result.gates_first
        self.gates_final = not failure_summary(result.gates) if result.gates else None

    def answered(self, model: str | None, text: str, now: float | None = None) -> None:
        """The code is complete (a generation's end, an inline suggestion shown)."""
        self.completed = time.time() if now is None else now
        self.model = model
        self.lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)

    def row(self, decision: str, now: float | None = None) -> OutcomeRow:
        now = time.time() if now is None else now
        category = None
        if self.category_of is not None:
            try:
                category = self.category_of()
            except Exception as exc:  # a broken template library must not lose the row
                log.debug("no category for %s: %s", self.template, exc)
        return OutcomeRow(
            ts=self.started,
            kind=self.kind,
            source=self.source,
            template=self.template,
            category=category,
            model=self.model,
            language=self.language,
            gates_first=self.gates_first,
            gates_final=self.gates_final,
            outcome=decision,
            generation_s=None if self.completed is None else self.completed - self.started,
            decision_s=None if self.completed is None else max(0.0, now - self.completed),
            lines=self.lines,
            cost_usd=self.cost_usd,
            uid=self.uid,
        )


class OutcomeRecorder:
    """Writes outcome and retention rows in background tasks; never raises to callers."""

    def __init__(self, ledger: LedgerBackend, enabled: bool = True) -> None:
        self.ledger = ledger
        self.enabled = enabled
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, draft: OutcomeDraft, decision: Decision) -> None:
        if not self.enabled:
            return
        now = time.time()
        self._spawn(asyncio.to_thread(lambda: self._write(draft.row(decision, now))))

    def retention(self, outcome_uid: str, stage: str, ratio: float) -> None:
        if not self.enabled:
            return
        row = RetentionRow(outcome_uid, stage, round(ratio, 4), time.time())
        self._spawn(asyncio.to_thread(self._write, row))

    def _write(self, row: OutcomeRow | RetentionRow) -> None:
        try:
            self.ledger.write_sync(row)
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot record an outcome in %s: %s", self.ledger.describe(), exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # Decisions come with document events and commands (a close accepts, a generation
        # follows): the write waits until a starting generation's request is out.
        task = asyncio.ensure_future(after_path(coro, settle=EVENT_SETTLE_S))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Wait for writes in flight (before reading stats, and at shutdown)."""
        # A retention measurement spawns its write when it finishes: loop until quiet.
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def record_sync(ledger: LedgerBackend, draft: OutcomeDraft, decision: Decision) -> None:
    """Write an outcome now (the CLI, which has no event loop left to write in). Never raises."""
    try:
        ledger.write_sync(draft.row(decision))
    except (sqlite3.Error, OSError) as exc:
        log.warning("cannot record an outcome in %s: %s", ledger.describe(), exc)
