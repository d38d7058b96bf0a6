"""The engine's candidate loop with the fake provider at the network edge and real gates.

Each model call answers with a different candidate; `syntax`, `definition` and `examples`
judge them in the real sandbox. The LSP wiring of the passing case is in
tests/lsp/test_candidates.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S
from tta_codegen.config import Config
from tta_codegen.engine import BufferSink
from tta_codegen.request import GenerationRequest
from tta_codegen.wiring import build_engine

ASK = "def add(a, b) returning the sum.\nFor example:\n  add(2, 3) == 5\n  add(-1, 1) == 0\n"


@pytest.fixture(autouse=True)
def xdg_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger lives under tmp_path, never in the real home."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# A candidate that does not parse, and the bound the slow provider is held to: 10x and
# more what drawing and judging such a candidate takes on an idle 2-core machine (~0.1 s),
# since the second call is only made while half the bound is left.
BROKEN = "def add(a, b):\n    return a *\n"
MAX_SECONDS = 2


def fenced(code: str) -> Reply:
    return Reply.text(f"```python\n{code}```\n", size=8)


def config(fake: FakeProvider, **refine: Any) -> Config:
    return Config.model_validate(
        {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
            "models": [{"id": "fake-a", "provider": "fake"}],
            "routing": {"default": "fake-a"},
            "gates": {
                "enabled": ["syntax", "definition", "examples"],
                "tests": {"autoload_plugins": False},
            },
            "refine": refine,
        }
    )


async def generate(cfg: Config, root: Path, text: str = "") -> tuple[Any, BufferSink]:
    (root / "calc.py").write_text(text)
    request = GenerationRequest(
        kind="generate", path=str(root / "calc.py"), language="python", text=text,
        start=len(text), end=len(text), description=ASK, workspace_root=str(root),
    )  # fmt: skip
    engine = build_engine(cfg, workspace_root=root)
    sink = BufferSink()
    try:
        return await engine.generate(request, sink), sink
    finally:
        await engine.aclose()


async def test_stops_at_the_first_passing_candidate(fake: FakeProvider, tmp_path: Path) -> None:
    fake.add(fenced("def add(a, b):\n    return a - b\n"), times=1)
    fake.add(fenced("def add(a, b):\n    return a + b\n"), times=1)
    fake.add(fenced("def add(a, b):\n    return 0\n"))
    result, sink = await generate(config(fake), tmp_path)
    assert result.status == "completed" and result.iterations == 2 and len(fake.requests) == 2
    assert sink.text == result.text == "def add(a, b):\n    return a + b\n"
    assert sink.notes == ["round 2/4: examples: 2 of 2 example(s) failed → new candidate"]


async def test_delivers_the_best_with_gates_failed_when_none_passes(
    fake: FakeProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "candidates.jsonl"
    monkeypatch.setenv("TTA_CODEGEN_CANDIDATES_LOG", str(log))
    fake.add(fenced("def add(a, b):\n    return a * b\n"), times=1)  # 0 of 2 examples
    fake.add(fenced("def add(a, b):\n    return 5 if a == 2 else 7\n"), times=1)  # 1 of 2
    fake.add(fenced("def plus(a, b):\n    return a + b\n"))  # not what was asked for
    result, sink = await generate(config(fake, max_iterations=3), tmp_path)
    assert result.status == "gates_failed" and result.iterations == 3 and len(fake.requests) == 3
    # The sink showed the third candidate last; the chosen second one was put back.
    assert sink.text == result.text == "def add(a, b):\n    return 5 if a == 2 else 7\n"
    examples = next(g for g in result.gates if g.name == "examples")
    assert examples.passed is False and "1 of 2 example(s) failed" in (examples.message or "")
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["chosen"] for r in rows] == [False, True, False]
    assert [r["temperature"] for r in rows] == [0.2, 0.4, 0.6]
    assert rows[2]["file"] == "def plus(a, b):\n    return a + b\n"


async def test_feedback_shows_the_failures_to_the_model_when_asked(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(fenced("def add(a, b):\n    return a * b\n"), times=1)
    fake.add(fenced("def add(a, b):\n    return a + b\n"), match="quality gates")
    result, _ = await generate(config(fake, feedback="always"), tmp_path)
    assert result.status == "completed" and result.iterations == 2
    sent = fake.requests[1].body["messages"]
    assert "return a * b" in sent[-2]["content"] and "add(2, 3) gave 6" in sent[-1]["content"]


async def test_max_seconds_bounds_a_slow_provider(fake: FakeProvider, tmp_path: Path) -> None:
    # The first candidate does not parse: judged in-process in milliseconds (no sandbox),
    # so it fits well inside the bound and the second call is made however busy the
    # machine is (a candidate is only drawn while the time left covers the mean so far).
    fake.add(fenced(BROKEN), times=1)
    # Every later call starts a function and then never finishes.
    fake.add(Reply(chunks=["```python\n", "def add(a, b):\n"], hang=True))
    cfg = config(fake, max_iterations=4, max_seconds=MAX_SECONDS)
    # Hang guard only: the answer must come without the model.
    result, sink = await asyncio.wait_for(generate(cfg, tmp_path), timeout=HANG_GUARD_S)
    assert result.status == "gates_failed" and result.iterations == 1
    assert len(fake.requests) == 2
    # The half-drawn second candidate was taken out again; the first is delivered.
    assert sink.text == result.text == BROKEN
    assert f"[refine] max_seconds ({MAX_SECONDS:g} s) reached" in sink.notes


async def test_the_single_shot_is_never_cut_by_max_seconds(
    fake: FakeProvider, tmp_path: Path
) -> None:
    """A model slower than the bound still delivers its first answer (the single shot):
    the loop may only add to what one plain call gives. No second candidate is drawn."""
    # The reply's first byte comes after the bound has passed, whatever the machine's load
    # (the delay is a lower bound), so the bound is over before the first candidate is in.
    fake.add(Reply.text("```python\ndef add(a, b):\n    return a * b\n```\n", first_delay=0.6))
    cfg = config(fake, max_iterations=4, max_seconds=0.3)
    result, sink = await asyncio.wait_for(generate(cfg, tmp_path), timeout=HANG_GUARD_S)
    assert result.status == "gates_failed" and result.iterations == 1
    assert len(fake.requests) == 1
    assert sink.text == result.text == "def add(a, b):\n    return a * b\n"
