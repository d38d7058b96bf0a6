"""The user types while code streams in: nothing dropped, nothing duplicated (version trap)."""

from __future__ import annotations

import asyncio

from tests.fakes.provider import FakeProvider, Reply
from tests.nvim.conftest import Nvim, NvimRun

BODY = "".join(f"value_{i} = {i}\n" for i in range(30))
TYPED = " typed by the user"
NEW_LINE = "# a line typed while streaming"


async def _type_while_streaming(nvim: Nvim, fake: FakeProvider, *, plain: bool) -> NvimRun:
    # ~90 chunks 20 ms apart, and the stream only ends once the case has finished typing
    # (it calls T.signal('typed')): the typing overlaps the stream however busy the machine.
    typed = asyncio.Event()
    fake.add(Reply.text("```python\n" + BODY + "```\n", size=4, delay=0.02, hold=typed))
    path = nvim.workspace / "t.py"
    path.write_text("# header\n\n\nprint(1)\n", encoding="utf-8")
    run = await nvim.run(
        "typing",
        file=path,
        line=3,
        description="thirty values",
        typed=TYPED,
        new_line=NEW_LINE,
        pause_ms=25,
        plain=plain,
        release=("typed", typed),
    )
    [done] = run.done
    assert done["status"] == "completed", run.why()
    assert path.read_text(encoding="utf-8") == (
        f"# header{TYPED}\n{NEW_LINE}\n\n{BODY}\nprint(1)\n"
    ), run.why()
    assert done["result"]["text"] == BODY, run.why()
    # The typing really overlapped the stream (else this test proves nothing).
    assert run.result["streaming_when_typing_ended"], run.why()
    return run


async def test_typing_above_the_stream_keeps_every_character(
    nvim: Nvim, fake: FakeProvider
) -> None:
    run = await _type_while_streaming(nvim, fake, plain=False)
    # Neovim really dropped a stale edit (and answered applied: true); the server re-sent it.
    assert run.result["stale_drops"] >= 1, run.why()
    assert not any("UNVERSIONED" in line for line in run.result["log"]), run.why()


async def test_typing_with_a_bare_neovim_client(nvim: Nvim, fake: FakeProvider) -> None:
    """No plugin: vim.lsp.start() with Neovim's own capabilities, as lspconfig users have."""
    run = await _type_while_streaming(nvim, fake, plain=True)
    assert not any("UNVERSIONED" in line for line in run.result["log"]), run.why()
