"""``Engine.generate`` in-process: the engine as ``wiring.build_engine`` builds it for every
client, the fake provider on 127.0.0.1 the only stand-in, the real gates.

What a client gets back (status, text, model, attempts, usage, typed gates and warnings)
and what reaches its sink, without an editor or a terminal in the way. The candidate loop
and continuations have their own modules beside this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.provider import FakeProvider, Reply
from tta_codegen.config import Config
from tta_codegen.engine import BufferSink, Engine, GenerationResult
from tta_codegen.models.ledger import CostLedger
from tta_codegen.request import GenerationRequest, insert_request
from tta_codegen.wiring import build_engine

ADD = "def add(a, b):\n    return a + b\n"


def config(fake: FakeProvider, **extra: Any) -> Config:
    return Config.model_validate(
        {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
            "models": [{"id": "a", "provider": "fake"}, {"id": "b", "provider": "fake"}],
            "routing": {"default": "a", "fallbacks": ["b"], "retry": {"max_retries": 0}},
            "refine": {"enabled": False},
            "gates": {"enabled": ["syntax"]},
            **extra,
        }
    )


def engine(fake: FakeProvider, root: Path, **extra: Any) -> Engine:
    return build_engine(
        config(fake, **extra), workspace_root=root, ledger=CostLedger(root / "ledger.db")
    )


def request(root: Path, **fields: Any) -> GenerationRequest:
    path = root / "calc.py"
    return insert_request(
        path=str(path), language="python", text="", offset=0, description="add", **fields
    )


class CountingSink(BufferSink):
    """A buffer that also counts how often the engine took back what it had written."""

    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    async def reset(self) -> None:
        self.resets += 1
        await super().reset()


async def run(eng: Engine, req: GenerationRequest, sink: BufferSink) -> GenerationResult:
    try:
        return await eng.generate(req, sink)
    finally:
        await eng.aclose()


async def test_the_code_reaches_the_sink_and_the_answer(fake: FakeProvider, tmp_path: Path) -> None:
    fake.add(Reply.text(f"Here it is:\n```python\n{ADD}```\nHope it helps."))
    sink = CountingSink()
    result = await run(engine(fake, tmp_path), request(tmp_path), sink)
    assert result.status == "completed", result
    assert sink.text == result.text == ADD  # prose around the fence never reaches the sink
    assert result.model == "a" and [(a.model, a.error) for a in result.attempts] == [("a", None)]
    assert result.iterations == 1 and result.usage.completion_tokens > 0 and sink.resets == 0
    assert [(g.name, g.passed) for g in result.gates] == [("syntax", True)]
    answer = result.to_answer()
    assert answer["gates"] == [{"name": "syntax", "passed": True}] and "warnings" not in answer


async def test_a_model_failing_mid_stream_is_taken_back_and_the_fallback_answers(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(Reply.text("```python\ndef half(x):\n    return", size=40, drop_after=1), model="a")
    fake.add(Reply.text(f"```python\n{ADD}```\n"), model="b")
    sink = CountingSink()
    result = await run(engine(fake, tmp_path), request(tmp_path), sink)
    assert result.status == "completed", result
    assert sink.resets == 1 and sink.text == result.text == ADD  # nothing of a's half reply
    assert [a.model for a in result.attempts] == ["a", "b"] and result.attempts[0].error
    assert result.model == "b"


async def test_safety_warnings_are_typed_and_serialised_in_the_answer(
    fake: FakeProvider, tmp_path: Path
) -> None:
    code = "import subprocess\n\nsubprocess.run('ls', shell=True)\n"
    fake.add(Reply.text(f"```python\n{code}```\n"))
    eng = engine(fake, tmp_path, safety={"enabled": True})
    result = await run(eng, request(tmp_path), BufferSink())
    assert result.status == "completed", result
    assert [(w.check, w.line) for w in result.warnings] == [("shell_true", 2)]
    assert result.to_answer()["warnings"] == [w.to_dict() for w in result.warnings]


async def test_failing_gates_are_delivered_with_their_status(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(Reply.text("```python\ndef broken(:\n    pass\n```\n"))
    result = await run(engine(fake, tmp_path), request(tmp_path), BufferSink())
    assert result.status == "gates_failed" and result.text.startswith("def broken(")
    (syntax,) = result.gates
    assert syntax.name == "syntax" and not syntax.passed and result.gates_first is False


async def test_a_bad_template_is_a_prompt_error_and_nothing_is_sent(
    fake: FakeProvider, tmp_path: Path
) -> None:
    result = await run(
        engine(fake, tmp_path), request(tmp_path, template="no-such-template"), BufferSink()
    )
    assert result.status == "failed" and result.error_kind == "prompt"
    assert "no-such-template" in (result.error or "")
    assert fake.requests == []


async def test_the_workspace_root_given_to_build_engine_decides_the_templates(
    fake: FakeProvider, tmp_path: Path
) -> None:
    """The team's templates come from the workspace the client names, even for a document
    outside it (the document's own folder would not find them)."""
    ws = tmp_path / "ws"
    system = ws / ".tta-codegen" / "prompts" / "_base" / "system.j2"
    system.parent.mkdir(parents=True)
    system.write_text("TEAM SYSTEM PROMPT for {{ language }}\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fake.add(Reply.text(f"```python\n{ADD}```\n"))
    result = await run(engine(fake, ws), request(elsewhere), BufferSink())
    assert result.status == "completed", result
    assert "TEAM SYSTEM PROMPT for python" in fake.requests[0].all_text
