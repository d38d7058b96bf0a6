"""Our LSP protocol: pygls' own, plus change tracking and the raw command params.

pygls applies ``didChange`` to its copy before any user handler runs, which loses the
offsets each change had in the text it was made against; live regions need them, so
we observe each content change as it is applied. And a command handler only sees its
arguments, not the request's ``workDoneToken``, so the raw params are exposed through
a context variable the handler's task inherits.

It is also where hostile input stops (JSON-RPC 2.0, section 5.1): a body that is not JSON
is answered with a ``-32700`` Parse error, a message without a string ``method`` with a
``-32600`` Invalid Request, params that do not fit the method with ``-32602`` (``id: null``
when the id is unknown); each is one log line, and the server keeps serving. pygls alone
would answer none of these and log a traceback for each. Error answers and log lines cut
what they echo (:func:`excerpt`), so a megabyte argument never comes back as a megabyte.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Generator
from typing import Any
from urllib.parse import unquote

from cattrs import ClassValidationError, transform_error
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from tta_codegen.lsp.cancel import current_command
from tta_codegen.lsp.documents import DocumentTracker
from tta_codegen.lsp.textindex import IndexedWorkspace

log = logging.getLogger(__name__)

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602
EXCERPT_CHARS = 300  # of any text that echoes client input, in answers and log lines
NOT_JSON = (json.JSONDecodeError, UnicodeDecodeError)  # what json.loads raises for a bad body


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` if short, else its start and end around a count of what was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}… ({len(text) - 2 * half} characters cut) …{text[-half:]}"


class RejectedMessage(Exception):
    """A message that is not a valid JSON-RPC request: answered with ``code``, logged once."""

    def __init__(
        self, code: int, message: str, msg_id: int | str | None, *, answer: bool = True
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.msg_id = code, message, msg_id
        self.answer = answer  # False for a notification: JSON-RPC never answers those


def _valid_id(data: dict[str, Any]) -> int | str | None:
    msg_id = data.get("id")
    return msg_id if isinstance(msg_id, int | str) and not isinstance(msg_id, bool) else None


def _why(exc: JsonRpcException) -> str:
    """What did not fit, from cattrs' error under pygls' generic "Invalid Params"."""
    cause = exc.__cause__
    if isinstance(cause, ClassValidationError):
        with contextlib.suppress(Exception):  # best effort: the answer goes out regardless
            return "; ".join(transform_error(cause)[:3])
    return exc.message or "wrong shape"


class OneLineRejections(logging.Filter):
    """pygls logs a traceback for every bad message; for rejected input, one line is enough.

    Installed on pygls' loggers. Records about client errors (bad JSON, bad requests,
    invalid params) lose their traceback and are cut to :data:`EXCERPT_CHARS`; a real
    internal error keeps its traceback, which is what a bug report needs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (RejectedMessage, *NOT_JSON)) or str(record.msg).startswith(
            "Unable to deserialize message"
        ):
            return False  # answer_rejected logs the one line for these
        message = record.getMessage()
        client_error = isinstance(exc, (RejectedMessage, *NOT_JSON)) or (
            isinstance(exc, JsonRpcException) and not isinstance(exc, JsonRpcInternalError)
        )
        if exc is not None and client_error:
            message = f"{message}: {type(exc).__name__}: {exc}"
            record.exc_info, record.exc_text = None, None
        elif exc is None and "Traceback (most recent call last)" in message:
            # structure_message logs the traceback as text: keep its first and last line.
            lines = message.strip().splitlines()
            message = f"{lines[0]} {lines[-1]}"
        record.msg, record.args = excerpt(message), None
        return True


_ONE_LINE = OneLineRejections()
for _name in ("pygls.server", "pygls.protocol.json_rpc", "pygls.protocol.language_server"):
    logging.getLogger(_name).addFilter(_ONE_LINE)


class TrackingProtocol(LanguageServerProtocol):
    """The LSP protocol with change tracking for live regions."""

    tracker: DocumentTracker

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = DocumentTracker()

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls' decoding (called for every JSON object, innermost first), checked first."""
        if "jsonrpc" not in data:
            return data
        is_response = "method" not in data and ("result" in data or "error" in data)
        if not is_response and not isinstance(data.get("method"), str):
            raise RejectedMessage(
                INVALID_REQUEST, "Invalid Request: no method (a string) given", _valid_id(data)
            )
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            method = excerpt(str(data.get("method")), 80)
            code = INVALID_PARAMS if not is_response else INVALID_REQUEST
            raise RejectedMessage(
                code,
                f"Invalid params for {method}: {_why(exc)}",
                _valid_id(data),
                answer="id" in data and not is_response,  # never answer a response
            ) from exc

    def handle_message(self, message: Any) -> None:
        # Valid JSON that is no JSON-RPC object (an array, a number, no "jsonrpc": "2.0").
        if getattr(message, "jsonrpc", None) != "2.0":
            msg_id = _valid_id(message) if isinstance(message, dict) else None
            raise RejectedMessage(
                INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 object", msg_id
            )
        super().handle_message(message)

    def answer_rejected(self, error: Exception) -> bool:
        """Answer a message the reader could not take; False if ``error`` is not one."""
        if isinstance(error, RejectedMessage):
            code, message, msg_id = error.code, error.message, error.msg_id
        elif isinstance(error, NOT_JSON):
            code, message, msg_id = PARSE_ERROR, f"Parse error: {error}", None
        else:
            return False
        log.warning("rejected a message: %s", excerpt(message))
        if isinstance(error, RejectedMessage) and not error.answer:
            return True
        # A raw dict: JSON-RPC wants "id": null spelled out when the id is unknown.
        self._send_data(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": excerpt(message)}}
        )
        return True

    def _send_data(self, data: Any) -> None:
        # After `exit` pygls closes stdout, yet background work (indexing progress from
        # its thread, a stream's last edit) may still send. Each write to the closed
        # stream would fail and be reported with a traceback: a flood on stderr that can
        # fill the pipe and block the process on its way out. Nothing can reach the client
        # any more, so nothing is sent.
        stdout = getattr(self.writer, "_stdout", None)
        if stdout is not None and getattr(stdout, "closed", False):
            return
        super()._send_data(data)

    def _send_response(
        self,
        msg_id: Any,
        result: Any | None = None,
        error: types.ResponseError | None = None,
    ) -> None:
        # Every error answer passes here: cut what it echoes of the request.
        if error is not None and len(error.message) > EXCERPT_CHARS:
            error = types.ResponseError(
                code=error.code, message=excerpt(error.message), data=error.data
            )
        super()._send_response(msg_id, result, error)

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

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        result = yield from super().lsp_initialize(params)
        # pygls builds a plain Workspace in there; ours differs only in the documents it
        # makes (kept line index, lsp/textindex.py), and no document exists before now.
        self._workspace.__class__ = IndexedWorkspace
        return result

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
