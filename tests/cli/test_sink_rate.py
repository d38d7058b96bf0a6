"""The printed tok/s is generated tokens / generation time, over every round (issue 18)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tta_codegen.cli import _sink
from tta_codegen.cli._sink import TerminalSink


def test_rate_sums_each_rounds_generation_and_leaves_out_prompts_and_gaps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr(_sink.time, "perf_counter", lambda: clock[0])
    sink = TerminalSink(Console(file=io.StringIO()))

    def at(t: float, tokens: int) -> None:
        clock[0] = t
        sink.progress("m", tokens)

    at(0, 0)  # round 1 asked; 1 s reading the prompt
    at(1, 1)
    at(2, 11)  # 10 tokens in 1 s
    assert sink.tokens_per_s == pytest.approx(10.0)
    at(10, 0)  # round 2, after 8 s of gates and a new prompt
    assert sink.tokens_per_s == pytest.approx(10.0)
    at(12, 1)
    at(16, 21)  # 20 tokens in 4 s
    # 30 tokens in 5 s of generation: not round 2 alone (5.0), not 32 tokens over 16 s.
    assert sink.tokens_per_s == pytest.approx(6.0)


def test_no_rate_before_a_second_token() -> None:
    sink = TerminalSink(Console(file=io.StringIO()))
    sink.progress("m", 0)
    sink.progress("m", 1)
    assert sink.tokens_per_s is None
