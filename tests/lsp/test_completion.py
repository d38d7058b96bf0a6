"""Inline completion through the real server over stdio, against fakes of each wire format.

Timeouts here are hang guards only (10x or more the idle time); nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from tests.fakes.ollama import FakeOllama
from tests.fakes.provider import FakeProvider, Reply
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings
from tta_codegen.completion.settings import DEFAULT_DEBOUNCE_MS

SIGNATURE = "def add(a, b):"
AFTER = "\n\nprint(add(1, 2))\n"
BODY = "\n    return a + b"
HANG_GUARD_S = 10.0
DEBOUNCE_S = DEFAULT_DEBOUNCE_MS / 1000
# A reply that keeps streaming (spaces, no newline: never complete) for ~40 s, so the
# fake notices at its next write when the server closes the stream.
ENDLESS = Reply(chunks=["\n    re"] + [" "] * 4000, delay=0.01)


def _settings(base_url: str, model: dict[str, Any] | None = None, **completion: Any) -> Any:
    s = provider_settings(base_url, ["fake-a"])
    s["models"] = [{"id": "fake-a", "provider": "fake", **(model or {})}]
    s["completion"] = completion
    return s


def _request(editor: Editor, uri: str, line: int, character: int) -> tuple[str, Any]:
    """Send textDocument/inlineCompletion without waiting; returns its id and its answer."""
    msg_id = f"ic-{uuid.uuid4()}"
    fut = editor.client.protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION,
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        ),
        msg_id=msg_id,
    )
    return msg_id, asyncio.ensure_future(fut)


async def _complete(editor: Editor, uri: str, line: int, character: int) -> list[Any]:
    _, fut = _request(editor, uri, line, character)
    answer = await asyncio.wait_for(fut, HANG_GUARD_S)
    return list(answer.items if answer is not None else [])


def _model_calls(fake: FakeProvider) -> list[Any]:
    return [r for r in fake.requests if r.path.rstrip("/").endswith("completions")]


@pytest_asyncio.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    server = FakeOllama()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_openai_fim_sends_prefix_and_suffix_and_answers_the_block(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.default = Reply.text(BODY + "\n\n\ndef other():\n    pass\n")
    editor = await make_editor(_settings(fake.base_url, {"fim": True}))
    caps = editor.server_capabilities
    assert caps is not None and caps.inline_completion_provider
    uri = editor.open("m.py", SIGNATURE + AFTER)
    items = await _complete(editor, uri, 0, len(SIGNATURE))
    assert [i.insert_text for i in items] == [BODY]
    assert items[0].range.start == types.Position(0, len(SIGNATURE))
    (req,) = _model_calls(fake)
    assert req.path == "/v1/completions"
    assert req.body["prompt"].endswith(SIGNATURE) and req.body["suffix"] == AFTER
    assert req.body["stream"] is True and "messages" not in req.body


async def test_fim_template_sends_one_raw_prompt(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    template = "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
    fake.default = Reply.text(BODY)
    editor = await make_editor(_settings(fake.base_url, {"fim_template": template}))
    uri = editor.open("m.py", SIGNATURE + AFTER)
    assert [i.insert_text for i in await _complete(editor, uri, 0, len(SIGNATURE))] == [BODY]
    (req,) = _model_calls(fake)
    assert req.path == "/v1/completions" and "suffix" not in req.body
    assert req.body["prompt"] == f"<|fim_prefix|>{SIGNATURE}<|fim_suffix|>{AFTER}<|fim_middle|>"


async def test_ollama_fim_uses_generate_with_suffix(
    make_editor: StartEditor, ollama: FakeOllama
) -> None:
    ollama.default = Reply.text(BODY)
    settings_ = {
        "providers": {"local": {"kind": "ollama", "base_url": ollama.base_url}},
        "models": [{"id": "qwen-coder", "provider": "local", "fim": True}],
        "routing": {"tasks": {"completion": {"model": "qwen-coder"}}},
    }
    editor = await make_editor(settings_)
    uri = editor.open("m.py", SIGNATURE + AFTER)
    assert [i.insert_text for i in await _complete(editor, uri, 0, len(SIGNATURE))] == [BODY]
    (req,) = ollama.requests
    assert req.path == "/api/generate"
    assert req.body["prompt"].endswith(SIGNATURE) and req.body["suffix"] == AFTER
    assert req.body["model"] == "qwen-coder" and "raw" not in req.body


async def test_chat_only_model_is_asked_for_the_middle(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.default = Reply.text("```python\n" + BODY.lstrip("\n") + "\n```\n")
    editor = await make_editor(_settings(fake.base_url))
    uri = editor.open("m.py", "def add(a, b):\n    " + AFTER)
    items = await _complete(editor, uri, 1, 4)
    assert [i.insert_text for i in items] == ["return a + b"]
    (req,) = _model_calls(fake)
    assert req.path == "/v1/chat/completions"
    assert "def add(a, b):\n    <CURSOR>\n\nprint" in req.last_user_message


async def test_routing_sends_completion_to_its_own_model(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.default = Reply.text(BODY)
    s = provider_settings(fake.base_url, ["big", "small"])
    s["models"][1]["fim"] = True
    s["routing"]["tasks"] = {"completion": {"model": "small"}}
    editor = await make_editor(s)
    uri = editor.open("m.py", SIGNATURE + AFTER)
    await _complete(editor, uri, 0, len(SIGNATURE))
    assert [r.body["model"] for r in _model_calls(fake)] == ["small"]


async def test_newer_request_supersedes_and_closes_the_older_stream(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.add(ENDLESS, times=1)
    fake.default = Reply.text(BODY)
    editor = await make_editor(_settings(fake.base_url, {"fim": True}, debounce_ms=0))
    uri = editor.open("m.py", SIGNATURE + AFTER)
    _, first = _request(editor, uri, 0, len(SIGNATURE))
    await editor.wait_for(lambda: len(_model_calls(fake)) == 1, HANG_GUARD_S)
    second = await _complete(editor, uri, 0, len(SIGNATURE))
    answer = await asyncio.wait_for(first, HANG_GUARD_S)
    assert answer is not None and not answer.items  # superseded: answered empty
    assert [i.insert_text for i in second] == [BODY]
    await asyncio.wait_for(fake.stream_closed.wait(), HANG_GUARD_S)


async def test_cancel_request_closes_the_model_stream(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.default = ENDLESS
    editor = await make_editor(_settings(fake.base_url, {"fim": True}, debounce_ms=0))
    uri = editor.open("m.py", SIGNATURE + AFTER)
    msg_id, fut = _request(editor, uri, 0, len(SIGNATURE))
    await editor.wait_for(lambda: len(_model_calls(fake)) == 1, HANG_GUARD_S)
    editor.cancel(msg_id)
    await asyncio.wait_for(fake.stream_closed.wait(), HANG_GUARD_S)
    with pytest.raises(Exception, match="cancel"):
        await asyncio.wait_for(fut, HANG_GUARD_S)


async def test_fast_typing_makes_at_most_one_model_call_with_the_default_debounce(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.default = Reply.text(" + b\n")
    editor = await make_editor(_settings(fake.base_url, {"fim": True}))
    uri = editor.open("m.py", "x = \n")
    loop = asyncio.get_running_loop()
    answers, sent = [], []
    for i, ch in enumerate("abcdefghij"):
        editor.type_text(uri, 0, 4 + i, ch)
        answers.append(_request(editor, uri, 0, 5 + i)[1])
        sent.append(loop.time())
        await asyncio.sleep(0.03)
    results = await asyncio.wait_for(asyncio.gather(*answers), HANG_GUARD_S)
    # On an overloaded machine (load 10+ on 2 cores) a 30 ms sleep can stretch, and the
    # server, starved too, may see a gap of the debounce where the client saw half of it:
    # such a slow keystroke may earn its own call. With steady 30 ms gaps: one call.
    pauses = sum(1 for a, b in itertools.pairwise(sent) if b - a >= DEBOUNCE_S / 2)
    assert len(_model_calls(fake)) <= 1 + pauses
    assert [i.insert_text for i in results[-1].items] == [" + b"]
    if pauses == 0:
        assert all(not r.items for r in results[:-1])


async def test_typing_what_was_predicted_answers_from_cache_and_counts_acceptance(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.default = Reply.text("a, b):\n")
    editor = await make_editor(_settings(fake.base_url, {"fim": True}, debounce_ms=0))
    uri = editor.open("m.py", "def add(\n")
    (item,) = await _complete(editor, uri, 0, 8)
    assert item.insert_text == "a, b):"
    editor.type_text(uri, 0, 8, "a, ")
    (cached,) = await _complete(editor, uri, 0, 11)
    assert len(_model_calls(fake)) == 1  # no second model call
    assert cached.insert_text == "a, b):"
    assert cached.range == types.Range(types.Position(0, 8), types.Position(0, 11))
    # The editor runs the item's command on accept.
    assert item.command.command == "tta.completionAccepted"
    await editor.execute("tta.completionAccepted", item.command.arguments[0])
    stats = await editor.execute("tta.stats", {})
    (row,) = stats["completions"]
    assert row["model"] == "fake-a" and row["shown"] == 1 and row["accepted"] == 1
    assert row["chars_accepted"] == len("a, b):")


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    reply=st.text(alphabet="ab()=:; \n", min_size=1, max_size=30),
    tail=st.sampled_from([")", "):", " + 1", ""]),
    below=st.sampled_from(["    return a\n", "print(a)\n", ""]),
)
async def test_property_over_stdio_never_repeats_the_text_after_the_cursor(
    make_editor: StartEditor, fake: FakeProvider, reply: str, tail: str, below: str
) -> None:
    # One server for all examples of this test (started on the first one).
    editors = getattr(fake, "_prop_editors", None)
    if editors is None:
        editors = [await make_editor(_settings(fake.base_url, {"fim": True}, debounce_ms=0))]
        fake._prop_editors = editors  # type: ignore[attr-defined]
    editor = editors[0]
    fake.default = Reply.text(reply)
    prefix = "def f(a"
    uri = editor.open(f"p{uuid.uuid4().hex[:8]}.py", prefix + tail + "\n" + below)
    items = await _complete(editor, uri, 0, len(prefix))
    for item in items:
        text = item.insert_text
        assert text.strip()
        if tail.strip():
            assert "\n" not in text and not text.rstrip().endswith(tail.strip())
        elif below.strip():
            assert below.strip() not in [ln.strip() for ln in text.split("\n")]
