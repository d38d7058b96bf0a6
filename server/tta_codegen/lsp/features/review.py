"""Review commands and code lenses: accept, discard, diff, regenerate, list, cancel.

The state lives in ``lsp/review.py`` (one registry per server, ``server.review``); this
module is the LSP surface: ``textDocument/codeLens`` and the ``tta.*`` commands whose
names and argument shapes the protocol contract fixes.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, Field
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from tta_codegen.lsp import outcomes
from tta_codegen.lsp.edit_session import EditSessionError
from tta_codegen.lsp.params import EmptyParams
from tta_codegen.lsp.review import (
    PendingChange,
    ReviewRegistry,
    display_path,
    document_text,
    open_document,
    range_dict,
    registry,
    replace_untracked,
    set_region_text,
    unified_diff,
)
from tta_codegen.lsp.server import TtaLanguageServer, parse_params, server


class _IdParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1)


class DiscardParams(_IdParams):
    force: bool = False


def _reviews(ls: TtaLanguageServer) -> ReviewRegistry:
    return registry(ls)


def _pending(ls: TtaLanguageServer, ident: str, command: str) -> PendingChange:
    change = _reviews(ls).pending.get(ident)
    if change is None:
        raise JsonRpcInvalidParams(
            f"{command}: no pending change with id {ident!r} (it was accepted, discarded, or "
            "its document was closed; tta.listPending lists the current ones)"
        )
    return change


def _busy(change: PendingChange) -> dict[str, Any] | None:
    if change.busy is None:
        return None
    return {
        "status": "refused",
        "id": change.id,
        "message": f"the pending change is {change.busy}; wait for it (or cancel it) first",
    }


def _lines(ls: TtaLanguageServer, change: PendingChange) -> str:
    r = change.region(ls)
    last = r.end.line if r.end.character > 0 or r.end.line == r.start.line else r.end.line - 1
    first = r.start.line + 1
    return f"line {first}" if last + 1 <= first else f"lines {first}-{last + 1}"


def _refuse_edited(ls: TtaLanguageServer, change: PendingChange, command: str) -> dict[str, Any]:
    verb = "Discard" if command == "tta.discard" else "Regenerate"
    return {
        "status": "refused",
        "id": change.id,
        "message": (
            f"You edited inside the generated code ({_lines(ls, change)}) since it was written. "
            f"{verb} would throw your edit away: choose “{verb} anyway” to do it regardless, "
            "or Accept to keep the text as it is."
        ),
        "actions": [
            {
                "title": f"{verb} anyway",
                "command": command,
                "arguments": [{"id": change.id, "force": True}],
            }
        ],
    }


# -- code lenses -------------------------------------------------------------------------


@server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
def on_code_lens(ls: TtaLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    return _reviews(ls).lenses(ls, params.text_document.uri)


def _on_open(ls: TtaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    """A test file written while closed is tracked from the moment it is opened."""
    reviews = _reviews(ls)
    doc = open_document(ls, params.text_document.uri)
    if doc is None:
        return
    for change in reviews.in_document(params.text_document.uri):
        if not change.tracked and doc.source[change.start : change.end] == change.generated:
            reviews.track(ls, change)
            reviews.refresh(ls)


server.on_open.append(_on_open)
# Set at import so other modules (and tests of the server object) find one registry.
server.review = ReviewRegistry()  # type: ignore[attr-defined]


# -- commands ----------------------------------------------------------------------------


@server.command("tta.accept")
async def cmd_accept(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(_IdParams, args, "tta.accept")
    change = _pending(ls, params.id, "tta.accept")
    if (busy := _busy(change)) is not None:
        return busy
    _reviews(ls).forget(ls, change)
    outcomes.accepted(ls, change.outcome, change.uri, change.start, change.end)
    return {"status": "accepted", "id": change.id}


@server.command("tta.discard")
async def cmd_discard(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(DiscardParams, args, "tta.discard")
    change = _pending(ls, params.id, "tta.discard")
    if (busy := _busy(change)) is not None:
        return busy
    reviews = _reviews(ls)
    if not change.tracked:
        return await _discard_untracked(ls, change)
    doc = open_document(ls, change.uri)
    assert doc is not None  # a tracked change is forgotten when its document closes
    if change.edited_inside(doc) and not params.force:
        return _refuse_edited(ls, change, "tta.discard")
    change.busy = "discarding"
    reviews.refresh(ls)
    try:
        # The change stays tracked: our own edit, seen inside the region, keeps the
        # region right even if the editor refuses and the user goes on typing.
        await set_region_text(ls, change.uri, change.start, change.end, change.original)
    except EditSessionError as exc:
        change.busy = None
        reviews.refresh(ls)
        return {"status": "failed", "id": change.id, "error": str(exc)}
    if change.id not in reviews.pending:
        return {"status": "failed", "id": change.id, "error": "the document was closed"}
    reviews.forget(ls, change)
    outcomes.decide(ls, change.outcome, "discarded")
    return {"status": "discarded", "id": change.id}


async def _discard_untracked(ls: TtaLanguageServer, change: PendingChange) -> dict[str, Any]:
    current = await document_text(ls, change.uri, to_fs_path(change.uri) or "")
    if current is None or current[change.start : change.end] != change.generated:
        return {
            "status": "refused",
            "id": change.id,
            "message": (
                "the file changed since the generated text was written and was not open in "
                "the editor, so the server cannot tell where that text is now; edit it by hand"
            ),
        }
    change.busy = "discarding"
    try:
        applied, reason = await replace_untracked(ls, change, change.original, current)
    finally:
        change.busy = None
    if not applied:
        return {"status": "failed", "id": change.id, "error": f"the editor refused: {reason}"}
    _reviews(ls).forget(ls, change)
    outcomes.decide(ls, change.outcome, "discarded")
    return {"status": "discarded", "id": change.id}


@server.command("tta.diff")
async def cmd_diff(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(_IdParams, args, "tta.diff")
    change = _pending(ls, params.id, "tta.diff")
    path = to_fs_path(change.uri) or change.uri
    now = await document_text(ls, change.uri, path)
    if now is None:
        raise JsonRpcInvalidParams(f"tta.diff: {path} cannot be read")
    before = now[: change.start] + change.original + now[change.end :]
    return {
        "id": change.id,
        "uri": change.uri,
        "range": range_dict(change.region(ls)),
        "diff": unified_diff(display_path(ls, path), before, now),
        "original": change.original,
        "current": now[change.start : change.end],
        # The whole document as it was, for a side-by-side view (VS Code's vscode.diff).
        "original_document": before,
    }


@server.command("tta.regenerate")
async def cmd_regenerate(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(DiscardParams, args, "tta.regenerate")
    change = _pending(ls, params.id, "tta.regenerate")
    if (busy := _busy(change)) is not None:
        return busy
    if change.command == "tta.generateTests":
        from tta_codegen.lsp.testgen import run_regenerate_tests

        current = await document_text(ls, change.uri, to_fs_path(change.uri) or "")
        changed = current is None or current[change.start : change.end] != change.generated
        if changed and not (params.force and change.tracked):
            return _refuse_edited(ls, change, "tta.regenerate")
        return await run_regenerate_tests(ls, change)
    from tta_codegen.lsp.generation import run_regenerate

    doc = open_document(ls, change.uri)
    assert doc is not None
    if change.edited_inside(doc) and not params.force:
        return _refuse_edited(ls, change, "tta.regenerate")
    return await run_regenerate(ls, change)


@server.command("tta.listPending")
async def cmd_list_pending(ls: TtaLanguageServer, *args: Any) -> list[dict[str, Any]]:
    parse_params(EmptyParams, args or ({},), "tta.listPending")
    return [change.summary(ls) for change in _reviews(ls).pending.values()]


@server.command("tta.cancel")
async def cmd_cancel(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    """Cancel a running generation by the id its lens carries (or the pending change's id
    while it regenerates): the same as cancelling its request."""
    params = parse_params(_IdParams, args, "tta.cancel")
    for run in list(_reviews(ls).running.values()):
        if params.id in (run.id, run.pending_id):
            run.task.cancel()
            return {"status": "cancelling", "id": run.id}
    raise JsonRpcInvalidParams(
        f"tta.cancel: no running generation with id {params.id!r} (it may have finished)"
    )
