"""What the CLI writes and which exit code it gives when the code is not whole (issue 17).

The real command in a subprocess against the fake provider: cut-off replies exit 3 and
write nothing, failing gates exit 3 and write nothing unless ``--allow-failing``, and
``implement`` / ``refine`` change only the part of the file they were pointed at.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import RunCli, fake_config
from tests.fakes.provider import FakeProvider, Reply

BROKEN = "```python\ndef add(a, b)\n    return a + b\n```\n"
GOOD = "```python\ndef add(a, b):\n    return a + b\n```\n"


def use_fake(ws: Path, fake: FakeProvider, extra: str = "") -> None:
    (ws / "tta-codegen.toml").write_text(fake_config(fake.base_url, extra=extra))


async def test_a_reply_cut_by_max_tokens_is_truncated_exit_3_and_nothing_written(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake, "\n[generation]\nmax_tokens = 24\n")
    fake.add(Reply.text("```python\ndef is_prime(n):\n    return n > ", finish_reason="length"))
    r = await cli("generate", "a function is_prime(n)", "--out", "prime.py", "--json")
    assert r.code == 3, r.stderr
    answer = json.loads(r.stdout)
    assert answer["status"] == "truncated"
    assert "def is_prime(n):" in answer["text"]  # the code still goes to --json
    assert not (ws / "prime.py").exists()
    assert "continuing a cut-off reply" in r.stderr
    assert fake.requests[0].body["max_tokens"] == 24


async def test_failing_last_gate_is_gates_failed_exit_3_file_untouched_unless_allowed(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply.text(BROKEN))
    target = ws / "mod.py"
    target.write_text("x = 1\n")
    r = await cli("generate", "add two numbers", "--file", "mod.py", "--yes")
    assert r.code == 3, r.stderr
    assert target.read_text() == "x = 1\n"
    assert "def add(a, b)\n" in r.stdout  # not written, not lost
    assert "gates failed (syntax" in r.stderr and "nothing written" in r.stderr
    # Progress says what the rounds are, not that the model failed over to itself.
    assert "round 2/4: syntax" in r.stderr  # K = [refine] max_iterations, default 4
    assert "fake-a failed; trying fake-a" not in r.stderr

    r = await cli("generate", "add", "--file", "mod.py", "--yes", "--allow-failing", "--json")
    assert r.code == 3, r.stderr
    assert json.loads(r.stdout)["status"] == "gates_failed"
    assert target.read_text() == "x = 1\n\n\ndef add(a, b)\n    return a + b\n"


async def test_a_file_without_a_final_newline_gets_whole_lines_and_gates_pass_at_once(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply.text(GOOD))
    (ws / "n.py").write_text("x = 1")
    r = await cli("generate", "add", "--file", "n.py", "--yes", "--json")
    assert r.code == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["iterations"] == 1 and len(fake.requests) == 1, answer
    assert (ws / "n.py").read_text() == "x = 1\n\n\ndef add(a, b):\n    return a + b\n"


STUB = '''import math


def area(r: float) -> float:
    """The area of a circle of radius r."""
    ...


def other() -> int:
    return 1
'''
IMPLEMENTED = STUB.replace("    ...\n", "    return math.pi * r * r\n")
WHOLE = "```python\ndef area(r: float) -> float:\n    return math.pi * r * r\n```\n"


async def test_implement_by_symbol_and_by_line_fills_the_stub_in_place(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply.text(WHOLE))
    target = ws / "shapes.py"
    target.write_text(STUB)
    r = await cli("implement", "--file", "shapes.py", "--symbol", "area", "--yes")
    assert r.code == 0, r.stderr
    assert target.read_text() == IMPLEMENTED

    target.write_text(STUB)
    r = await cli("implement", "--file", "shapes.py", "--line", "6", "use math.pi", "--json")
    assert r.code == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["status"] == "completed"
    assert target.read_text() == IMPLEMENTED  # written, and the answer printed
    assert (
        answer["text"]
        == IMPLEMENTED[IMPLEMENTED.index("def area") : IMPLEMENTED.index("\n\n\ndef other")] + "\n"
    )
    assert "use math.pi" in fake.requests[-1].all_text

    target.write_text(STUB)
    r = await cli("implement", "--file", "shapes.py", "--line", "6", "--diff")
    assert r.code == 0, r.stderr
    assert "-    ...\n+    return math.pi * r * r\n" in r.stdout
    assert target.read_text() == STUB


async def test_implement_with_another_function_name_fails_clearly(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply.text("```python\ndef circle(radius, pi):\n    return pi * radius**2\n```\n"))
    target = ws / "shapes.py"
    target.write_text(STUB)
    r = await cli("implement", "--file", "shapes.py", "--symbol", "area", "--yes")
    assert r.code == 1
    assert "circle(radius, pi), not area(r)" in r.stderr
    assert target.read_text() == STUB


async def test_implement_without_a_stub_is_a_usage_error(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    (ws / "shapes.py").write_text(STUB)
    r = await cli("implement", "--file", "shapes.py", "--symbol", "other")
    assert r.code == 2 and "no stub named 'other'" in r.stderr
    r = await cli("implement", "--file", "shapes.py")
    assert r.code == 2 and "--line N or --symbol NAME" in r.stderr
    assert fake.requests == []


async def test_refine_rewrites_only_the_given_lines(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(Reply.text("```python\ndef other() -> int:\n    return 2\n```\n"))
    target = ws / "shapes.py"
    target.write_text(STUB)
    r = await cli("refine", "--file", "shapes.py", "--lines", "9-10", "return 2", "--yes")
    assert r.code == 0, r.stderr
    assert target.read_text() == STUB.replace("return 1", "return 2")
    assert "<SELECTION>def other() -> int:\n    return 1\n</SELECTION>" in fake.requests[0].all_text
    r = await cli("refine", "--file", "shapes.py", "--lines", "9-99", "x")
    assert r.code == 2 and "outside the file" in r.stderr


async def test_a_failed_answer_carries_what_streamed(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    use_fake(ws, fake)
    fake.add(
        Reply.text(
            "I am sorry, I cannot write that without more details.",
            usage={"prompt_tokens": 430, "completion_tokens": 63, "total_tokens": 493},
        )
    )
    r = await cli("generate", "add", "--json")
    assert r.code == 1
    answer = json.loads(r.stdout)
    assert answer["status"] == "failed"
    assert answer["usage"] == {"prompt_tokens": 430, "completion_tokens": 63}


async def test_names_with_colons_are_printed_as_they_are(
    ws: Path, fake: FakeProvider, cli: RunCli
) -> None:
    """rich turns ``:rocket:`` into an emoji unless told not to: a file named so must be
    reported by its name (and rich's 3,600-entry emoji table is not loaded for it)."""
    use_fake(ws, fake)
    fake.add(Reply.text(GOOD))
    r = await cli("generate", "add two numbers", "--out", ":rocket:.py", "--yes")
    assert r.code == 0, r.stderr
    assert (ws / ":rocket:.py").exists()
    assert "→ :rocket:.py" in r.stderr, r.stderr
