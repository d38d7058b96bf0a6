"""``textDocument/inlineCompletion`` (LSP 3.18) and ``tta.completionAccepted``.

A thin handler over ``completion.service``: it reads the document and cursor, asks the
service, and turns the suggestion into an ``InlineCompletionItem`` whose ``range`` covers
what the user already typed of it. Each item carries the ``tta.completionAccepted``
command, which an editor runs when the user accepts (LSP has no accept event).

Every suggestion answered is also an outcome (``lsp.outcomes.inline_offered``): accepted
when that command arrives, dismissed when another takes its place. It is offered once the
answer has gone out, so neither the dict write nor the dismissed row's write (a worker
thread sharing the interpreter) runs between the model's text and the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, Field
from pygls.uris import to_fs_path

from tta_codegen.completion.context import workspace_snippets
from tta_codegen.completion.service import CompletionService
from tta_codegen.context.provider import WorkspaceContext
from tta_codegen.engine import language_for
from tta_codegen.lsp import outcomes
from tta_codegen.lsp.params import parse_params
from tta_codegen.lsp.positions import position_at
from tta_codegen.lsp.server import TtaLanguageServer

ACCEPTED = "tta.completionAccepted"

# One per server process: its cache and live requests outlive config reloads.
service = CompletionService()


def register(server: TtaLanguageServer) -> None:
    server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(
        on_inline_completion
    )
    server.command(ACCEPTED)(cmd_completion_accepted)
    server.feature(ACCEPTED)(on_completion_accepted)
    server.on_close.append(_closed)


class AcceptedParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    model: str | None = None
    chars: int = Field(default=0, ge=0)


async def on_inline_completion(
    ls: TtaLanguageServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList:
    uri = params.text_document.uri
    if not ls.editor.is_open(uri) and uri not in ls.workspace.text_documents:
        return types.InlineCompletionList(items=[])
    doc = ls.workspace.get_text_document(uri)
    config = ls.loaded.config.completion
    offset = doc.offset_at_position(params.position)
    path = to_fs_path(uri)
    provider = ls.context_provider
    index = provider.index if isinstance(provider, WorkspaceContext) else None
    if index is not None and not index.ready:
        index = None

    async def snippets(code: str) -> list[str]:
        return await workspace_snippets(
            index,
            code,
            path,
            limit=config.context_snippets,
            max_lines=config.context_snippet_lines,
        )

    asked = time.time()
    answered = asyncio.current_task()  # this request's task: done once the answer is sent
    language = language_for(doc.path, doc.language_id)
    suggestion = await service.complete(
        ls.engine.router,
        config,
        uri,
        doc.source,
        offset,
        language,
        path=path,
        snippets=snippets,
        answered=answered,
    )
    if suggestion is None:
        return types.InlineCompletionList(items=[])
    s = suggestion
    _after_answer(
        answered,
        lambda: outcomes.inline_offered(ls, uri, s.id, s.start, s.text, s.model, language, asked),
    )
    accepted = {"id": suggestion.id, "model": suggestion.model, "chars": len(suggestion.text)}
    item = types.InlineCompletionItem(
        insert_text=suggestion.text,
        range=types.Range(position_at(doc, suggestion.start), params.position),
        command=types.Command(title="Accepted", command=ACCEPTED, arguments=[accepted]),
    )
    return types.InlineCompletionList(items=[item])


def _after_answer(answered: asyncio.Future[Any] | None, fn: Callable[[], None]) -> None:
    """Run ``fn`` once this request's answer has gone out: done callbacks run in the order
    they were added, and pygls added the one that sends the answer first."""
    if answered is None:
        fn()
    else:
        answered.add_done_callback(lambda _: fn())


async def cmd_completion_accepted(ls: TtaLanguageServer, *args: Any) -> dict[str, Any]:
    params = parse_params(AcceptedParams, args, ACCEPTED)
    outcomes.inline_accepted(ls, params.id)
    model = await service.accepted(ls.engine.router, params.id, params.model, params.chars)
    return {"recorded": model is not None, "model": model}


async def on_completion_accepted(ls: TtaLanguageServer, params: Any) -> None:
    """The same report as a notification, for clients that prefer not to wait."""
    raw = params if isinstance(params, dict) else getattr(params, "__dict__", {})
    p = AcceptedParams.model_validate(raw)
    outcomes.inline_accepted(ls, p.id)
    await service.accepted(ls.engine.router, p.id, p.model, p.chars)


def _closed(ls: TtaLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    service.forget(params.text_document.uri)
    outcomes.inline_closed(ls, params.text_document.uri)
