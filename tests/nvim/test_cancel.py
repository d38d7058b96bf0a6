"""Cancel in a real Neovim: the stream stops and the buffer is exactly as before."""

from __future__ import annotations

import asyncio

from tests.fakes.provider import FakeProvider, Reply
from tests.guards import HANG_GUARD_S
from tests.nvim.conftest import Nvim, NvimRun

ORIGINAL = "def keep():\n    return 'é ✓ 𝄞'\n\n\nkeep()\n"


async def _cancel(nvim: Nvim, fake: FakeProvider, *, plain: bool, debounce: int = 0) -> NvimRun:
    # Long and slow: it would take ~20 s to finish.
    fake.add(Reply.text("```python\n" + "y = 1\n" * 400 + "```\n", size=6, delay=0.05))
    path = nvim.workspace / "c.py"
    path.write_text(ORIGINAL, encoding="utf-8")
    run = await nvim.run(
        "cancel", file=path, line=4, description="slow", plain=plain, debounce=debounce
    )
    assert run.result["streamed_before_cancel"] >= 2, run.why()
    [done] = run.done
    assert done["status"] == "cancelled", run.why()
    assert path.read_bytes() == ORIGINAL.encode("utf-8"), run.why()
    assert run.result["text_later"] == ORIGINAL, run.why()
    # The server stopped reading the provider's stream (it did not run on to the end). The
    # fake sees that at its next write after the close, a chunk (50 ms) or two later.
    await asyncio.wait_for(fake.stream_closed.wait(), HANG_GUARD_S)
    return run


async def test_cancel_restores_the_buffer(nvim: Nvim, fake: FakeProvider) -> None:
    run = await _cancel(nvim, fake, plain=False)
    assert run.result["jobs_before_cancel"] == 1
    assert run.result["jobs_after"] == 0
    assert any("cancelled; the buffer is as it was" in n["msg"] for n in run.result["notes"])


async def test_cancel_with_a_bare_neovim_client(nvim: Nvim, fake: FakeProvider) -> None:
    """No plugin: client:cancel_request() while the last edit's echo waits out the debounce."""
    await _cancel(nvim, fake, plain=True, debounce=50)
