"""``tta.generate`` and ``tta.refine``: their handlers, and the flow every streaming
generation follows against an open document, end to end.

Owns the rules the contract sets for every generating command: the document must be
open, the target must not overlap another live generation, progress is cancellable,
and whatever happens (cancel, provider failure, editor refusal) the document ends up
exactly as it was unless the generation completed. In review mode a completed
generation is kept as a pending change (``lsp/review_state.py``) and every running one is
registered there from its first moment, for its lens and ``tta.cancel``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import TextDocument

from tta_codegen.background import hold_path, run_to_end
from tta_codegen.engine import Engine, GenerationRequest, GenerationResult, Status, language_for
from tta_codegen.lsp import outcomes
from tta_codegen.lsp.agent import dispatch_agent
from tta_codegen.lsp.answers import GenerationAnswer, RangeAnswer, ReviewRef
from tta_codegen.lsp.cancel import CommandProgress, current_command, link_cancellation
from tta_codegen.lsp.client import same_uri
from tta_codegen.lsp.diagnostics import answer_diagnostics, publish, result_diagnostics
from tta_codegen.lsp.edit_session import EditSessionError, StreamingEditSession
from tta_codegen.lsp.params import GenerateParams, PositionParam, RefineParams, parse_params
from tta_codegen.lsp.regions import overlaps
from tta_codegen.lsp.review_state import PendingChange, lens_mode, new_id
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.outcomes.events import OutcomeDraft
from tta_codegen.request import implement_request, insert_request, refine_request, whole_lines
from tta_codegen.stubs import Stub, find_stub

log = logging.getLogger(__name__)


def register(server: TtaLanguageServer) -> None:
    server.command("tta.generate")(cmd_generate)
    server.command("tta.refine")(cmd_refine)


async def cmd_generate(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    """Stream generated code into a document at a position."""
    return (await run_generate(ls, parse_params(GenerateParams, args, "tta.generate"))).wire()


async def cmd_refine(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    """Stream a rewrite of a range in place."""
    return (await run_refine(ls, parse_params(RefineParams, args, "tta.refine"))).wire()


def _offset(ls: TtaLanguageServer, uri: str, pos: PositionParam, what: str) -> int:
    return offset_in(ls.workspace.get_text_document(uri), pos, what)


def offset_in(doc: TextDocument, pos: PositionParam, what: str) -> int:
    """A client position as an offset, refused with a clear message when it is not in ``doc``."""
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


def open_document_uri(ls: TtaLanguageServer, uri: str) -> str:
    """``uri``, refused unless the editor has it open (every generating command's rule)."""
    if not ls.editor.is_open(uri):
        raise JsonRpcInvalidParams(
            f"document {uri} is not open in the editor: open it first (the server edits "
            "open documents only, so the editor can show and undo every change)"
        )
    return uri


def _streaming_overlap(ls: TtaLanguageServer, uri: str, start: int, end: int) -> str | None:
    for s in ls.sessions:
        if same_uri(s.uri, uri) and overlaps(start, end, s.start, s.end, growing=True):
            return (
                "another generation is still streaming into this part of the document; "
                "wait for it to finish or cancel it first"
            )
    return None


async def run_generate(ls: TtaLanguageServer, params: GenerateParams) -> GenerationAnswer:
    uri = open_document_uri(ls, params.text_document.uri)
    start = _offset(ls, uri, params.position, "position")
    if not ls.loaded.ok:
        return GenerationAnswer.failed(ls.loaded.error_message())
    doc = ls.workspace.get_text_document(uri)
    stub = stub_at(doc, params.position.line)
    if not params.description.strip() and not params.template and stub is None:
        raise JsonRpcInvalidParams("tta.generate: description is empty (say what to generate)")
    # The agent takes multi-step tasks (or mode "agent") when enabled and healthy;
    # otherwise it says why and the direct path below runs.
    agent_answer = await dispatch_agent(ls, params)
    if agent_answer is not None:
        return agent_answer
    if stub is not None:
        stub = stub_at(doc, params.position.line)  # the document may have changed meanwhile
    if stub is not None:
        # On a stub's def line or inside its placeholder body: write the body in place.
        request = implement_request(
            path=doc.path,
            language=language_for(doc.path, doc.language_id),
            text=doc.source,
            stub=stub,
            description=params.description,
            model=params.model,
            template=params.template,
            variables=params.variables,
            refine=params.refine,
        )
        answer = await run_streaming(
            ls, uri, request, "Implementing function", rewrite=True, command="tta.generate"
        )
    else:
        request = generate_request(doc, start, params)
        answer = await run_streaming(ls, uri, request, "Generating code", command="tta.generate")
    if params.tests and answer.status == "completed":
        from tta_codegen.lsp.features.generate_tests import run_generate_tests_for

        answer.tests = await run_generate_tests_for(ls, uri, answer.text, params.model)
    return answer


def stub_at(doc: TextDocument, line: int) -> Stub | None:
    """The Python stub (body only docstring/pass/.../raise NotImplementedError) at ``line``."""
    if language_for(doc.path, doc.language_id) != "python":
        return None
    # The line's offset comes from the document's line index (lsp/textindex.py): in a long
    # document only the statements around it are parsed.
    line_start = doc.offset_at_position(types.Position(line=line, character=0))
    return find_stub(doc.source, line=line, line_start=line_start)


def generate_request(doc: TextDocument, offset: int, params: GenerateParams) -> GenerationRequest:
    """What ``tta.generate`` (and ``tta.explainContext``, which shows its context) asks for."""
    return insert_request(
        path=doc.path,
        language=language_for(doc.path, doc.language_id),
        text=doc.source,
        offset=offset,
        description=params.description,
        model=params.model,
        template=params.template,
        variables=params.variables,
        refine=params.refine,
    )


async def run_refine(ls: TtaLanguageServer, params: RefineParams) -> GenerationAnswer:
    uri = open_document_uri(ls, params.text_document.uri)
    start = _offset(ls, uri, params.range.start, "range.start")
    end = _offset(ls, uri, params.range.end, "range.end")
    if end < start:
        start, end = end, start
    if not ls.loaded.ok:
        return GenerationAnswer.failed(ls.loaded.error_message())
    if not params.instruction.strip() and not params.template:
        raise JsonRpcInvalidParams("tta.refine: instruction is empty (say what to change)")
    doc = ls.workspace.get_text_document(uri)
    text = doc.source
    start, end = whole_lines(text, start, end)
    if start == end:
        raise JsonRpcInvalidParams("tta.refine: the range is empty (select the code to rewrite)")
    request = refine_request(
        path=doc.path,
        language=language_for(doc.path, doc.language_id),
        text=text,
        start=start,
        end=end,
        instruction=params.instruction,
        model=params.model,
        template=params.template,
        variables=params.variables,
        refine=params.refine,
    )
    return await run_streaming(
        ls, uri, request, "Refining code", rewrite=True, command="tta.refine"
    )


async def run_streaming(
    ls: TtaLanguageServer,
    uri: str,
    request: GenerationRequest,
    title: str,
    *,
    rewrite: bool = False,
    command: str = "tta.generate",
    regenerating: PendingChange | None = None,
) -> GenerationAnswer:
    """Stream one generation into ``[request.start, request.end)`` of the document.

    With ``regenerating`` (Regenerate), the generation streams over that pending change's
    live region instead, replacing only its text, and the same pending change is updated.

    The generation holds the path (``background.hold_path``) until its provider request is
    written: the lens refresh, the progress token's round trip and the work document
    events started wait until then instead of delaying the request.
    """
    with hold_path():
        return await _run_streaming(ls, uri, request, title, rewrite, command, regenerating)


async def _run_streaming(
    ls: TtaLanguageServer,
    uri: str,
    request: GenerationRequest,
    title: str,
    rewrite: bool,
    command: str,
    regenerating: PendingChange | None,
) -> GenerationAnswer:
    reviews = ls.review
    start, end = (
        (regenerating.start, regenerating.end)
        if regenerating is not None
        else (request.start, request.end)
    )
    overlap = _streaming_overlap(ls, uri, start, end) or reviews.overlap_message(
        uri, start, end, ignore=regenerating.id if regenerating is not None else None
    )
    if overlap:
        return GenerationAnswer.failed(overlap)
    task = asyncio.current_task()
    assert task is not None
    link_cancellation(ls, task)
    engine = ls.engine  # a config reload mid-generation must not switch engines under it
    if request.workspace_root is None and ls.workspace_root is not None:
        request.workspace_root = str(ls.workspace_root)
    session = StreamingEditSession(
        ls.editor, uri, start, end, ls.loaded.config.streaming, rewrite=rewrite
    )
    session.bind(task)
    ls.sessions.append(session)
    if regenerating is not None:
        # The session owns the region while it streams; the pending change follows it again
        # (from the session's final region) once the generation is over.
        regenerating.busy = "regenerating"
        reviews.untrack(ls, regenerating)
    running = reviews.start_running(
        ls,
        uri,
        task,
        command,
        request.model or ls.loaded.config.routing.default or "auto",
        session=session,
        pending_id=regenerating.id if regenerating is not None else None,
    )
    progress = CommandProgress(ls, task, title)

    def on_progress(model: str, tokens: int) -> None:
        progress.report(f"{model} · {tokens} tokens")
        reviews.progress(ls, running, model, tokens)

    session.on_progress = on_progress
    session.on_note = lambda message: progress.report(message, force=True)
    draft = outcomes.start(ls, request, command)
    try:
        return await _stream(
            ls, engine, uri, request, session, progress, command, regenerating, draft
        )
    finally:
        reviews.end_running(ls, running)
        if regenerating is not None:
            _resume_following(ls, regenerating, session)


def _resume_following(
    ls: TtaLanguageServer, pending: PendingChange, session: StreamingEditSession
) -> None:
    """After a regeneration, successful or not, the pending change follows its region again."""
    pending.busy = None
    pending.start, pending.end = session.start, session.end
    if session.user_edited_inside:
        pending.edited_while_streaming = True
    reviews = ls.review
    if not ls.editor.is_open(pending.uri):
        # Closed while regenerating (the change was not listening then): closing accepts.
        reviews.forget(ls, pending)
    elif pending.id in reviews.pending:
        reviews.track(ls, pending)
        reviews.refresh(ls)


async def _stream(
    ls: TtaLanguageServer,
    engine: Engine,
    uri: str,
    request: GenerationRequest,
    session: StreamingEditSession,
    progress: CommandProgress,
    command: str,
    pending: PendingChange | None,
    draft: OutcomeDraft,
) -> GenerationAnswer:
    result: GenerationResult | None = None
    try:
        cmd = current_command.get()
        token = cmd.work_done_token if cmd is not None else None
        await progress.begin(token, "choosing a model…")
        result = await engine.generate(request, session)
        if result.status in ("completed", "gates_failed"):
            # Delivered: failing gates are reported with the code (pending in review mode).
            region = await session.finish()
            result.text = session.document().source[session.start : session.end]
            first_line = request.text.count("\n", 0, request.start)
            diags = result_diagnostics(result, region, first_line)
            publish(ls, uri, diags)
            review = _keep_for_review(ls, uri, request, session, result, command, pending)
            answer = GenerationAnswer.of(
                result,
                range=RangeAnswer.of(region),
                diagnostics=answer_diagnostics(diags) if diags else None,
                review=None
                if review is None
                else ReviewRef(id=review.id, range=RangeAnswer.of(region)),
            )
            draft.finish(result, result.text)
            if review is not None:
                if pending is not None:
                    outcomes.decide(ls, pending.outcome, "regenerated")
                review.outcome = draft
            else:
                outcomes.accepted(ls, draft, uri, session.start, session.end)
            return answer
        else:
            await _restore(session)
    except asyncio.CancelledError:
        status: Status = "failed" if session.error is not None else "cancelled"
        error = str(session.error) if session.error is not None else None
        await _restore(session)
        outcomes.decide(ls, draft, "cancelled" if status == "cancelled" else "failed")
        progress.end("cancelled" if status == "cancelled" else "failed")
        ls.session_done(session)
        ended = dataclasses.replace(
            result or GenerationResult(status=status), status=status, text=""
        )
        if error:
            ended.error = error
        return GenerationAnswer.of(ended)
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
    if result.error_kind != "prompt":
        # Not delivered (failed, or cut off: the document was restored).
        outcomes.decide(ls, draft, "cancelled" if result.status == "cancelled" else "failed")
    if result.status != "truncated":
        result.text = ""  # a cut-off reply keeps its text in the answer, not in the document
    return GenerationAnswer.of(result)


def _keep_for_review(
    ls: TtaLanguageServer,
    uri: str,
    request: GenerationRequest,
    session: StreamingEditSession,
    result: GenerationResult,
    command: str,
    pending: PendingChange | None,
) -> PendingChange | None:
    """In lens mode, leave the finished generation as a pending change (or update one)."""
    generated = session.document().source[session.start : session.end]
    if pending is not None:
        # Regenerated: same change, same original; the region now holds the new text.
        pending.generated = generated
        pending.model = result.model
        pending.edited_while_streaming = session.user_edited_inside
        pending.status, pending.failing_gates = result.status, _failing(result)
        return pending
    if not lens_mode(ls):
        return None
    change = PendingChange(
        id=new_id(),
        uri=uri,
        start=session.start,
        end=session.end,
        original=session.original,
        generated=generated,
        command=command,
        model=result.model,
        # Without its text: Regenerate rebuilds that from the document (run_regenerate), and
        # a copy here would keep a whole old document alive while the change is pending.
        request=dataclasses.replace(request, text=""),
        edited_while_streaming=session.user_edited_inside,
        status=result.status,
        failing_gates=_failing(result),
    )
    return ls.review.add(ls, change)


def _failing(result: GenerationResult) -> tuple[str, ...]:
    return tuple(g.name for g in result.gates if not g.passed and not g.skipped)


async def run_regenerate(
    ls: TtaLanguageServer, pending: PendingChange, *, title: str = "Regenerating code"
) -> GenerationAnswer:
    """Rerun a pending change's request into its region, replacing only the pending text.

    The model sees the same prompt as the first time: the document with the region's
    original text in place (plus whatever the user changed elsewhere since).
    """
    doc = ls.workspace.get_text_document(pending.uri)
    source = doc.source
    text = source[: pending.start] + pending.original + source[pending.end :]
    request = dataclasses.replace(
        pending.request,
        text=text,
        start=pending.start,
        end=pending.start + len(pending.original),
    )
    # A rewrite session diffs the new text against the pending text line by line, so
    # lines the new attempt repeats are not sent again.
    return await run_streaming(
        ls,
        pending.uri,
        request,
        title,
        rewrite=True,
        command=pending.command,
        regenerating=pending,
    )


async def _restore(session: StreamingEditSession) -> None:
    """Restore to the end: a second cancel must not leave the document half-restored."""
    try:
        await run_to_end(session.restore(), f"restore of {session.uri}")
    except EditSessionError as exc:
        log.error("could not restore %s: %s", session.uri, exc)
