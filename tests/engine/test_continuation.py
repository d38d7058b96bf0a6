"""The engine's continuation of cut-off replies, against the fake provider on loopback.

The real engine and router; only the provider's HTTP server is a fake. A reply cut by the
token limit is continued; a continuation that starts the reply over, or a reply that was
only looping, is not continued again: the answer is ``truncated``, never ``completed``.
"""

from __future__ import annotations

from pathlib import Path

from tests.fakes.provider import FakeProvider, Reply
from tta_codegen.config import Config
from tta_codegen.engine import BufferSink, Engine, GenerationRequest
from tta_codegen.models.ledger import CostLedger
from tta_codegen.wiring import build_engine

CONTINUE = "cut off by the length limit"


def engine_for(fake: FakeProvider, tmp_path: Path) -> Engine:
    config = Config.model_validate(
        {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
            "models": [{"id": "fake-a", "provider": "fake"}],
            "routing": {"default": "fake-a"},
            "refine": {"enabled": False},
            "gates": {"enabled": []},
        }
    )
    return build_engine(config, workspace_root=tmp_path, ledger=CostLedger(tmp_path / "l.db"))


def request() -> GenerationRequest:
    return GenerationRequest("generate", "m.py", "python", "", 0, 0, "add two numbers")


async def test_a_continuation_joins_the_reply_and_is_announced(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(Reply.text("```python\n", size=2), match=CONTINUE, times=1)  # reopens: dropped
    fake.add(Reply.text("    return a + b\n```\n"), match=CONTINUE)
    fake.add(Reply.text("```python\ndef add(a, b):\n", finish_reason="length"))
    sink = BufferSink()
    result = await engine_for(fake, tmp_path).generate(request(), sink)
    assert result.status == "completed", result
    assert sink.text == result.text == "def add(a, b):\n    return a + b\n"
    assert sink.notes == ["continuing a cut-off reply (1/2)", "continuing a cut-off reply (2/2)"]


async def test_a_continuation_that_starts_over_is_refused(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(Reply.text("```python\ndef add(a, b):\n    return a + b\n```\n"), match=CONTINUE)
    fake.add(Reply.text("```python\ndef add(a, b):\n    total = a", finish_reason="length"))
    result = await engine_for(fake, tmp_path).generate(request(), BufferSink())
    assert result.status == "truncated", result
    assert result.text.count("def add") == 1  # not glued to a second copy
    assert len(fake.requests) == 2  # no third try after the restart


async def test_a_looping_reply_is_not_continued(fake: FakeProvider, tmp_path: Path) -> None:
    fake.add(Reply.text("```python\n" + "print('again')\n" * 30, finish_reason="length"))
    result = await engine_for(fake, tmp_path).generate(request(), BufferSink())
    assert result.status == "truncated", result
    assert len(fake.requests) == 1
