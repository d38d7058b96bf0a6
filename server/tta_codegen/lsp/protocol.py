"""Our LSP protocol: pygls' own, plus change tracking and the raw command params.

pygls applies ``didChange`` to its copy before any user handler runs, which loses the
offsets each change had in the text it was made against; live regions need them, so
we observe each content change as it is applied. And a command handler only sees its
arguments, not the request's ``workDoneToken``, so the raw params are exposed through
a context variable the handler's task inherits.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from tta_codegen.lsp.cancel import current_command
from tta_codegen.lsp.documents import DocumentTracker


class TrackingProtocol(LanguageServerProtocol):
    """The LSP protocol with change tracking for live regions."""

    tracker: DocumentTracker

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = DocumentTracker()

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        ws = self.workspace
        if unquote(params.text_document.uri) not in ws.text_documents:
            return  # a change to a document that was never opened: nothing to update
        doc = ws.get_text_document(params.text_document.uri)
        for change in params.content_changes:
            self.tracker.apply(doc, params.text_document, change, ws.update_text_document)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        current_command.set(params)
        return (yield from super().lsp_workspace__execute_command(params))

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        # pygls cancels pending requests while iterating the dict their callbacks edit
        # ("dictionary changed size during iteration"); iterate over a copy instead.
        if (handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        self.workspace.remove_text_document(params.text_document.uri)
        self.tracker.closed(params.text_document.uri)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None
