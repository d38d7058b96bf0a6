"""``tta.generateTests``: pytest tests for a selection or file, into the matching test file.

The tests are generated in full, run as a gate against the real code (the editor's
version of it, saved or not) and refined until they pass, then written in one edit:
appended to the test file, or creating it with a ``CreateFile`` operation. The test file
need not be open, so nothing streams into it; a cancelled or failed run writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from tta_codegen.engine import BufferSink, GenerationResult
from tta_codegen.lsp.cancel import Progress, current_command, link_cancellation
from tta_codegen.lsp.params import GenerateTestsParams
from tta_codegen.lsp.positions import position_at
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
    separator = (
        ""
        if not existing or existing.endswith("\n\n")
        else ("\n" if existing.endswith("\n") else "\n\n")
    )
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
    progress = Progress(ls, task, "Generating tests")
    sink = BufferSink()
    sink.on_progress = lambda m, n: progress.report(f"{m} · {n} tokens")
    command = current_command.get()
    try:
        await progress.begin(command.work_done_token if command else None, "choosing a model…")
        result = await ls.engine.generate(request, sink)
    except asyncio.CancelledError:
        progress.end("cancelled")
        return GenerationResult(status="cancelled").to_answer()
    if result.status != "completed":
        progress.end("failed")
        answer = result.to_answer()
        answer["text"] = ""
        return answer
    new_text = separator + result.text
    applied, reason = await _write(ls, test_uri, existing, new_text, open_doc, exists)
    progress.end("done" if applied else "failed")
    answer = result.to_answer()
    answer["uri"] = test_uri
    answer["created"] = not exists
    if not applied:
        answer["status"] = "failed"
        answer["error"] = f"the editor did not apply the test file edit: {reason or 'refused'}"
    return answer


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
