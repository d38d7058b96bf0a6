"""Cancellation and progress for long commands, working around pygls' command model.

pygls runs an ``executeCommand`` handler as a separate task under a fresh id; on
``$/cancelRequest`` it cancels only the outer future and answers RequestCancelled at
once, while the handler keeps running. We link the outer future (and the progress
token's future, which ``window/workDoneProgress/cancel`` cancels) to the handler's
task so that either kind of cancel really stops the work.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from concurrent.futures import Future as ThreadFuture
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from tta_codegen.background import spawn_after_path

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

# The ExecuteCommandParams of the command being handled (for its workDoneToken).
current_command: contextvars.ContextVar[types.ExecuteCommandParams | None] = contextvars.ContextVar(
    "tta_current_command", default=None
)

AnyFuture = asyncio.Future[Any] | ThreadFuture[Any]


def link_cancellation(ls: LanguageServer, task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` when the client cancels the executeCommand request."""
    msg_id = ls.protocol.msg_id
    outer = ls.protocol._request_futures.get(msg_id) if msg_id is not None else None
    if outer is not None:
        _watch(outer, task)


def _watch(fut: AnyFuture, task: asyncio.Task[Any]) -> None:
    def on_done(f: AnyFuture) -> None:
        if f.cancelled() and not task.done():
            task.cancel()

    fut.add_done_callback(on_done)


class CommandProgress:
    """A command's cancellable work-done progress, bound to its task; throttled reports.

    (Not :class:`tta_codegen.context.provider.Progress`, the index's file-count callback.)
    """

    def __init__(self, ls: TtaLanguageServer, task: asyncio.Task[Any], title: str) -> None:
        self.ls = ls
        self.task = task
        self.title = title
        self.token: str | int | None = None
        self._last = 0.0
        self._last_message = ""
        self._ended = False

    async def begin(self, client_token: str | int | None, message: str) -> None:
        """Show the progress; never delays the work it reports on.

        A token the client sent is used at once. Otherwise the server must ask the client
        to create one, a round trip: that happens in the background once a generation's
        provider request is written (``background.after_path``), and the progress appears
        when the client has answered.
        """
        if client_token is not None:
            self._start(client_token, message)
            return
        if not self.ls.editor.capabilities.work_done_progress:
            return
        spawn_after_path(self._create_then_start(message))

    async def _create_then_start(self, message: str) -> None:
        token = str(uuid.uuid4())
        try:
            await self.ls.work_done_progress.create_async(token)
        except Exception:  # the client refused: carry on without progress
            return
        if self._ended:
            self.ls.work_done_progress.tokens.pop(token, None)
            return
        self._start(token, self._last_message or message)

    def _start(self, token: str | int, message: str) -> None:
        self.token = token
        self.ls.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(title=self.title, message=message, cancellable=True),
        )
        fut = self.ls.work_done_progress.tokens.get(token)
        if fut is not None:
            _watch(fut, self.task)

    def report(self, message: str, *, force: bool = False) -> None:
        if self.token is None:
            self._last_message = message  # shown as soon as the progress exists
            return
        if message == self._last_message:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.1:
            return
        self._last, self._last_message = now, message
        self.ls.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=message, cancellable=True)
        )

    def end(self, message: str) -> None:
        self._ended = True
        if self.token is None:
            return
        self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        # pygls never forgets tokens; drop ours so a long session does not grow.
        self.ls.work_done_progress.tokens.pop(self.token, None)
        self.token = None
