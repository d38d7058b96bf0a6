"""What tta.generate delivers, and what its answer says about it (issue 17).

The real server over stdio; the fake provider at the network edge sends cut-off replies
(``finish_reason: "length"``), unclosed fences, broken code, prose, two code blocks and
functions with another name. Every status must say what really happened, and the document
must never be left broken by a reply that was cut off.
"""

from __future__ import annotations

from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.harness import Editor

CONTINUE = "cut off by the length limit"


async def generate(editor: Editor, uri: str, line: int, character: int, what: str) -> dict:  # type: ignore[type-arg]
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "description": what,
        },
    )
    assert isinstance(answer, dict)
    return answer


async def test_a_reply_cut_by_the_token_limit_is_continued_and_joined(
    editor: Editor, fake: FakeProvider
) -> None:
    rest = Reply.text(" + b\n```\nDone.", size=3)
    cut = Reply.text("```python\ndef add(a, b):\n    return a", size=3, finish_reason="length")
    fake.add(rest, match=CONTINUE)
    fake.add(cut)
    uri = editor.open("m.py", "")
    answer = await generate(editor, uri, 0, 0, "add two numbers")
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "def add(a, b):\n    return a + b\n"
    assert len(fake.requests) == 2
    # The continuation showed the model its own cut-off reply.
    messages = fake.requests[1].body["messages"]
    assert messages[-2] == {
        "role": "assistant",
        "content": "```python\ndef add(a, b):\n    return a",
    }
    # Both replies' tokens are counted (the fake reports one token a chunk).
    assert answer["usage"]["completion_tokens"] == len(cut.chunks) + len(rest.chunks)


async def test_a_reply_that_stays_cut_off_is_truncated_and_the_document_restored(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\ndef is_prime(n):\n    return n > ", finish_reason="length"))
    original = "x = 1\n"
    uri = editor.open("m.py", original)
    answer = await generate(editor, uri, 1, 0, "is_prime(n)")
    assert answer["status"] == "truncated", answer
    assert editor.text(uri) == original  # nothing broken left behind
    assert "def is_prime(n):" in answer["text"]  # the cut-off code is in the answer
    # Each round: the reply, then one continuation, which (the same reply again) starts
    # the reply over and is refused: no second continuation.
    assert len(fake.requests) == 2 * answer["iterations"]
    assert answer["usage"]["completion_tokens"] > 0


async def test_an_unclosed_fence_counts_as_cut_off(editor: Editor, fake: FakeProvider) -> None:
    # finish_reason "stop", but the code block never closed: not whole either.
    fake.add(Reply.text("```\n", size=4), match=CONTINUE)
    fake.add(Reply.text("```python\ndef add(a, b):\n    return a + b\n"))
    uri = editor.open("m.py", "")
    answer = await generate(editor, uri, 0, 0, "add")
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "def add(a, b):\n    return a + b\n"
    assert len(fake.requests) == 2


async def test_code_that_still_fails_a_gate_is_delivered_as_gates_failed(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\ndef add(a, b)\n    return a + b\n```\n"))
    uri = editor.open("m.py", "")
    answer = await generate(editor, uri, 0, 0, "add")
    assert answer["status"] == "gates_failed", answer
    assert answer["iterations"] == 4  # K = [refine] max_iterations, default 4
    assert {g["name"]: g["passed"] for g in answer["gates"]}["syntax"] is False
    assert editor.text(uri) == "def add(a, b)\n    return a + b\n"  # delivered, with diagnostics
    assert answer["diagnostics"]


async def test_code_inserted_at_the_end_of_a_line_starts_on_its_own_line(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\ndef add(a, b):\n    return a + b\n```\n"))
    uri = editor.open("n.py", "x = 1")  # no final newline
    answer = await generate(editor, uri, 0, 5, "add")
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "x = 1\n\n\ndef add(a, b):\n    return a + b\n"
    # The gates judged the document as it is now: they passed at once.
    assert answer["iterations"] == 1 and len(fake.requests) == 1
    assert all(g["passed"] for g in answer["gates"]), answer["gates"]


STUB = '''import math


class Shapes:
    @staticmethod
    def area(r: float) -> float:
        """The area of a circle of radius r."""
        raise NotImplementedError


def other() -> int:
    return 1
'''


async def test_a_stub_is_implemented_in_place(editor: Editor, fake: FakeProvider) -> None:
    fake.add(
        Reply.text(
            "Here you go:\n```python\ndef area(r: float) -> float:\n"
            '    """Area."""\n    return math.pi * r * r\n```\n'
        )
    )
    uri = editor.open("shapes.py", STUB)
    answer = await generate(editor, uri, 5, 8, "")  # on the def line
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == STUB.replace(
        "        raise NotImplementedError\n", "        return math.pi * r * r\n"
    )
    # The answer's range is the function, decorator included.
    assert answer["range"]["start"] == {"line": 4, "character": 0}
    assert answer["range"]["end"] == {"line": 8, "character": 0}
    # The model was shown the function to implement.
    assert "Implement the function area()" in fake.requests[0].all_text


async def test_implement_takes_the_first_block_of_two(editor: Editor, fake: FakeProvider) -> None:
    fake.add(
        Reply.text(
            "```python\ndef area(r: float) -> float:\n    return math.pi * r**2\n```\n"
            "Use it like this:\n```python\nprint(Shapes.area(2))\n```\n"
        )
    )
    uri = editor.open("shapes.py", STUB)
    answer = await generate(editor, uri, 7, 10, "")  # inside the body
    assert answer["status"] == "completed", answer
    assert "return math.pi * r**2" in editor.text(uri)
    assert "print(" not in editor.text(uri)


async def test_implement_refuses_a_function_with_another_name_and_other_parameters(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\ndef circle(radius):\n    return 3.14 * radius**2\n```\n"))
    uri = editor.open("shapes.py", STUB)
    answer = await generate(editor, uri, 5, 0, "")
    assert answer["status"] == "failed", answer
    assert "circle(radius), not area(r)" in answer["error"]
    assert editor.text(uri) == STUB


async def test_implement_accepts_another_name_with_the_same_parameters(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\ndef circle_area(r):\n    return math.pi * r * r\n```\n"))
    uri = editor.open("shapes.py", STUB)
    answer = await generate(editor, uri, 5, 0, "")
    assert answer["status"] == "completed", answer
    assert "    def area(r: float) -> float:\n" in editor.text(uri)
    assert "        return math.pi * r * r\n" in editor.text(uri)


async def test_a_prose_only_reply_fails_with_its_usage_and_leaves_the_stub(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(
        Reply.text(
            "I cannot write this function without knowing more about the shapes involved.",
            usage={"prompt_tokens": 430, "completion_tokens": 63, "total_tokens": 493},
        )
    )
    uri = editor.open("shapes.py", STUB)
    answer = await generate(editor, uri, 5, 0, "")
    assert answer["status"] == "failed", answer
    assert editor.text(uri) == STUB
    # What streamed is counted, as the ledger counts it.
    assert answer["usage"] == {"prompt_tokens": 430, "completion_tokens": 63}


async def test_usage_is_marked_estimated_when_the_provider_sends_none(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\nx = 2\n```\n", send_usage=False))
    uri = editor.open("m.py", "")
    answer = await generate(editor, uri, 0, 0, "x")
    assert answer["status"] == "completed", answer
    assert answer["usage"]["estimated"] is True
    assert answer["usage"]["completion_tokens"] > 0


async def test_the_provider_usage_after_the_closing_fence_is_read(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(
        Reply.text(
            "```python\nx = 2\n```\nThis sets x to two, as you asked for it.\n",
            usage={"prompt_tokens": 111, "completion_tokens": 222, "total_tokens": 333},
        )
    )
    uri = editor.open("m.py", "")
    answer = await generate(editor, uri, 0, 0, "x")
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "x = 2\n"
    assert answer["usage"] == {"prompt_tokens": 111, "completion_tokens": 222}
