"""Runs one generating command against an open document, end to end.

Owns the rules the contract sets for every generating command: the document must be
open, the target must not overlap another live generation, progress is cancellable,
and whatever happens (cancel, provider failure, editor refusal) the document ends up
exactly as it was unless the generation completed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from tta_codegen.engine import GenerationRequest, GenerationResult, Status, language_for
from tta_codegen.lsp.cancel import Progress, current_command, link_cancellation
from tta_codegen.lsp.edit_session import EditSessionError, StreamingEditSession
from tta_codegen.lsp.params import GenerateParams, PositionParam

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)


def _offset(ls: TtaLanguageServer, uri: str, pos: PositionParam, what: str) -> int:
    doc = ls.workspace.get_text_document(uri)
    lines = doc.lines
    if pos.line > len(lines) or (pos.line == len(lines) and pos.character > 0):
        raise JsonRpcInvalidParams(
            f"{what} {pos.line}:{pos.character} is outside the document ({len(lines)} lines)"
        )
    if pos.line < len(lines):
        line = lines[pos.line].rstrip("\r\n")
        units = doc.position_codec.client_num_units(line)
        if pos.character > units:
            raise JsonRpcInvalidParams(
                f"{what} {pos.line}:{pos.character} is past the end of line {pos.line} "
                f"({units} characters)"
            )
    return doc.offset_at_position(types.Position(line=pos.line, character=pos.character))


def _open_document_uri(ls: TtaLanguageServer, uri: str) -> str:
    if unquote(uri) not in ls.workspace.text_documents:
        raise JsonRpcInvalidParams(
            f"document {uri} is not open in the editor: open it first (the server edits "
            "open documents only, so the editor can show and undo every change)"
        )
    return uri


def _check_overlap(ls: TtaLanguageServer, uri: str, start: int, end: int) -> str | None:
    for s in ls.sessions:
        if unquote(s.uri) != unquote(uri):
            continue
        if (start < s.end and s.start < end) or (start == end and s.start <= start <= s.end):
            return (
                "another generation is still streaming into this part of the document; "
                "wait for it to finish or cancel it first"
            )
    return None


def _failed(error: str) -> dict[str, Any]:
    return GenerationResult(status="failed", error=error).to_answer()


async def run_generate(ls: TtaLanguageServer, params: GenerateParams) -> dict[str, Any]:
    uri = _open_document_uri(ls, params.text_document.uri)
    start = _offset(ls, uri, params.position, "position")
    if not ls.loaded.ok:
        return _failed(ls.loaded.error_message())
    if not params.description.strip() and not params.template:
        raise JsonRpcInvalidParams("tta.generate: description is empty (say what to generate)")
    doc = ls.workspace.get_text_document(uri)
    request = GenerationRequest(
        kind="generate",
        path=doc.path,
        language=language_for(doc.path, doc.language_id),
        text=doc.source,
        start=start,
        end=start,
        description=params.description,
        model=params.model,
        template=params.template,
        variables=params.variables,
    )
    return await run_streaming(ls, uri, request, "Generating code")


async def run_streaming(
    ls: TtaLanguageServer, uri: str, request: GenerationRequest, title: str
) -> dict[str, Any]:
    overlap = _check_overlap(ls, uri, request.start, request.end)
    if overlap:
        return _failed(overlap)
    task = asyncio.current_task()
    assert task is not None
    link_cancellation(ls, task)
    engine = ls.engine
    session = StreamingEditSession(
        ls, ls.tracker, uri, request.start, request.end, ls.loaded.config.streaming
    )
    session.bind(task)
    ls.sessions.append(session)
    progress = Progress(ls, task, title)
    session.on_progress = lambda model, tokens: progress.report(f"{model} · {tokens} tokens")
    result: GenerationResult | None = None
    try:
        command = current_command.get()
        token = command.work_done_token if command is not None else None
        await progress.begin(token, "choosing a model…")
        result = await engine.generate(request, session)
        if result.status == "completed":
            region = await session.finish()
            result.text = session.document().source[session.start : session.end]
            del region
        else:
            await _restore(session)
    except asyncio.CancelledError:
        status: Status = "failed" if session.error is not None else "cancelled"
        error = str(session.error) if session.error is not None else None
        await _restore(session)
        progress.end("cancelled" if status == "cancelled" else "failed")
        ls.session_done(session)
        answer = (result or GenerationResult(status=status)).to_answer()
        answer["status"] = status
        answer["text"] = ""
        if error:
            answer["error"] = error
        return answer
    except EditSessionError as exc:
        await _restore(session)
        result = result or GenerationResult(status="failed")
        result.status, result.error, result.text = "failed", str(exc), ""
    finally:
        if session in ls.sessions:
            end = result.status if result is not None else "failed"
            progress.end(end)
            ls.session_done(session)
    assert result is not None
    if result.status != "completed":
        result.text = ""
    return result.to_answer()


async def _restore(session: StreamingEditSession) -> None:
    """Restore, shielded: a second cancel must not leave the document half-restored."""
    try:
        await asyncio.shield(session.restore())
    except EditSessionError as exc:
        log.error("could not restore %s: %s", session.uri, exc)
    except asyncio.CancelledError:
        log.warning("restore of %s interrupted", session.uri)
