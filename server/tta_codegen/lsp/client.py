"""The one door to the editor: every byte the server puts into a document passes here.

Streaming (``edit_session``), review (Discard, Regenerate), tests (``tta.generateTests``)
and the agent all write through :class:`EditorClient`: it knows what the client can do
(computed once, at ``initialize``), builds the ``WorkspaceEdit`` that client takes
(versioned ``TextDocumentEdit``\\ s when it can, else plain ``changes``), sends it, and
waits, when asked, for the ``didChange`` that echoes it. It also answers "is this
document open?" and turns ranges into the contract's JSON.

It must not know about generations, regions or reviews: callers decide *what* to write;
this module only knows *how* the editor is told. The one thing it does not do for its
callers is recognise their echo among the user's own changes: the streaming session does
that itself (it needs the region's offsets), and asks here only for ``confirm="applied"``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument

from tta_codegen.lsp.answers import RangeAnswer
from tta_codegen.lsp.documents import TextChange

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from tta_codegen.lsp.documents import DocumentTracker

log = logging.getLogger(__name__)

# "applied": the client's answer is enough. "echo": also wait (up to a timeout) for the
# didChange that moves the open document past the version the edit was made against.
Confirm = Literal["applied", "echo"]


class EditorRefused(Exception):
    """The client answered ``workspace/applyEdit`` with an error (not ``applied: false``)."""


@dataclass(frozen=True)
class EditorCapabilities:
    """What the client said it can do, read once from its ``initialize`` capabilities."""

    # Versioned TextDocumentEdits. Resource operations exist only inside documentChanges,
    # so a client that lists them takes those too: Neovim (0.11) does, without setting
    # documentChanges, and unversioned edits would land at stale positions while the user
    # types.
    versioned_edits: bool = False
    create_files: bool = False
    delete_files: bool = False
    code_lens_refresh: bool = False
    work_done_progress: bool = False
    configuration: bool = False
    watch_files: bool = False  # dynamic registration of workspace/didChangeWatchedFiles

    @classmethod
    def of(cls, caps: types.ClientCapabilities | None) -> EditorCapabilities:
        ws = caps.workspace if caps else None
        we = ws.workspace_edit if ws else None
        ops = set(we.resource_operations or []) if we else set()
        lens = ws.code_lens if ws else None
        watched = ws.did_change_watched_files if ws else None
        window = caps.window if caps else None
        return cls(
            versioned_edits=bool(we and (we.document_changes or ops)),
            create_files=types.ResourceOperationKind.Create in ops,
            delete_files=types.ResourceOperationKind.Delete in ops,
            code_lens_refresh=bool(lens and lens.refresh_support),
            work_done_progress=bool(window and window.work_done_progress),
            configuration=bool(ws and ws.configuration),
            watch_files=bool(watched and watched.dynamic_registration),
        )


def range_json(region: types.Range) -> dict[str, Any]:
    """A range as the contract's JSON ``{start: {line, character}, end: {...}}``, e.g. in a
    code action's command arguments."""
    return RangeAnswer.of(region).wire()


def same_uri(a: str, b: str) -> bool:
    """Clients differ in percent-encoding; pygls keys its documents by the decoded URI."""
    return unquote(a) == unquote(b)


class EditorClient:
    """The server's side of the editor: open documents, capabilities, and every edit."""

    def __init__(self, ls: LanguageServer, tracker: DocumentTracker) -> None:
        self.ls = ls
        self.tracker = tracker
        self.capabilities = EditorCapabilities()

    def initialize(self, caps: types.ClientCapabilities | None) -> None:
        self.capabilities = EditorCapabilities.of(caps)

    # -- documents -----------------------------------------------------------------------

    def is_open(self, uri: str) -> bool:
        return unquote(uri) in self.ls.workspace.text_documents

    def open_document(self, uri: str) -> TextDocument | None:
        """The editor's copy of ``uri``, or None when the editor has not opened it."""
        if not self.is_open(uri):
            return None
        return self.ls.workspace.get_text_document(uri)

    async def document_text(self, uri: str, path: str) -> str | None:
        """The editor's text if the document is open, else the file on disk (None if gone)."""
        doc = self.open_document(uri)
        if doc is not None:
            return doc.source
        try:
            return await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def detached(self, uri: str, text: str) -> TextDocument:
        """A document for ``text`` that the editor has not opened, for its positions."""
        return TextDocument(uri, text, position_codec=self.ls.workspace.position_codec)

    def moved(self, uri: str, version: int | None) -> bool:
        """Whether the open document left ``version`` (a didChange arrived), or closed."""
        doc = self.open_document(uri)
        return doc is None or doc.version != version

    # -- edits ---------------------------------------------------------------------------

    async def apply_edit(
        self,
        uri: str,
        edit: types.TextEdit,
        *,
        version: int | None = None,
        label: str = "tta-codegen",
        create: bool = False,
        confirm: Confirm = "applied",
        confirm_timeout_s: float = 0.0,
    ) -> types.ApplyWorkspaceEditResult:
        """Replace ``edit.range`` of ``uri`` (made against ``version``) in one applyEdit.

        ``create`` first creates the file (``CreateFile``, ignored if it exists).
        ``confirm="echo"`` returns once the editor's didChange for an open document has
        arrived, or after ``confirm_timeout_s`` (logged: the next edit may then be refused
        as stale, and its caller retries). Raises :class:`EditorRefused` if the client
        answers with an error.
        """
        changes: list[Any] = []
        if create:
            changes.append(
                types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True))
            )
        if create or self.capabilities.versioned_edits:
            identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
            changes.append(types.TextDocumentEdit(text_document=identifier, edits=[edit]))
            workspace_edit = types.WorkspaceEdit(document_changes=changes)
        else:
            workspace_edit = types.WorkspaceEdit(changes={uri: [edit]})
        if confirm == "applied":
            return await self._send(workspace_edit, label)
        echoed = asyncio.Event()
        listener = _EchoListener(echoed)
        self.tracker.add(uri, listener)
        try:
            result = await self._send(workspace_edit, label)
            if result.applied and self.open_document(uri) is not None:
                await self._echo(uri, version, echoed, confirm_timeout_s)
            return result
        finally:
            self.tracker.remove(uri, listener)

    async def delete_file(self, uri: str, *, label: str) -> types.ApplyWorkspaceEditResult:
        """Delete ``uri`` (ignored if it is already gone); the editor asks if it is unsaved."""
        operation = types.DeleteFile(
            uri=uri, options=types.DeleteFileOptions(ignore_if_not_exists=True)
        )
        return await self._send(types.WorkspaceEdit(document_changes=[operation]), label)

    async def _send(self, edit: types.WorkspaceEdit, label: str) -> types.ApplyWorkspaceEditResult:
        try:
            return await self.ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client answered with an error
            raise EditorRefused(str(exc)) from exc

    async def _echo(
        self, uri: str, version: int | None, echoed: asyncio.Event, timeout_s: float
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.moved(uri, version):
            left = deadline - loop.time()
            if left <= 0:
                log.warning("no didChange confirmed the edit of %s", uri)
                return
            echoed.clear()
            try:
                await asyncio.wait_for(echoed.wait(), left)
            except TimeoutError:
                continue


@dataclass(eq=False)
class _EchoListener:
    """Wakes :meth:`EditorClient.apply_edit` on each change (or the close) of its document."""

    event: asyncio.Event

    def on_change(self, change: TextChange) -> None:
        self.event.set()

    def on_close(self) -> None:
        self.event.set()
