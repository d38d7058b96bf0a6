"""Choosing among candidate answers: the temperature schedule, scores, the best one, when to stop.

The engine draws up to K candidates (the first greedy, so the loop can never start below a
single shot) and judges each with checks that need no hidden oracle: the gates. This module
holds only the pure decisions about them, so they are unit-tested without a model, a sandbox
or an event loop; it knows nothing of prompts, models or editors.

Scoring is lexicographic (:class:`Score`): a candidate that passes every gate beats any that
does not; a whole one beats one that was cut off (whatever its gates say: they judged a
fragment, and delivering it can only end ``truncated``); then it counts whether the code
parses and defines what was asked, then the share of the project's tests and of the user's
examples it passes (partial credit), then how many of the other gates pass, then how many
other candidates agree with it on the examples' inputs (independent samples that compute
the same outputs are more often right than an outlier), and finally the earlier candidate
(the greedy one first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tta_codegen.gates.types import GateResult

# Gates whose failure makes every later judgement meaningless; scored before partial credit.
_BASIC = ("syntax", "definition")


def temperature_schedule(count: int, base: float, temperatures: list[float]) -> list[float]:
    """The temperature of each of ``count`` candidates: ``base`` first, then the schedule.

    The first candidate uses the configured generation temperature (greedy by default, the
    single shot); later ones take ``temperatures`` in order, repeating its last value.
    """
    if count <= 0:
        return []
    rest = temperatures or [base]
    return [base] + [rest[min(i, len(rest) - 1)] for i in range(count - 1)]


@dataclass(frozen=True, order=True)
class Score:
    """Bigger is better; compared field by field in this order."""

    all_passed: bool  # every gate passed and the reply is whole
    whole: bool  # not cut off (token limit, unclosed fence): a fragment never wins
    basics: int  # of syntax and definition, how many passed (or did not apply)
    tests: float  # share of the project's tests passed, 1.0 when there are none
    examples: float  # share of the user's examples passed, 1.0 when there are none
    others: int  # other gates (ruff, mypy, commands) that passed
    agreement: int  # other candidates computing the same outputs on the examples' inputs
    earlier: int  # minus the candidate's index: the greedy candidate wins a tie


@dataclass
class Candidate:
    """One judged answer."""

    index: int  # 0-based, in drawing order
    text: str
    temperature: float
    gates: list[GateResult] = field(default_factory=list)
    seconds: float = 0.0  # drawing and judging it, wall clock
    # Cut off (token limit, unclosed fence) even after continuing: never a pass.
    truncated: bool = False

    @property
    def passed(self) -> bool:
        return not self.truncated and all(g.passed for g in self.gates)

    def outputs(self) -> tuple[str, ...] | None:
        """What the candidate computed on the examples' inputs (for agreement), if known."""
        gate = _gate(self.gates, "examples")
        if gate is None or not gate.observed:
            return None
        return tuple(gate.observed)


def _gate(gates: list[GateResult], name: str) -> GateResult | None:
    return next((g for g in gates if g.name == name), None)


def _share(gate: GateResult | None) -> float:
    if gate is None or gate.skipped:
        return 1.0
    if gate.passed:
        return 1.0
    return gate.fraction if gate.fraction is not None else 0.0


def score(candidate: Candidate, others: list[Candidate]) -> Score:
    gates = candidate.gates
    basics = sum(1 for name in _BASIC if (g := _gate(gates, name)) is None or g.passed)
    rest = [g for g in gates if g.name not in (*_BASIC, "tests", "examples")]
    mine = candidate.outputs()
    agreement = 0
    if mine is not None:
        agreement = sum(1 for o in others if o is not candidate and o.outputs() == mine)
    return Score(
        all_passed=candidate.passed,
        whole=not candidate.truncated,
        basics=basics,
        tests=_share(_gate(gates, "tests")),
        examples=_share(_gate(gates, "examples")),
        others=sum(1 for g in rest if g.passed),
        agreement=agreement,
        earlier=-candidate.index,
    )


def best(candidates: list[Candidate]) -> Candidate:
    """The highest-scoring candidate (the earliest of equals). ``candidates`` is not empty."""
    return max(candidates, key=lambda c: score(c, candidates))


@dataclass
class Budget:
    """When to stop drawing: the count, the time bound, or a candidate that passed.

    ``max_seconds`` bounds the whole loop. A new candidate is only started when the time
    left is at least what one candidate has taken on average so far, so the loop ends on
    time with the best answer it has rather than cutting a candidate half-way; the engine
    still enforces the bound as a hard deadline on the candidate in flight.
    """

    count: int
    max_seconds: float
    started: float  # a time.monotonic() value

    def deadline(self) -> float:
        return self.started + self.max_seconds

    def remaining(self, now: float) -> float:
        return self.deadline() - now

    def another(self, drawn: list[Candidate], now: float) -> bool:
        """Whether to draw one more candidate after ``drawn``."""
        if any(c.passed for c in drawn):
            return False
        if len(drawn) >= self.count:
            return False
        if not drawn:
            return True
        mean = sum(c.seconds for c in drawn) / len(drawn)
        return self.remaining(now) >= mean


# Gates whose first diagnostic says it best ("ruff F811 on line 7"); the others' first
# message line does ("examples: 2 of 3 example(s) failed").
_LOCATED = frozenset({"syntax", "ruff", "mypy", "definition"})


def why_next(candidate: Candidate) -> str:
    """The first failure of a candidate, in a few words for a progress line."""
    if candidate.truncated:
        return "the reply was cut off"  # whatever its gates said of the fragment
    for gate in candidate.gates:
        if gate.passed:
            continue
        first = (gate.message or "failed").strip().splitlines()[0]
        if gate.diagnostics and gate.name in _LOCATED:
            d = gate.diagnostics[0]
            code = f" {d.code}" if d.code else ""
            return f"{gate.name}{code} on line {d.line + 1}"
        return f"{gate.name}: {first[:80]}"
    return "all gates passed"
