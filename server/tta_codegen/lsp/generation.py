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
from tta_codegen.lsp.diagnostics import answer_diagnostics, publish, result_diagnostics
from tta_codegen.lsp.edit_session import EditSessionError, StreamingEditSession
from tta_codegen.lsp.params import GenerateParams, PositionParam, RefineParams

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


def region_dict(region: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": region.start.line, "character": region.start.character},
        "end": {"line": region.end.line, "character": region.end.character},
    }


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
        refine=params.refine,
    )
    answer = await run_streaming(ls, uri, request, "Generating code")
    if params.tests and answer["status"] == "completed":
        from tta_codegen.lsp.testgen import run_generate_tests_for

        answer["tests"] = await run_generate_tests_for(ls, uri, answer, params.model)
    return answer


def whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a selection to whole lines when only indentation or a newline is left out,
    so the rewrite owns its indentation and the selection's last newline."""
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip():
        start = line_start
    if end > start and text[end - 1 : end] != "\n":
        nl = text.find("\n", end)
        rest = text[end:nl] if nl >= 0 else text[end:]
        if not rest.strip():
            end = nl + 1 if nl >= 0 else len(text)
    return start, end


async def run_refine(ls: TtaLanguageServer, params: RefineParams) -> dict[str, Any]:
    uri = _open_document_uri(ls, params.text_document.uri)
    start = _offset(ls, uri, params.range.start, "range.start")
    end = _offset(ls, uri, params.range.end, "range.end")
    if end < start:
        start, end = end, start
    if not ls.loaded.ok:
        return _failed(ls.loaded.error_message())
    if not params.instruction.strip() and not params.template:
        raise JsonRpcInvalidParams("tta.refine: instruction is empty (say what to change)")
    doc = ls.workspace.get_text_document(uri)
    text = doc.source
    start, end = whole_lines(text, start, end)
    if start == end:
        raise JsonRpcInvalidParams("tta.refine: the range is empty (select the code to rewrite)")
    request = GenerationRequest(
        kind="refine",
        path=doc.path,
        language=language_for(doc.path, doc.language_id),
        text=text,
        start=start,
        end=end,
        description=params.instruction,
        model=params.model,
        template=params.template,
        variables=params.variables,
        refine=params.refine,
    )
    return await run_streaming(ls, uri, request, "Refining code", rewrite=True)


async def run_streaming(
    ls: TtaLanguageServer,
    uri: str,
    request: GenerationRequest,
    title: str,
    *,
    rewrite: bool = False,
) -> dict[str, Any]:
    overlap = _check_overlap(ls, uri, request.start, request.end)
    if overlap:
        return _failed(overlap)
    task = asyncio.current_task()
    assert task is not None
    link_cancellation(ls, task)
    engine = ls.engine
    if request.workspace_root is None and ls.workspace_root is not None:
        request.workspace_root = str(ls.workspace_root)
    session = StreamingEditSession(
        ls, ls.tracker, uri, request.start, request.end, ls.loaded.config.streaming, rewrite=rewrite
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
            first_line = request.text.count("\n", 0, request.start)
            diags = result_diagnostics(result, region, first_line)
            publish(ls, uri, diags)
            answer = result.to_answer()
            answer["range"] = region_dict(region)
            if diags:
                answer["diagnostics"] = answer_diagnostics(diags)
            return answer
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
    result.text = ""  # only a completed generation (answered above) has text
    return result.to_answer()


async def _restore(session: StreamingEditSession) -> None:
    """Restore, shielded: a second cancel must not leave the document half-restored."""
    try:
        await asyncio.shield(session.restore())
    except EditSessionError as exc:
        log.error("could not restore %s: %s", session.uri, exc)
    except asyncio.CancelledError:
        log.warning("restore of %s interrupted", session.uri)
