"""``tta.generateTests``: pytest tests for a selection or file, into the matching test file.

The tests are generated in full, run as a gate against the real code (the editor's
version of it, saved or not) and refined until they pass, then written in one edit:
appended to the test file, or creating it with a ``CreateFile`` operation. The test file
need not be open, so nothing streams into it; a cancelled or failed run writes nothing.
In review mode the written tests become a pending change (``lsp/review_state.py``): tracked
through ``didChange`` if the test file is open, else checked against the file on disk
until the editor opens it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from tta_codegen.engine import BufferSink, GenerationResult, Status
from tta_codegen.lsp import outcomes
from tta_codegen.lsp.answers import GenerationAnswer, RangeAnswer, ReviewRef
from tta_codegen.lsp.cancel import CommandProgress, current_command, link_cancellation
from tta_codegen.lsp.edit_session import EditSessionError, replace_region
from tta_codegen.lsp.features.generate import offset_in, open_document_uri
from tta_codegen.lsp.params import GenerateTestsParams, parse_params
from tta_codegen.lsp.positions import position_at
from tta_codegen.lsp.review_state import (
    PendingChange,
    lens_mode,
    new_id,
    replace_untracked,
)
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.outcomes.events import Decision
from tta_codegen.request import GenerationRequest

log = logging.getLogger(__name__)


def register(server: TtaLanguageServer) -> None:
    server.command("tta.generateTests")(cmd_generate_tests)


async def cmd_generate_tests(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    """Tests for the code (or selection), run and refined until they pass."""
    params = parse_params(GenerateTestsParams, args, "tta.generateTests")
    return (await run_generate_tests(ls, params)).wire()


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


async def run_generate_tests(
    ls: TtaLanguageServer, params: GenerateTestsParams
) -> GenerationAnswer:
    uri = open_document_uri(ls, params.text_document.uri)
    doc = ls.workspace.get_text_document(uri)
    text = doc.source
    if params.range is not None:
        start = offset_in(doc, params.range.start, "range.start")
        end = offset_in(doc, params.range.end, "range.end")
        code = text[min(start, end) : max(start, end)] or text
    else:
        code = text
    return await _generate_tests(ls, uri, text, code, params.model, params.refine)


async def run_generate_tests_for(
    ls: TtaLanguageServer, uri: str, written: str, model: str | None
) -> GenerationAnswer:
    """Tests for code a generation just wrote (``tta.generate`` with ``tests: true``)."""
    doc = ls.workspace.get_text_document(uri)
    return await _generate_tests(ls, uri, doc.source, written or doc.source, model, None)


async def _generate_tests(
    ls: TtaLanguageServer,
    uri: str,
    source_text: str,
    code: str,
    model: str | None,
    refine: bool | None,
) -> GenerationAnswer:
    if not ls.loaded.ok:
        return GenerationAnswer.failed(ls.loaded.error_message())
    root = ls.workspace_root
    doc = ls.workspace.get_text_document(uri)
    # Compared resolved, never as text: "<ws>/../outside/x.py" (or %2e%2e, or a link out of
    # the workspace) names a file outside it, whatever its spelling starts with.
    source_path = await asyncio.to_thread(Path(doc.path).resolve)
    real_root = None if root is None else await asyncio.to_thread(root.resolve)
    if root is None or real_root is None or not source_path.is_relative_to(real_root):
        raise JsonRpcInvalidParams(
            "tta.generateTests needs a workspace folder that contains the document"
        )
    rel = source_path.relative_to(real_root)
    test_path = test_file_for(root, rel, ls.loaded.config.generation.tests_dir)
    test_rel = test_path.relative_to(root.resolve())
    test_uri = test_path.as_uri()
    open_doc = ls.editor.open_document(test_uri)
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
    draft = outcomes.start(ls, request, "tta.generateTests")
    progress, result = await _generate_buffered(ls, task, request, "Generating tests")
    if not _delivered(result.status):
        outcomes.decide(ls, draft, _ended(result.status))
        return GenerationAnswer.of(result)
    draft.finish(result, result.text)
    live = ls.editor.open_document(test_uri) if lens_mode(ls) else None
    kept: PendingChange | None = None
    if live is not None:
        # Review mode, test file open: one confirmed edit at its current end, so the
        # pending change's region is exact even if the user typed there meanwhile.
        current = live.source
        separator = _separator(current)
        new_text = separator + result.text
        try:
            start, end = await replace_region(ls, test_uri, len(current), len(current), new_text)
            applied, reason = True, None
        except EditSessionError as exc:
            applied, reason = False, str(exc)
        if applied:
            kept = _keep_for_review(ls, test_uri, request, result, separator, new_text, start, end)
    else:
        new_text = separator + result.text
        applied, reason = await _write(ls, test_uri, existing, new_text, open_doc, exists)
        if applied and lens_mode(ls):
            start = len(existing)
            kept = _keep_for_review(
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
    if not applied:
        outcomes.decide(ls, draft, "failed")
    elif kept is not None:
        kept.outcome = draft
    else:  # review mode "auto": kept at once
        start = len(existing)
        outcomes.accepted(ls, draft, test_uri, start, start + len(new_text))
    return GenerationAnswer.of(
        result if applied else _not_written(result, reason),
        uri=test_uri,
        created=not exists,
        review=_review_ref(ls, kept),
    )


def _delivered(status: Status) -> bool:
    """Delivered tests are written: ``completed``, or ``gates_failed`` (with the failing
    gates reported); a cancelled, failed or truncated run writes nothing."""
    return status in ("completed", "gates_failed")


def _ended(status: Status) -> Decision:
    return "cancelled" if status == "cancelled" else "failed"


def _not_written(result: GenerationResult, reason: str | None) -> GenerationResult:
    error = f"the editor did not apply the test file edit: {reason or 'refused'}"
    return dataclasses.replace(result, status="failed", error=error)


def _review_ref(ls: TtaLanguageServer, change: PendingChange | None) -> ReviewRef | None:
    if change is None:
        return None
    return ReviewRef(id=change.id, range=RangeAnswer.of(change.region(ls)))


def _separator(existing: str) -> str:
    if not existing or existing.endswith("\n\n"):
        return ""
    return "\n" if existing.endswith("\n") else "\n\n"


def _keep_for_review(
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
        doc = ls.editor.detached(uri, after)
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
    reviews = ls.review
    reviews.add(ls, change)
    live = ls.editor.open_document(uri)
    if not tracked and live is not None and live.source[start:end] == text:
        # The editor opened the file to apply the edit before it answered.
        reviews.track(ls, change)
    return change


async def _generate_buffered(
    ls: TtaLanguageServer, task: asyncio.Task[Any], request: GenerationRequest, title: str
) -> tuple[CommandProgress, GenerationResult]:
    """Generate into a buffer under cancellable progress (tests are written in one edit).

    A delivered result (:func:`_delivered`) comes back with the progress still open for
    the write; any other with the progress ended and no text (nothing is written).
    """
    progress = CommandProgress(ls, task, title)
    sink = BufferSink()
    sink.on_progress = lambda m, n: progress.report(f"{m} · {n} tokens")
    command = current_command.get()
    try:
        await progress.begin(command.work_done_token if command else None, "choosing a model…")
        result = await ls.engine.generate(request, sink)
    except asyncio.CancelledError:
        progress.end("cancelled")
        return progress, GenerationResult(status="cancelled")
    if not _delivered(result.status):
        progress.end(result.status)
        result.text = ""
    return progress, result


async def run_regenerate_tests(ls: TtaLanguageServer, change: PendingChange) -> GenerationAnswer:
    """Rerun the same tests request; replace only the pending tests with the new ones."""
    reviews = ls.review
    task = asyncio.current_task()
    assert task is not None
    link_cancellation(ls, task)
    run = reviews.start_running(
        ls, change.uri, task, change.command, change.request.model or "auto", pending_id=change.id
    )
    change.busy = "regenerating"
    reviews.refresh(ls)
    try:
        draft = outcomes.start(ls, change.request, "tta.generateTests")
        progress, result = await _generate_buffered(ls, task, change.request, "Regenerating tests")
        if not _delivered(result.status):
            outcomes.decide(ls, draft, _ended(result.status))
            return GenerationAnswer.of(result)
        draft.finish(result, result.text)
        new_text = change.prefix + result.text
        if change.tracked:
            try:
                change.start, change.end = await replace_region(
                    ls, change.uri, change.start, change.end, new_text
                )
                applied, reason = True, None
            except EditSessionError as exc:
                applied, reason = False, str(exc)
        else:
            current = await ls.editor.document_text(change.uri, to_fs_path(change.uri) or "")
            if current is None or current[change.start : change.end] != change.generated:
                applied, reason = False, "the test file changed since the tests were written"
            else:
                applied, reason = await replace_untracked(ls, change, new_text, current)
        progress.end("done" if applied else "failed")
        if not applied:
            outcomes.decide(ls, draft, "failed")
            return GenerationAnswer.of(_not_written(result, reason), uri=change.uri)
        change.generated, change.model = new_text, result.model
        outcomes.decide(ls, change.outcome, "regenerated")
        change.outcome = draft
        return GenerationAnswer.of(result, uri=change.uri, review=_review_ref(ls, change))
    finally:
        change.busy = None
        reviews.end_running(ls, run)
        reviews.refresh(ls)


async def _write(
    ls: TtaLanguageServer,
    uri: str,
    existing: str,
    text: str,
    open_doc: TextDocument | None,
    exists: bool,
) -> tuple[bool, str | None]:
    """Append ``text`` to the test file in one edit, creating the file if it is missing."""
    if not exists:
        at, version = types.Position(line=0, character=0), None
    elif open_doc is not None:
        at, version = position_at(open_doc, len(existing)), open_doc.version
    else:
        at, version = position_at(ls.editor.detached(uri, existing), len(existing)), None
    result = await ls.editor.apply_edit(
        uri,
        types.TextEdit(range=types.Range(at, at), new_text=text),
        version=version,
        label="tta-codegen: tests",
        create=not exists,
    )
    return result.applied, result.failure_reason
