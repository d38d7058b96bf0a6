"""Review mode in a real Neovim: lenses, Accept/Discard/Diff/Regenerate, refused Discard.

Review mode (``[review] mode = "lens"``) is the server's default, so the settings here do
not mention it. Lenses are run the way a user runs them, with ``vim.lsp.codelens.run()``
on the lens line (``vim.ui.select`` answered by the case script), or with the plugin's
``:TTA*`` commands on the change under the cursor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.provider import FakeProvider, Reply
from tests.nvim.conftest import Nvim

# Tabs, trailing spaces, characters outside the BMP: Discard must give back exactly these.
ORIGINAL = "import os\n\n\nprint(os.sep)  \nx = '\t𝄞 é'\n"
ADD = "def add(a, b):\n    return a + b\n"
# PEP 8: two blank lines on each side of the function (one was there on each side).
WITH_ADD = "import os\n\n\ndef add(a, b):\n    return a + b\n\n\nprint(os.sep)  \nx = '\t𝄞 é'\n"
LENSES = ["Accept", "Discard", "Diff", "Regenerate"]


def code(text: str, **kw: object) -> Reply:
    return Reply.text(f"```python\n{text}```\n", size=5, delay=0.005, **kw)  # type: ignore[arg-type]


def settings(nvim: Nvim) -> dict[str, Any]:
    # The gates (syntax, ruff, tests) are not what this tests; review mode is the default.
    # Nor is the context index: with it, whether the first prompt has project context
    # depends on how far indexing got (under load it may not), and regenerate must send
    # the same prompt as the generation it repeats.
    return nvim.settings(gates={"enabled": []}, context={"index": False})


def source(nvim: Nvim, name: str = "m.py") -> Path:
    path = nvim.workspace / name
    path.write_bytes(ORIGINAL.encode("utf-8"))
    return path


async def test_discard_lens_restores_the_file_byte_for_byte(nvim: Nvim, fake: FakeProvider) -> None:
    fake.add(code(ADD))
    path = source(nvim)

    run = await nvim.run(
        "review_discard", file=path, line=3, description="a function add", settings=settings(nvim)
    )

    r = run.result
    gen = r["generate"]
    assert gen["status"] == "completed", run.why()
    assert r["after_generate"] == WITH_ADD, run.why()
    review = gen["result"]["review"]
    assert review["range"]["start"] == {"line": 2, "character": 0}, run.why()
    # The four lenses on the change's first line, each carrying its id, drawn as one line.
    lenses = r["lenses"]
    assert [lens["title"] for lens in lenses] == LENSES, run.why()
    assert {lens["line"] for lens in lenses} == {2}
    assert {lens["id"] for lens in lenses} == {review["id"]}
    assert r["virt_text"] == {"2": "Accept | Discard | Diff | Regenerate"}, run.why()
    # They arrived because the server asked Neovim to refresh (the plugin handles that).
    assert r["refreshes_before_discard"] >= 1, run.why()
    # Discard ran through the lens, answered "discarded", and the lenses went away.
    assert r["discard"]["command"] == "tta.discard"
    assert r["discard"]["status"] == "discarded", run.why()
    assert r["after_discard"] == ORIGINAL, run.why()
    assert not r["lenses_after"] and not r["virt_text_after"], run.why()
    assert path.read_bytes() == ORIGINAL.encode("utf-8"), run.why()
    assert any("discarded: the text is back" in n["msg"] for n in r["notes"]), run.why()
    assert r["selects"][0]["items"] == LENSES, r["selects"]


async def test_accept_lens_keeps_the_text_and_one_undo_removes_it(
    nvim: Nvim, fake: FakeProvider
) -> None:
    fake.add(code(ADD))
    path = source(nvim)

    run = await nvim.run(
        "review_accept", file=path, line=3, description="a function add", settings=settings(nvim)
    )

    r = run.result
    assert r["generate"]["status"] == "completed", run.why()
    assert r["after_accept"] == WITH_ADD, run.why()
    assert path.read_bytes() == WITH_ADD.encode("utf-8"), run.why()
    assert not r["virt_text_after"], run.why()
    assert r["qf_after_accept"] == 0
    assert any("no pending changes" in n["msg"] for n in r["notes"]), run.why()
    # The streamed generation is one undo step in review mode too.
    assert r["after_undo"] == ORIGINAL, run.why()


async def test_discard_after_an_edit_inside_is_refused_then_forced(
    nvim: Nvim, fake: FakeProvider
) -> None:
    fake.add(code(ADD))
    path = source(nvim)

    run = await nvim.run(
        "review_refused", file=path, line=3, description="a function add", settings=settings(nvim)
    )

    r = run.result
    edited = WITH_ADD.replace("    return a + b\n", "    # mine\n    return a + b\n")
    assert r["edited"] == edited, run.why()
    # :TTADiscard: refused, with the offer; the user cancels and keeps the edit.
    assert r["refused"]["status"] == "refused", run.why()
    offer = r["selects"][0]
    assert offer["items"] == ["Discard anyway", "Cancel"], r["selects"]
    assert "You edited inside the generated code" in offer["prompt"], offer
    assert r["after_refused"] == edited, run.why()
    # :TTADiscard! forces it: the original, byte for byte.
    assert r["forced"]["status"] == "discarded", run.why()
    assert r["after_forced"] == ORIGINAL, run.why()
    # Through the lens: Discard -> refused -> "Discard anyway" from vim.ui.select.
    assert [s["chose"] for s in r["selects"][1:]] == ["Discard", "Discard anyway"], r["selects"]
    assert r["lens_refused"]["status"] == "refused", run.why()
    assert r["lens_forced"]["status"] == "discarded", run.why()
    assert r["after_lens_forced"] == ORIGINAL, run.why()
    assert path.read_bytes() == ORIGINAL.encode("utf-8"), run.why()


async def test_diff_split_regenerate_and_pending_list(nvim: Nvim, fake: FakeProvider) -> None:
    fake.add(code(ADD), times=1)
    fake.add(code("def add(a: int, b: int) -> int:\n    return a + b\n"))
    path = source(nvim)

    run = await nvim.run(
        "review_diff", file=path, line=3, description="a function add", settings=settings(nvim)
    )

    r = run.result
    assert r["after_generate"] == WITH_ADD, run.why()
    assert r["diff"]["command"] == "tta.diff" and r["diff"]["status"] == "completed", run.why()
    assert r["diff"]["result"]["original_document"] == ORIGINAL
    # Two windows in diff mode: the live buffer, and a read-only scratch holding the original.
    wins = r["diff_windows"]
    [live] = [w for w in wins if w["live"]]
    [scratch] = [w for w in wins if not w["live"]]
    assert live["diff"] and scratch["diff"], wins
    assert live["text"] == WITH_ADD
    assert scratch["text"] == ORIGINAL, wins
    assert scratch["buftype"] == "nofile" and not scratch["modifiable"], scratch
    assert scratch["filetype"] == "python" and scratch["current"], scratch
    assert scratch["name"].startswith("tta-original://"), scratch
    # q closes it, and the file's window leaves diff mode.
    assert [(w["live"], w["diff"]) for w in r["after_q"]] == [(True, False)], r["after_q"]
    # The Diff lens opens the same view; :quit closes it as well.
    lens_scratch = [w for w in r["lens_diff_windows"] if not w["live"]]
    assert [w["text"] for w in lens_scratch] == [ORIGINAL], r["lens_diff_windows"]
    assert [(w["live"], w["diff"]) for w in r["after_quit"]] == [(True, False)], r["after_quit"]
    # Regenerate reran the request into the same region.
    assert r["regenerate"]["command"] == "tta.regenerate", run.why()
    assert r["regenerate"]["status"] == "completed", run.why()
    assert r["after_regenerate"] == WITH_ADD.replace(
        "def add(a, b):", "def add(a: int, b: int) -> int:"
    ), run.why()
    assert len(fake.requests) == 2
    assert fake.requests[1].last_user_message == fake.requests[0].last_user_message
    # :TTAPending: the change in the quickfix list, at its first line.
    [item] = r["qf"]
    assert item["lnum"] == 3 and item["file"] == str(path), item
    assert "tta.generate by fake-a, lines 3-6" in item["text"], item
    assert r["generate"]["result"]["review"]["id"] in item["text"]
    assert r["qf_title"] == "tta-codegen: pending changes"
    # diff = 'float': the server's unified diff in a floating window.
    assert r["float"]["filetype"] == "diff", r.get("float")
    assert r["float"]["text"] == r["float_diff"]["result"]["diff"], r.get("float")
    assert "+def add(a: int, b: int) -> int:" in r["float"]["text"]


async def test_commands_that_finish_together_are_each_waited_for(nvim: Nvim) -> None:
    # The case helper behind every wait on a command's answer: two answers that land in
    # one poll (the float-diff step above, index off, ~1 in 3 runs) must both be returned,
    # the second not skipped for a third that never comes (the hang guard would end it).
    run = await nvim.run("wait_done", file=source(nvim), settings=settings(nvim))

    assert [d["command"] for d in run.done] == ["tta.listPending"] * 2, run.why()
    assert run.result["first"] == run.done[0] and run.result["second"] == run.done[1]


async def test_streaming_lens_counts_tokens_and_cancel_restores(
    nvim: Nvim, fake: FakeProvider
) -> None:
    fake.add(Reply.text("```python\n" + "y = 1\n" * 400 + "```\n", size=6, delay=0.05))
    path = source(nvim)

    run = await nvim.run(
        "review_cancel", file=path, line=3, description="slow", settings=settings(nvim)
    )

    r = run.result
    titles = [lens["title"] for lens in r["streaming_lenses"]]
    assert len(titles) == 2 and titles[1] == "Cancel", titles
    assert titles[0].startswith("Generating… (fake-a, ") and titles[0].endswith(" tokens)"), titles
    assert r["generate"]["status"] == "cancelled", run.why()
    assert r["after_cancel"] == ORIGINAL, run.why()
    assert r["lenses_after"] == []
    assert path.read_bytes() == ORIGINAL.encode("utf-8"), run.why()
