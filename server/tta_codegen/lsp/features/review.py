"""Review commands and code lenses: accept, discard, diff, regenerate, list, cancel.

The state lives in ``lsp/review_state.py`` (one registry per server, ``server.review``);
this module is the LSP surface: ``textDocument/codeLens`` and the ``tta.*`` commands whose
names and argument shapes the protocol contract fixes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from tta_codegen.lsp import outcomes
from tta_codegen.lsp.answers import ChangeAnswer, DiffAnswer, GenerationAnswer, RangeAnswer
from tta_codegen.lsp.edit_session import EditSessionError, replace_region
from tta_codegen.lsp.params import EmptyParams, ForceParams, IdParams, parse_params
from tta_codegen.lsp.review_state import PendingChange, replace_untracked
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.textdiff import unified_diff


def register(server: TtaLanguageServer) -> None:
    server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))(
        on_code_lens
    )
    server.on_open.append(_on_open)
    server.command("tta.accept")(cmd_accept)
    server.command("tta.discard")(cmd_discard)
    server.command("tta.diff")(cmd_diff)
    server.command("tta.regenerate")(cmd_regenerate)
    server.command("tta.listPending")(cmd_list_pending)
    server.command("tta.cancel")(cmd_cancel)


def _change_named(ls: TtaLanguageServer, ident: str, command: str) -> PendingChange:
    """The pending change ``ident``, or the command's invalid-params error."""
    change = ls.review.pending.get(ident)
    if change is None:
        raise JsonRpcInvalidParams(
            f"{command}: no pending change with id {ident!r} (it was accepted, discarded, or "
            "its document was closed; tta.listPending lists the current ones)"
        )
    return change


def _busy(change: PendingChange) -> ChangeAnswer | None:
    if change.busy is None:
        return None
    return ChangeAnswer(
        status="refused",
        id=change.id,
        message=f"the pending change is {change.busy}; wait for it (or cancel it) first",
    )


def _lines(ls: TtaLanguageServer, change: PendingChange) -> str:
    r = change.region(ls)
    last = r.end.line if r.end.character > 0 or r.end.line == r.start.line else r.end.line - 1
    first = r.start.line + 1
    return f"line {first}" if last + 1 <= first else f"lines {first}-{last + 1}"


def _refuse_edited(ls: TtaLanguageServer, change: PendingChange, command: str) -> ChangeAnswer:
    verb = "Discard" if command == "tta.discard" else "Regenerate"
    return ChangeAnswer(
        status="refused",
        id=change.id,
        message=(
            f"You edited inside the generated code ({_lines(ls, change)}) since it was written. "
            f"{verb} would throw your edit away: choose “{verb} anyway” to do it regardless, "
            "or Accept to keep the text as it is."
        ),
        actions=[
            {
                "title": f"{verb} anyway",
                "command": command,
                "arguments": [{"id": change.id, "force": True}],
            }
        ],
    )


def display_path(ls: TtaLanguageServer, path: str) -> str:
    root = ls.workspace_root
    if root is not None:
        with contextlib.suppress(ValueError):
            return Path(path).relative_to(root).as_posix()
    return Path(path).as_posix()


# -- code lenses -------------------------------------------------------------------------


def on_code_lens(ls: TtaLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    return ls.review.lenses(ls, params.text_document.uri)


def _on_open(ls: TtaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    """A test file written while closed is tracked from the moment it is opened."""
    reviews = ls.review
    doc = ls.editor.open_document(params.text_document.uri)
    if doc is None:
        return
    for change in reviews.in_document(params.text_document.uri):
        if not change.tracked and doc.source[change.start : change.end] == change.generated:
            reviews.track(ls, change)
            reviews.refresh(ls)


# -- commands ----------------------------------------------------------------------------


async def cmd_accept(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(IdParams, args, "tta.accept")
    return (await accept(ls, _change_named(ls, params.id, "tta.accept"))).wire()


async def accept(ls: TtaLanguageServer, change: PendingChange) -> ChangeAnswer:
    if (busy := _busy(change)) is not None:
        return busy
    ls.review.forget(ls, change)
    outcomes.accepted(ls, change.outcome, change.uri, change.start, change.end)
    return ChangeAnswer(status="accepted", id=change.id)


async def cmd_discard(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(ForceParams, args, "tta.discard")
    change = _change_named(ls, params.id, "tta.discard")
    return (await discard(ls, change, force=params.force)).wire()


async def discard(ls: TtaLanguageServer, change: PendingChange, *, force: bool) -> ChangeAnswer:
    if (busy := _busy(change)) is not None:
        return busy
    reviews = ls.review
    if not change.tracked:
        return await _discard_untracked(ls, change)
    doc = ls.editor.open_document(change.uri)
    assert doc is not None  # a tracked change is forgotten when its document closes
    if change.edited_inside(doc) and not force:
        return _refuse_edited(ls, change, "tta.discard")
    change.busy = "discarding"
    reviews.refresh(ls)
    try:
        # The change stays tracked: our own edit, seen inside the region, keeps the
        # region right even if the editor refuses and the user goes on typing.
        await replace_region(ls, change.uri, change.start, change.end, change.original)
    except EditSessionError as exc:
        change.busy = None
        reviews.refresh(ls)
        return ChangeAnswer(status="failed", id=change.id, error=str(exc))
    if change.id not in reviews.pending:
        return ChangeAnswer(status="failed", id=change.id, error="the document was closed")
    reviews.forget(ls, change)
    outcomes.decide(ls, change.outcome, "discarded")
    return ChangeAnswer(status="discarded", id=change.id)


async def _discard_untracked(ls: TtaLanguageServer, change: PendingChange) -> ChangeAnswer:
    current = await ls.editor.document_text(change.uri, to_fs_path(change.uri) or "")
    if current is None or current[change.start : change.end] != change.generated:
        return ChangeAnswer(
            status="refused",
            id=change.id,
            message=(
                "the file changed since the generated text was written and was not open in "
                "the editor, so the server cannot tell where that text is now; edit it by hand"
            ),
        )
    change.busy = "discarding"
    try:
        applied, reason = await replace_untracked(ls, change, change.original, current)
    finally:
        change.busy = None
    if not applied:
        return ChangeAnswer(status="failed", id=change.id, error=f"the editor refused: {reason}")
    ls.review.forget(ls, change)
    outcomes.decide(ls, change.outcome, "discarded")
    return ChangeAnswer(status="discarded", id=change.id)


async def cmd_diff(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(IdParams, args, "tta.diff")
    change = _change_named(ls, params.id, "tta.diff")
    path = to_fs_path(change.uri) or change.uri
    now = await ls.editor.document_text(change.uri, path)
    if now is None:
        raise JsonRpcInvalidParams(f"tta.diff: {path} cannot be read")
    before = now[: change.start] + change.original + now[change.end :]
    return DiffAnswer(
        id=change.id,
        uri=change.uri,
        range=RangeAnswer.of(change.region(ls)),
        diff=unified_diff(display_path(ls, path), before, now),
        original=change.original,
        current=now[change.start : change.end],
        original_document=before,
    ).wire()


async def cmd_regenerate(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(ForceParams, args, "tta.regenerate")
    change = _change_named(ls, params.id, "tta.regenerate")
    return (await regenerate(ls, change, force=params.force)).wire()


async def regenerate(
    ls: TtaLanguageServer, change: PendingChange, *, force: bool
) -> ChangeAnswer | GenerationAnswer:
    """A refusal (busy, or edited inside without ``force``), else the new generation's answer."""
    if (busy := _busy(change)) is not None:
        return busy
    if change.command == "tta.generateTests":
        from tta_codegen.lsp.features.generate_tests import run_regenerate_tests

        current = await ls.editor.document_text(change.uri, to_fs_path(change.uri) or "")
        changed = current is None or current[change.start : change.end] != change.generated
        if changed and not (force and change.tracked):
            return _refuse_edited(ls, change, "tta.regenerate")
        return await run_regenerate_tests(ls, change)
    from tta_codegen.lsp.features.generate import run_regenerate

    doc = ls.editor.open_document(change.uri)
    assert doc is not None
    if change.edited_inside(doc) and not force:
        return _refuse_edited(ls, change, "tta.regenerate")
    return await run_regenerate(ls, change)


async def cmd_list_pending(ls: TtaLanguageServer, *args: Any) -> list[dict[str, Any]]:
    parse_params(EmptyParams, args, "tta.listPending", optional=True)
    return [change.summary(ls).wire() for change in ls.review.pending.values()]


async def cmd_cancel(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    """Cancel a running generation by the id its lens carries (or the pending change's id
    while it regenerates): the same as cancelling its request."""
    params = parse_params(IdParams, args, "tta.cancel")
    for run in list(ls.review.running.values()):
        if params.id in (run.id, run.pending_id):
            run.task.cancel()
            return ChangeAnswer(status="cancelling", id=run.id).wire()
    raise JsonRpcInvalidParams(
        f"tta.cancel: no running generation with id {params.id!r} (it may have finished)"
    )
