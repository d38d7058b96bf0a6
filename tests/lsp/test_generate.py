"""tta.generate end to end: the real server over stdio, a fake provider on loopback."""

from __future__ import annotations

import asyncio

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S
from tests.lsp.harness import Editor

FENCED = "Here is the function:\n```python\ndef add(a, b):\n    return a + b\n```\nIt adds.\n"


async def test_generate_streams_code_into_document(editor: Editor, fake: FakeProvider) -> None:
    fake.add(Reply.text(FENCED, size=3, delay=0.005))
    uri = editor.open("m.py", "import os\n\n\nprint(os.sep)\n")
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 2, "character": 0},
            "description": "a function add(a, b)",
        },
    )
    assert answer["status"] == "completed", answer
    # PEP 8: two blank lines around a top-level definition (one was there on each side).
    expected = "import os\n\n\ndef add(a, b):\n    return a + b\n\n\nprint(os.sep)\n"
    assert editor.text(uri) == expected
    assert answer["text"] == "\ndef add(a, b):\n    return a + b\n\n"
    assert answer["model"] == "fake-a"
    assert answer["attempts"] == [{"model": "fake-a"}]
    assert answer["usage"]["completion_tokens"] > 0
    assert answer["iterations"] == 1
    # "a function add(a, b)" asks for add(a, b): the definition gate checks it is there.
    assert {g["name"]: g["passed"] for g in answer["gates"]} == {
        "syntax": True,
        "definition": True,
        "ruff": True,
    }
    # Edits are coalesced and each only sends new text.
    applied = editor.applied_edits()
    assert 1 <= len(applied) < len(fake.requests[0].body["messages"][1]["content"])
    assert sum(e.bytes for e in applied) == len(answer["text"].encode())
    # The prompt carried the description and the text around the cursor.
    sent = fake.requests[0].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "a function add(a, b)" in sent["messages"][-1]["content"]
    assert "print(os.sep)" in sent["messages"][-1]["content"]


async def test_edit_count_is_bounded_for_a_long_fast_reply(
    editor: Editor, fake: FakeProvider
) -> None:
    # Sending is latency-first (no timer floor): what arrives while an edit is in flight
    # rides in the next one. A reply that arrives faster than edits are confirmed (all of
    # it at once) must therefore be carried by far fewer edits than it has chunks, on any
    # machine: a slower server only batches more.
    body = "".join(f"x{i} = {i}\n" for i in range(400))
    fake.add(Reply.text("```python\n" + body + "```\n", size=2, delay=0))
    uri = editor.open("big.py", "")
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 0, "character": 0},
            "description": "many assignments",
        },
    )
    assert answer["status"] == "completed"
    assert editor.text(uri) == body
    applied = editor.applied_edits()
    chunks = len(body) // 2
    assert len(applied) < chunks / 4, (len(applied), chunks)
    # Linear traffic: the bytes sent equal the text once, never re-sent.
    assert sum(e.bytes for e in applied) == len(body.encode())


async def test_cancel_restores_document(editor: Editor, fake: FakeProvider) -> None:
    original = "def keep():\n    pass\n"
    fake.add(Reply.text("```python\n" + "y = 1\n" * 200 + "```\n", size=6, delay=0.02))
    uri = editor.open("c.py", original)
    msg_id, answer = editor.start(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 2, "character": 0},
            "description": "slow",
        },
    )
    await editor.wait_for(lambda: len(editor.applied_edits()) >= 2)
    assert editor.text(uri) != original
    editor.cancel(msg_id)
    try:
        result = await asyncio.wait_for(answer, HANG_GUARD_S)
        assert result["status"] == "cancelled"
    except Exception as exc:  # RequestCancelled (-32800) is the other allowed answer
        assert "cancel" in str(exc).lower(), exc
    await editor.wait_for(lambda: editor.text(uri) == original)
    # The HTTP stream was closed: the fake saw the client go away.
    await asyncio.wait_for(fake.stream_closed.wait(), HANG_GUARD_S)
    requests_before = len(fake.requests)
    await asyncio.sleep(0.2)  # room for a late edit to show up; passes however slow
    assert editor.text(uri) == original  # nothing arrives after the restore
    assert len(fake.requests) == requests_before


async def test_progress_cancel_restores_and_answers_cancelled(
    editor: Editor, fake: FakeProvider
) -> None:
    original = "a = 1\n"
    fake.add(Reply.text("```python\n" + "z = 2\n" * 300 + "```\n", size=6, delay=0.02))
    uri = editor.open("p.py", original)
    token = "tok-1"
    editor.client.progress_reports.setdefault(token, [])  # the client made this token
    task = asyncio.ensure_future(
        editor.execute(
            "tta.generate",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 1, "character": 0},
                "description": "slow",
            },
            work_done_token=token,
        )
    )
    await editor.wait_for(lambda: editor.applied_edits())
    reports = editor.client.progress_reports.get(token, [])
    assert reports and reports[0].kind == "begin" and reports[0].cancellable
    editor.client.window_work_done_progress_cancel(
        __import__("lsprotocol.types", fromlist=["x"]).WorkDoneProgressCancelParams(token=token)
    )
    answer = await asyncio.wait_for(task, HANG_GUARD_S)
    assert answer["status"] == "cancelled"
    assert editor.text(uri) == original
    assert editor.client.progress_reports[token][-1].kind == "end"


async def test_provider_failure_mid_stream_restores(editor: Editor, fake: FakeProvider) -> None:
    original = "x = 0\n"
    fake.add(Reply.text("```python\n" + "w = 3\n" * 20, size=5, delay=0.005, drop_after=10))
    uri = editor.open("f.py", original)
    answer = await editor.execute(
        "tta.generate",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 1, "character": 0},
            "description": "dropped",
        },
    )
    assert answer["status"] == "failed"
    assert "fake-a" in answer["error"]
    assert answer["attempts"][0]["model"] == "fake-a" and answer["attempts"][0]["error"]
    assert editor.applied_edits(), "the failure should come after text had streamed"
    assert editor.text(uri) == original


async def test_http_error_message_reaches_user(editor: Editor, fake: FakeProvider) -> None:
    fake.add(Reply(status=401, error={"error": {"message": "Invalid API key"}}))
    uri = editor.open("e.py", "")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": "x"},
    )
    assert answer["status"] == "failed"
    assert "Invalid API key" in answer["error"] and "401" in answer["error"]
    assert editor.text(uri) == ""


async def test_error_inside_200_stream(editor: Editor, fake: FakeProvider) -> None:
    fake.add(Reply.text("```python\nq = 1\n", stream_error={"message": "upstream overloaded"}))
    uri = editor.open("s.py", "")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": "x"},
    )
    assert answer["status"] == "failed"
    assert "upstream overloaded" in answer["error"]
    assert editor.text(uri) == ""


async def test_unreachable_provider_fails_cleanly(make_editor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.lsp.harness import provider_settings

    # No retries (their backoff is tested in tests/models): the first refusal is the answer.
    routing = {"default": "fake-a", "fallbacks": [], "retry": {"max_retries": 0}}
    editor = await make_editor(provider_settings("http://127.0.0.1:9/v1", routing=routing))
    uri = editor.open("u.py", "a = 1\n")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}, "description": "x"},
    )
    assert answer["status"] == "failed"
    assert "cannot connect" in answer["error"]
    assert editor.text(uri) == "a = 1\n"


async def test_fallback_model_after_failure_shows_only_final_output(
    make_editor, fake: FakeProvider
) -> None:  # type: ignore[no-untyped-def]
    from tests.lsp.harness import provider_settings

    fake.add(
        Reply.text("```python\nbad = 1\n" * 3, size=4, delay=0.005, drop_after=6), model="fake-a"
    )
    fake.add(Reply.text("```python\ngood = 2\n```\n"), model="fake-b")
    editor = await make_editor(provider_settings(fake.base_url, ["fake-a", "fake-b"]))
    uri = editor.open("fb.py", "")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": "x"},
    )
    assert answer["status"] == "completed", answer
    assert editor.text(uri) == "good = 2\n"
    assert [a["model"] for a in answer["attempts"]] == ["fake-a", "fake-b"]
    assert answer["attempts"][0]["error"] and "error" not in answer["attempts"][1]
    assert answer["model"] == "fake-b"


async def test_user_typing_above_region_during_stream(editor: Editor, fake: FakeProvider) -> None:
    code = "".join(f"v{i} = {i}\n" for i in range(40))
    fake.add(Reply.text("```python\n" + code + "```\n", size=5, delay=0.01))
    uri = editor.open("t.py", "# top\n\n# bottom\n")
    typed = []

    def typist(ed: Editor, u: str) -> None:
        # After a few of our edits, the user types on the first line (above the region).
        if len(ed.applied_edits()) in (2, 4, 6):
            ed.type_text(u, 0, 5, "!")
            typed.append(1)

    editor.on_edit = typist
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}, "description": "x"},
    )
    assert answer["status"] == "completed", answer
    assert typed
    assert editor.text(uri) == "# top" + "!" * len(typed) + "\n" + code + "\n# bottom\n"


async def test_user_typing_races_edits_with_strict_versions(
    editor: Editor, fake: FakeProvider
) -> None:
    """The user types between the server's edits, so some edits arrive with stale versions."""
    code = "".join(f"r{i} = {i}\n" for i in range(30))
    fake.add(Reply.text("```python\n" + code + "```\n", size=4, delay=0.005))
    uri = editor.open("r.py", "# head\n\n# tail\n")
    answer_task = asyncio.ensure_future(
        editor.execute(
            "tta.generate",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 1, "character": 0},
                "description": "x",
            },
        )
    )
    typed = 0
    while not answer_task.done() and typed < 15:
        await asyncio.sleep(0.007)
        # Into the tail line, below the region: the last line, wherever the code streamed
        # so far has pushed it (a fixed line 2 lands inside the code once a second line
        # has arrived, which a faster start makes likely).
        tail = editor.text(uri).count("\n") - 1
        editor.type_text(uri, tail, 0, "#")
        typed += 1
    answer = await answer_task
    assert answer["status"] == "completed", answer
    text = editor.text(uri)
    assert text.startswith("# head\n" + code)
    assert text.endswith("# tail\n")
    assert text.count("#") == 2 + typed


async def test_two_generations_in_two_documents_run_concurrently(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\none = 1\n```\n", delay=0.05), match="first")
    fake.add(Reply.text("```python\ntwo = 2\n```\n", delay=0.05), match="second")
    a = editor.open("a.py", "")
    b = editor.open("b.py", "")
    ra, rb = await asyncio.gather(
        editor.execute(
            "tta.generate",
            {
                "textDocument": {"uri": a},
                "position": {"line": 0, "character": 0},
                "description": "first",
            },
        ),
        editor.execute(
            "tta.generate",
            {
                "textDocument": {"uri": b},
                "position": {"line": 0, "character": 0},
                "description": "second",
            },
        ),
    )
    assert ra["status"] == rb["status"] == "completed"
    assert editor.text(a) == "one = 1\n" and editor.text(b) == "two = 2\n"


async def test_server_answers_other_requests_while_streaming(
    editor: Editor, fake: FakeProvider
) -> None:
    release = asyncio.Event()
    fake.add(Reply.text("```python\n" + "k = 1\n" * 50 + "```\n", size=6, hold=release))
    uri = editor.open("k.py", "")
    task = asyncio.ensure_future(
        editor.execute(
            "tta.generate",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 0, "character": 0},
                "description": "slow",
            },
        )
    )
    await editor.wait_for(lambda: editor.applied_edits())  # streaming, held open by the fake
    models = await asyncio.wait_for(editor.execute("tta.listModels", {}), HANG_GUARD_S)
    assert not task.done()
    assert models[0]["id"] == "fake-a"
    release.set()
    answer = await task
    assert answer["status"] == "completed"


async def test_overlapping_generation_is_refused(editor: Editor, fake: FakeProvider) -> None:
    release = asyncio.Event()
    fake.add(Reply.text("```python\n" + "o = 1\n" * 30 + "```\n", size=6, hold=release))
    uri = editor.open("o.py", "")
    first = asyncio.ensure_future(
        editor.execute(
            "tta.generate",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 0, "character": 0},
                "description": "a",
            },
        )
    )
    await editor.wait_for(lambda: fake.requests)  # the first generation is running (held)
    second = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "description": "b"},
    )
    assert second["status"] == "failed" and "another generation" in second["error"]
    release.set()
    assert (await first)["status"] == "completed"
    assert editor.text(uri) == "o = 1\n" * 30
