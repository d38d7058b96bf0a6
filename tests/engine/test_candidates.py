"""The candidate selection's pure decisions: schedule, scores, the best one, when to stop."""

from __future__ import annotations

from tta_codegen.candidates import Budget, Candidate, best, score, temperature_schedule, why_next
from tta_codegen.gates.types import GateDiagnostic, GateResult


def gate(
    name: str, passed: bool, fraction: float | None = None, observed: list[str] | None = None
) -> GateResult:
    return GateResult(
        name,
        passed,
        None if passed else f"{name} failed",
        fraction=fraction,
        observed=observed or [],
    )


def cand(index: int, *gates: GateResult, seconds: float = 1.0) -> Candidate:
    return Candidate(index, f"code {index}", 0.0, list(gates), seconds)


def test_schedule_starts_with_the_single_shot_and_repeats_the_last_temperature() -> None:
    assert temperature_schedule(1, 0.0, [0.6, 0.8]) == [0.0]
    assert temperature_schedule(5, 0.0, [0.6, 0.8]) == [0.0, 0.6, 0.8, 0.8, 0.8]
    assert temperature_schedule(3, 0.2, []) == [0.2, 0.2, 0.2]
    assert temperature_schedule(0, 0.0, [0.5]) == []


def test_a_candidate_passing_every_gate_beats_partial_credit() -> None:
    partial = cand(0, gate("syntax", True), gate("examples", False, 0.9), gate("ruff", True))
    whole = cand(1, gate("syntax", True), gate("examples", True, 1.0), gate("ruff", True))
    assert best([partial, whole]) is whole


def test_partial_credit_orders_the_failing_ones() -> None:
    low = cand(0, gate("syntax", True), gate("examples", False, 0.25))
    high = cand(1, gate("syntax", True), gate("examples", False, 0.75))
    broken = cand(2, gate("syntax", False), gate("examples", False, 0.0))
    assert best([low, high, broken]) is high
    # Tests outweigh examples; parsing outweighs both.
    tests_better = cand(
        3, gate("syntax", True), gate("tests", False, 0.5), gate("examples", False, 0.0)
    )
    examples_better = cand(
        4, gate("syntax", True), gate("tests", False, 0.0), gate("examples", True)
    )
    assert best([examples_better, tests_better]) is tests_better
    assert score(broken, [broken]) < score(low, [low])


def test_a_wrong_definition_loses_to_a_right_one_that_fails_a_lint() -> None:
    renamed = cand(0, gate("syntax", True), gate("definition", False), gate("ruff", True))
    linty = cand(1, gate("syntax", True), gate("definition", True), gate("ruff", False))
    assert best([renamed, linty]) is linty


def test_a_cut_off_candidate_loses_to_a_whole_one_that_fails_a_gate() -> None:
    # A fragment that happens to parse and lint clean still cannot be delivered as whole.
    cut = Candidate(0, "def f():\n    return 1\n", 0.0, [gate("syntax", True), gate("ruff", True)])
    cut.truncated = True
    linty = cand(1, gate("syntax", True), gate("ruff", False))
    assert best([cut, linty]) is linty
    assert best([cut]) is cut  # alone, it is still what there is to deliver
    assert why_next(cut) == "the reply was cut off"  # not "all gates passed"


def test_agreement_on_the_examples_inputs_breaks_ties() -> None:
    lone = cand(0, gate("examples", False, 0.5, ["1", "2"]))
    pair_a = cand(1, gate("examples", False, 0.5, ["1", "3"]))
    pair_b = cand(2, gate("examples", False, 0.5, ["1", "3"]))
    assert best([lone, pair_a, pair_b]) is pair_a
    assert score(pair_a, [lone, pair_a, pair_b]).agreement == 1


def test_the_earliest_of_equals_wins_so_the_greedy_answer_is_never_lost() -> None:
    first = cand(0, gate("syntax", False))
    second = cand(1, gate("syntax", False))
    assert best([first, second]) is first
    # Skipped gates and gates that did not apply count as passed.
    skipped = GateResult("tests", True, "skipped: no pytest", skipped=True)
    assert score(cand(0, skipped), []).tests == 1.0


def test_budget_stops_on_a_pass_on_the_count_and_before_running_out_of_time() -> None:
    budget = Budget(count=3, max_seconds=10.0, started=100.0)
    assert budget.another([], 100.0)
    failing = [cand(0, gate("syntax", False), seconds=4.0)]
    assert budget.another(failing, 104.0)  # 6 s left, a candidate takes 4 s
    assert not budget.another(failing, 107.0)  # 3 s left: it would not finish
    assert not budget.another([cand(0, gate("syntax", True))], 100.5)
    three = [cand(i, gate("syntax", False), seconds=0.1) for i in range(3)]
    assert not budget.another(three, 100.3)
    assert budget.remaining(104.0) == 6.0


def test_why_next_names_the_first_failing_gate_and_line() -> None:
    ruff = GateResult(
        "ruff", False, "x", diagnostics=[GateDiagnostic(6, 0, "redefinition", "F811")]
    )
    assert why_next(cand(0, gate("syntax", True), ruff)) == "ruff F811 on line 7"
    assert why_next(cand(0, gate("examples", False))) == "examples: examples failed"
    located = GateResult(
        "examples", False, "1 of 2 example(s) failed", [GateDiagnostic(0, 0, "x", "e")]
    )
    assert why_next(cand(0, located)) == "examples: 1 of 2 example(s) failed"
