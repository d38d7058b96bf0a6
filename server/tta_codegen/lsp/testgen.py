"""``tta.generateTests``: pytest tests for a selection or file, into the matching test file.

The tests are generated in full, run as a gate against the real code (the editor's
version of it, saved or not) and refined until they pass, then written in one edit:
appended to the test file, or creating it with a ``CreateFile`` operation. The test file
need not be open, so nothing streams into it; a cancelled or failed run writes nothing.
In review mode the written tests become a pending change (``lsp/review.py``): tracked
through ``didChange`` if the test file is open, else checked against the file on disk
until the editor opens it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from tta_codegen.engine import BufferSink, GenerationResult
from tta_codegen.lsp.cancel import Progress, current_command, link_cancellation
from tta_codegen.lsp.edit_session import EditSessionError
from tta_codegen.lsp.params import GenerateTestsParams
from tta_codegen.lsp.positions import position_at
from tta_codegen.lsp.review import (
    PendingChange,
    document_text,
    lens_mode,
    new_id,
    open_document,
    range_dict,
    registry,
    replace_untracked,
    set_region_text,
)
from tta_codegen.request import GenerationRequest

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def test_file_for(root: Path, rel: Path, tests_dir: str) -> Path:
    """``tests/test_<module>.py``, refusing any path that would leave the workspace."""
    target = (root / tests_dir / f"test_{rel.stem}.py").resolve()
    if not target.is_relative_to(root.resolve()):
        raise JsonRpcInvalidParams(
            f"generation.tests_dir {tests_dir!r} points outside the workspace; "
            "use a folder inside it"
        )
    return target


async def run_generate_tests(ls: TtaLanguageServer, params: GenerateTestsParams) -> dict[str, Any]:
    uri = params.text_document.uri
    if unquote(uri) not in ls.workspace.text_documents:
        raise JsonRpcInvalidParams(f"document {uri} is not open in the editor: open it first")
    doc = ls.workspace.get_text_document(uri)
    text = doc.source
    if params.range is not None:
        start = doc.offset_at_position(
            types.Position(line=params.range.start.line, character=params.range.start.character)
        )
        end = doc.offset_at_position(
            types.Position(line=params.range.end.line, character=params.range.end.character)
        )
        code = text[min(start, end) : max(start, end)] or text
    else:
        code = text
    return await _generate_tests(ls, uri, text, code, params.model, params.refine)


async def run_generate_tests_for(
    ls: TtaLanguageServer, uri: str, answer: dict[str, Any], model: str | None
) -> dict[str, Any]:
    """Tests for code a generation just wrote (``tta.generate`` with ``tests: true``)."""
    doc = ls.workspace.get_text_document(uri)
    return await _generate_tests(ls, uri, doc.source, answer.get("text") or doc.source, model, None)


async def _generate_tests(
    ls: TtaLanguageServer,
    uri: str,
    source_text: str,
    code: str,
    model: str | None,
    refine: bool | None,
) -> dict[str, Any]:
    if not ls.loaded.ok:
        return GenerationResult(status="failed", error=ls.loaded.error_message()).to_answer()
    root = ls.workspace_root
    doc = ls.workspace.get_text_document(uri)
    source_path = Path(doc.path)
    if root is None or not source_path.is_relative_to(root):
        raise JsonRpcInvalidParams(
            "tta.generateTests needs a workspace folder that contains the document"
        )
    rel = source_path.relative_to(root)
    test_path = test_file_for(root, rel, ls.loaded.config.generation.tests_dir)
    test_rel = test_path.relative_to(root.resolve())
    test_uri = test_path.as_uri()
    open_doc = ls.workspace.text_documents.get(unquote(test_uri))
    exists = open_doc is not None or await asyncio.to_thread(test_path.exists)
    if open_doc is not None:
        existing = open_doc.source
    elif exists:
        existing = await asyncio.to_thread(test_path.read_text, encoding="utf-8")
    else:
        existing = ""
    separator = _separator(existing)
    base = existing + separator
    module = module_name(rel)
    request = GenerationRequest(
        kind="tests",
        path=str(test_path),
        language="python",
        text=base,
        start=len(base),
        end=len(base),
        description=(
            f"The code under test is in `{rel.as_posix()}` (import it as `{module}`):\n"
            f"```python\n{code}```"
            + (
                ""
                if not existing
                else "\nAppend new tests; do not repeat the file's existing tests."
            )
        ),
        model=model,
        template="unit-tests",
        variables={"target": module},
        refine=refine,
        workspace_root=str(root),
        gate_files={rel.as_posix(): source_text},
        test_targets=[test_rel.as_posix()],
    )
    task = asyncio.current_task()
    assert task is not None
    link_cancellation(ls, task)
    progress, outcome = await _generate_buffered(ls, task, request, "Generating tests")
    if not isinstance(outcome, GenerationResult):
        return outcome
    result = outcome
    live = open_document(ls, test_uri) if lens_mode(ls) else None
    pending: PendingChange | None = None
    if live is not None:
        # Review mode, test file open: one confirmed edit at its current end, so the
        # pending change's region is exact even if the user typed there meanwhile.
        current = live.source
        separator = _separator(current)
        new_text = separator + result.text
        try:
            start, end = await set_region_text(ls, test_uri, len(current), len(current), new_text)
            applied, reason = True, None
        except EditSessionError as exc:
            applied, reason = False, str(exc)
        if applied:
            pending = _pending(ls, test_uri, request, result, separator, new_text, start, end)
    else:
        new_text = separator + result.text
        applied, reason = await _write(ls, test_uri, existing, new_text, open_doc, exists)
        if applied and lens_mode(ls):
            start = len(existing)
            pending = _pending(
                ls,
                test_uri,
                request,
                result,
                separator,
                new_text,
                start,
                start + len(new_text),
                tracked=False,
                after=existing + new_text,
                created=not exists,
            )
    progress.end("done" if applied else "failed")
    answer = result.to_answer()
    answer["uri"] = test_uri
    answer["created"] = not exists
    if not applied:
        answer["status"] = "failed"
        answer["error"] = f"the editor did not apply the test file edit: {reason or 'refused'}"
    if pending is not None:
        answer["review"] = {"id": pending.id, "range": range_dict(pending.region(ls))}
    return answer


def _separator(existing: str) -> str:
    if not existing or existing.endswith("\n\n"):
        return ""
    return "\n" if existing.endswith("\n") else "\n\n"


def _pending(
    ls: TtaLanguageServer,
    uri: str,
    request: GenerationRequest,
    result: GenerationResult,
    separator: str,
    text: str,
    start: int,
    end: int,
    *,
    tracked: bool = True,
    after: str | None = None,
    created: bool = False,
) -> PendingChange:
    """Keep the written tests for review; a file not open is tracked once it is opened."""
    disk_range = None
    if after is not None:
        doc = TextDocument(uri, after, position_codec=ls.workspace.position_codec)
        disk_range = types.Range(position_at(doc, start), position_at(doc, end))
    change = PendingChange(
        id=new_id(),
        uri=uri,
        start=start,
        end=end,
        original="",
        generated=text,
        command="tta.generateTests",
        model=result.model,
        request=request,
        tracked=tracked,
        created_file=created,
        disk_range=disk_range,
        prefix=separator,
    )
    reviews = registry(ls)
    reviews.add(ls, change)
    live = open_document(ls, uri)
    if not tracked and live is not None and live.source[start:end] == text:
        # The editor opened the file to apply the edit before it answered.
        reviews.track(ls, change)
    return change


async def _generate_buffered(
    ls: TtaLanguageServer, task: asyncio.Task[Any], request: GenerationRequest, title: str
) -> tuple[Progress, GenerationResult | dict[str, Any]]:
    """Generate into a buffer under cancellable progress (tests are written in one edit).

    A delivered generation (``completed``, or ``gates_failed``: the tests are written with
    their failing gates reported) comes back as its result, with the progress still open
    for the write; a cancelled, failed or truncated one as the answer to send, with the
    progress ended.
    """
    progress = Progress(ls, task, title)
    sink = BufferSink()
    sink.on_progress = lambda m, n: progress.report(f"{m} · {n} tokens")
    command = current_command.get()
    try:
        await progress.begin(command.work_done_token if command else None, "choosing a model…")
        result = await ls.engine.generate(request, sink)
    except asyncio.CancelledError:
        progress.end("cancelled")
        return progress, GenerationResult(status="cancelled").to_answer()
    if result.status not in ("completed", "gates_failed"):
        progress.end(result.status)
        answer = result.to_answer()
        answer["text"] = ""
        return progress, answer
    return progress, result


async def run_regenerate_tests(ls: TtaLanguageServer, change: PendingChange) -> dict[str, Any]:
    """Rerun the same tests request; replace only the pending tests with the new ones."""
    reviews = registry(ls)
    task = asyncio.current_task()
    assert task is not None
    link_cancellation(ls, task)
    run = reviews.start_running(
        ls, change.uri, task, change.command, change.request.model or "auto", pending_id=change.id
    )
    change.busy = "regenerating"
    reviews.refresh(ls)
    try:
        progress, outcome = await _generate_buffered(ls, task, change.request, "Regenerating tests")
        if not isinstance(outcome, GenerationResult):
            return outcome
        result = outcome
        new_text = change.prefix + result.text
        if change.tracked:
            try:
                change.start, change.end = await set_region_text(
                    ls, change.uri, change.start, change.end, new_text
                )
                applied, reason = True, None
            except EditSessionError as exc:
                applied, reason = False, str(exc)
        else:
            current = await document_text(ls, change.uri, to_fs_path(change.uri) or "")
            if current is None or current[change.start : change.end] != change.generated:
                applied, reason = False, "the test file changed since the tests were written"
            else:
                applied, reason = await replace_untracked(ls, change, new_text, current)
        progress.end("done" if applied else "failed")
        answer = result.to_answer()
        answer["uri"] = change.uri
        if not applied:
            answer["status"] = "failed"
            answer["error"] = f"the editor did not apply the test file edit: {reason or 'refused'}"
            return answer
        change.generated, change.model = new_text, result.model
        answer["review"] = {"id": change.id, "range": range_dict(change.region(ls))}
        return answer
    finally:
        change.busy = None
        reviews.end_running(ls, run)
        reviews.refresh(ls)


async def _write(
    ls: TtaLanguageServer,
    uri: str,
    existing: str,
    text: str,
    open_doc: Any,
    exists: bool,
) -> tuple[bool, str | None]:
    changes: list[Any] = []
    if not exists:
        changes.append(
            types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True))
        )
        at = types.Position(line=0, character=0)
        version = None
    elif open_doc is not None:
        at = position_at(open_doc, len(existing))
        version = open_doc.version
    else:
        lines = existing.split("\n")
        units = ls.workspace.position_codec.client_num_units(lines[-1])
        at = types.Position(line=len(lines) - 1, character=units)
        version = None
    changes.append(
        types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
            edits=[types.TextEdit(range=types.Range(at, at), new_text=text)],
        )
    )
    result = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=types.WorkspaceEdit(document_changes=changes), label="tta-codegen: tests"
        )
    )
    return result.applied, result.failure_reason
