"""What editors and users do while code streams: nothing is corrupted, nothing is left behind."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S, until
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import Editor, provider_settings
from tests.reliability.rpc import RawServer

SLOW = Reply.text("```python\n" + "s = 1\n" * 200 + "```\n", size=6, delay=0.02)


def gen_args(uri: str, line: int = 0) -> dict[str, object]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": 0},
        "description": "x",
    }


async def test_document_closed_mid_stream_fails_cleanly(editor: Editor, fake: FakeProvider) -> None:
    fake.add(SLOW)
    uri = editor.open("c.py", "a = 1\n")
    _, answer = editor.start("tta.generate", gen_args(uri, 1))
    await editor.wait_for(lambda: len(editor.applied_edits()) >= 2)
    editor.close(uri)
    result = await asyncio.wait_for(answer, HANG_GUARD_S)
    assert result["status"] == "failed" and "closed" in result["error"]
    await asyncio.wait_for(fake.stream_closed.wait(), HANG_GUARD_S)
    # The server still works for other documents.
    fake.rules.clear()
    other = editor.open("d.py", "")
    ok = await editor.execute("tta.generate", gen_args(other))
    assert ok["status"] == "completed"


async def test_file_deleted_mid_stream_keeps_the_buffer_consistent(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(SLOW)
    uri = editor.open("gone.py", "keep = 1\n")
    _, answer = editor.start("tta.generate", gen_args(uri, 1))
    await editor.wait_for(lambda: len(editor.applied_edits()) >= 2)
    (editor.root / "gone.py").unlink()
    result = await asyncio.wait_for(answer, HANG_GUARD_S)
    # The editor still holds the buffer: the generation completes into it.
    assert result["status"] == "completed"
    assert editor.text(uri) == "keep = 1\n" + "s = 1\n" * 200


async def test_client_rejecting_every_edit_fails_and_next_request_works(
    editor: Editor, fake: FakeProvider
) -> None:
    fake.add(SLOW, times=1)
    uri = editor.open("r.py", "a = 1\n")
    editor.reject_all = True
    result = await asyncio.wait_for(editor.execute("tta.generate", gen_args(uri, 1)), HANG_GUARD_S)
    assert result["status"] == "failed" and "reject" in result["error"]
    assert editor.text(uri) == "a = 1\n"
    editor.reject_all = False
    fake.add(Reply.text("```python\nb = 2\n```\n"))
    ok = await editor.execute("tta.generate", gen_args(uri, 1))
    assert ok["status"] == "completed" and editor.text(uri) == "a = 1\nb = 2\n"


async def test_user_typing_inside_the_region_is_kept(editor: Editor, fake: FakeProvider) -> None:
    fake.add(
        Reply.text(
            "```python\n" + "".join(f"v{i} = {i}\n" for i in range(30)) + "```\n",
            size=5,
            delay=0.01,
        )
    )
    uri = editor.open("in.py", "")
    typed: list[int] = []

    def typist(ed: Editor, u: str) -> None:
        if len(ed.applied_edits()) == 3 and not typed:
            ed.type_text(u, 0, 0, "# mine\n")  # at the very start of the generated region
            typed.append(1)

    editor.on_edit = typist
    result = await editor.execute("tta.generate", gen_args(uri))
    assert result["status"] == "completed"
    text = editor.text(uri)
    assert text.count("# mine\n") == 1
    assert text.replace("# mine\n", "") == "".join(f"v{i} = {i}\n" for i in range(30))


async def test_client_disconnect_mid_stream_exits_cleanly(
    tmp_path: Path, fake: FakeProvider
) -> None:
    fake.add(SLOW)
    ws = tmp_path / "ws"
    ws.mkdir()
    server = await RawServer.start(tmp_path, process=True)  # its children, by pid
    await server.initialize(
        ws, provider_settings(fake.base_url, gates={"enabled": ["syntax", "tests"]})
    )
    uri = (ws / "x.py").as_uri()
    server.notify("textDocument/didOpen",
                  {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": ""}})  # fmt: skip
    server.send({"jsonrpc": "2.0", "id": "g", "method": "workspace/executeCommand",
                 "params": {"command": "tta.generate", "arguments": [gen_args(uri)]}})  # fmt: skip
    await until(
        lambda: any(r.get("method") == "workspace/applyEdit" for r in server.server_requests),
        "the first applyEdit (mid-stream)",
    )
    pid = server.proc.pid
    assert server.proc.stdin is not None
    server.proc.stdin.close()  # the editor went away
    code = await asyncio.wait_for(server.proc.wait(), HANG_GUARD_S)
    assert code == 0, server.stderr.decode(errors="replace")[-3000:]
    await asyncio.wait_for(fake.stream_closed.wait(), HANG_GUARD_S)
    # No child process of the server survives it.
    orphans = [p for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == pid]
    assert not orphans
    assert not list(ws.iterdir())  # nothing was written into the workspace
    await server.close()


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


async def test_sigterm_mid_stream_exits(tmp_path: Path, fake: FakeProvider) -> None:
    fake.add(SLOW)
    ws = tmp_path / "ws"
    ws.mkdir()
    server = await RawServer.start(tmp_path)
    await server.initialize(ws, provider_settings(fake.base_url))
    server.proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(server.proc.wait(), HANG_GUARD_S)
    assert code in (0, -signal.SIGTERM)
    await server.close()


async def test_generations_in_many_documents_and_the_same_document(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\nz = 0\n```\n", delay=0.01))
    editor = await make_editor(provider_settings(fake.base_url, gates={"enabled": []}))
    uris = [editor.open(f"m{i}.py", "") for i in range(8)]
    answers = await asyncio.gather(*(editor.execute("tta.generate", gen_args(u)) for u in uris))
    assert all(a["status"] == "completed" for a in answers)
    assert all(editor.text(u) == "z = 0\n" for u in uris)
