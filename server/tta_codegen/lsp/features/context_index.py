"""The context stage in the editor: background index, document events, explainContext.

After ``initialized`` the workspace index is opened and brought up to date in the
background, with work-done progress; the provider is handed to the engine at once, so
requests made meanwhile use what is indexed so far. Document events and file-watcher
notifications update the index without ever blocking a handler (its work waits until a
generation starting meanwhile has sent its request, see ``background.after_path``).

Saves and watched-file changes also tell the template library and the rule-file reader,
which reuse their last look at the disk for a second (``prompts/library.py``,
``context/rules.py``): what the editor reports counts at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from tta_codegen.background import spawn
from tta_codegen.context.provider import WorkspaceContext
from tta_codegen.lsp.features.generate import generate_request, offset_in
from tta_codegen.lsp.params import GenerateParams, parse_params
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.prompts.library import files_changed as prompt_files_changed
from tta_codegen.request import GenerationRequest
from tta_codegen.wiring import workspace_context

log = logging.getLogger(__name__)


def register(server: TtaLanguageServer) -> None:
    server.on_initialized.append(start_context)
    server.on_open.append(_on_open)
    server.on_change.append(_on_change)
    server.on_save.append(_on_save)
    server.on_close.append(_on_close)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(on_watched_files)
    server.command("tta.explainContext")(cmd_explain_context)


def _provider(ls: TtaLanguageServer) -> WorkspaceContext | None:
    provider = ls.context_provider
    return provider if isinstance(provider, WorkspaceContext) else None


def _path(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    fs = to_fs_path(uri)
    return Path(fs).resolve() if fs else None


def _indexed(ls: TtaLanguageServer, uri: str) -> tuple[WorkspaceContext, Path] | None:
    """The index and the file a document event is about; None when there is no index or
    the document is not a file. Every keystroke passes here before its inline completion,
    so without an index the path is not resolved (a syscall per path component)."""
    provider = _provider(ls)
    if provider is None or not provider.enabled:  # [context] index = false: nothing to tell
        return None
    path = _path(uri)
    return None if path is None else (provider, path)


def _roots(ls: TtaLanguageServer) -> list[Path]:
    roots: list[Path] = []
    for folder in ls.workspace.folders.values():
        p = _path(folder.uri)
        if p is not None and p not in roots:
            roots.append(p)
    if not roots and ls.workspace_root is not None:
        roots.append(ls.workspace_root.resolve())
    return roots


async def start_context(ls: TtaLanguageServer) -> None:
    roots = _roots(ls)
    provider = workspace_context(roots, ls.loaded.config)
    ls.set_context_provider(provider)
    if provider.enabled:
        spawn(_index_with_progress(ls, provider))
        spawn(_watch_files(ls))


async def _index_with_progress(ls: TtaLanguageServer, provider: WorkspaceContext) -> None:
    token: str | None = None
    if ls.editor.capabilities.work_done_progress:
        token = f"tta-index-{uuid.uuid4()}"
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(
                    title="tta-codegen: indexing workspace", message="scanning…", percentage=0
                ),
            )
        except Exception:  # the client refused progress: index quietly
            token = None
    loop = asyncio.get_running_loop()

    def report(done: int, total: int) -> None:
        if token is None:
            return
        pct = int(done * 100 / total) if total else 100
        value = types.WorkDoneProgressReport(message=f"{done}/{total} files", percentage=pct)
        loop.call_soon_threadsafe(ls.work_done_progress.report, token, value)

    message = "index unavailable"
    try:
        result = await provider.start(report)
        if result is not None:
            message = (
                f"{result.files} files ({result.parsed} parsed, {result.unchanged} unchanged) "
                f"in {result.seconds:.1f} s"
            )
    except Exception:
        log.exception("context index failed")
        message = "indexing failed (see the server log)"
    finally:
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))
            ls.work_done_progress.tokens.pop(token, None)


async def _watch_files(ls: TtaLanguageServer) -> None:
    if not ls.editor.capabilities.watch_files:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
    )
    params = types.RegistrationParams(
        registrations=[
            types.Registration(
                id=f"tta-watch-{uuid.uuid4()}",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=options,
            )
        ]
    )
    try:
        await ls.client_register_capability_async(params)
    except Exception as exc:  # not fatal: saves and document events still update the index
        log.info("file watcher registration refused: %s", exc)


def _on_open(ls: TtaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    if (indexed := _indexed(ls, params.text_document.uri)) is not None:
        provider, path = indexed
        provider.document_opened(path, params.text_document.text)


def _on_change(ls: TtaLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    if (indexed := _indexed(ls, uri)) is None:
        return
    provider, path = indexed

    def text_of() -> str | None:
        doc = ls.editor.open_document(uri)
        return None if doc is None else doc.source

    provider.document_changed(path, text_of)


def _on_save(ls: TtaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    if path is None:
        return
    _disk_changed(ls, [path])
    provider = _provider(ls)
    if provider is not None:
        provider.document_saved(path)


def _disk_changed(ls: TtaLanguageServer, paths: list[Path]) -> None:
    """Files saved, created, changed or deleted: templates and rule files may be among them."""
    names = [str(p) for p in paths]
    prompt_files_changed(names)
    provider = _provider(ls)
    if provider is not None:
        provider.rules.files_changed(names)


def _on_close(ls: TtaLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    if (indexed := _indexed(ls, params.text_document.uri)) is not None:
        provider, path = indexed
        provider.document_closed(path)


def on_watched_files(ls: TtaLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
    changed: list[Path] = []
    deleted: list[Path] = []
    for event in params.changes:
        path = _path(event.uri)
        if path is None:
            continue
        (deleted if event.type == types.FileChangeType.Deleted else changed).append(path)
    _disk_changed(ls, changed + deleted)
    provider = _provider(ls)
    if provider is not None:
        provider.files_changed(changed, deleted)


async def _request_for(ls: TtaLanguageServer, params: GenerateParams) -> GenerationRequest:
    uri = params.text_document.uri
    opened = ls.editor.open_document(uri)
    if opened is not None:
        doc = opened
    else:
        path = _path(uri)
        if path is None:
            raise JsonRpcInvalidParams(f"tta.explainContext: {uri} is not a file")
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise JsonRpcInvalidParams(
                f"tta.explainContext: cannot read {path}: {exc.strerror}; open it first"
            ) from exc
        doc = TextDocument(uri, text)
    request = generate_request(doc, offset_in(doc, params.position, "position"), params)
    if params.tests:
        request.kind = "tests"
    return request


async def cmd_explain_context(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(GenerateParams, args, "tta.explainContext")
    request = await _request_for(ls, params)
    result = await ls.engine.gather_context(request)
    provider = _provider(ls)
    status = provider.status() if provider is not None else None
    answer: dict[str, Any] = {
        "text": result.text if result else "",
        "rules": result.rules if result else "",
        "max_tokens": result.max_tokens if result else ls.loaded.config.context.max_tokens,
        "used_tokens": result.used_tokens if result else 0,
        "parts": [asdict(p) for p in result.parts] if result else [],
        "index": {
            "enabled": bool(status and status.enabled),
            "ready": bool(status and status.ready),
            "files": status.files if status else 0,
        },
    }
    return answer
