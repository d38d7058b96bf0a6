"""``tta.generate`` through the agent backend (OpenHands; postponed, see ADR-001).

``dispatch_agent`` decides, for one ``tta.generate``, whether the agent takes it (the
request said ``mode: "agent"``, or the task reads as multi-step) and whether it can
(enabled in config and healthy); when it cannot, it says why and the direct path runs.
``run_agent`` runs the task with a cancellable work-done progress that shows each of the
agent's steps, and mirrors every file change the agent makes as a ``workspace/applyEdit``
the user sees (a versioned ``TextDocumentEdit`` on an open document, ``CreateFile`` plus
an edit for a new one): nothing is ever written to disk behind the editor's back. As for
every generating command, cancel and failure (the agent failed, looped, hung, ran out of
time or money) put every touched document back exactly as it was; the answer is the
contract's answer object with ``model: "openhands"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.workspace import TextDocument

from tta_codegen.agents.base import AgentBackend
from tta_codegen.agents.edits import AgentEditError, replacement, workspace_file
from tta_codegen.agents.events import (
    AgentEnded,
    AgentStarted,
    AgentStep,
    AgentTask,
    FileChange,
    WriteFile,
)
from tta_codegen.agents.openhands import OpenHandsBackend
from tta_codegen.agents.routing import HealthCache, wants_agent
from tta_codegen.agents.settings import OpenHandsSettings
from tta_codegen.background import run_to_end
from tta_codegen.engine import Attempt, GenerationResult, Status
from tta_codegen.lsp.answers import AgentAnswer, AgentFileAnswer, GenerationAnswer
from tta_codegen.lsp.cancel import CommandProgress, current_command, link_cancellation
from tta_codegen.lsp.params import GenerateParams
from tta_codegen.lsp.positions import position_at

if TYPE_CHECKING:
    from tta_codegen.lsp.server import TtaLanguageServer

log = logging.getLogger(__name__)

MODEL = "openhands"
# One health check per endpoint every 30 s at most: routing must not add a round trip
# to every request.
health_cache = HealthCache()


def agent_settings(ls: TtaLanguageServer) -> OpenHandsSettings:
    return ls.loaded.config.agents.openhands


async def dispatch_agent(ls: TtaLanguageServer, params: GenerateParams) -> GenerationAnswer | None:
    """The agent's answer when it takes this request; None when the direct path should run.

    A disabled agent is never contacted. When the agent was asked for but cannot run, the
    user gets a message saying why before the direct model takes over.
    """
    wanted, reason = wants_agent(params.description, params.mode)
    if not wanted:
        return None
    settings = agent_settings(ls)
    if not settings.enabled:
        message = (
            f"tta-codegen: {reason}, but the agent backend is off ([agents.openhands] "
            "enabled = false; postponed, see ADR-001 in docs/adr): using the direct model."
        )
        if params.mode == "agent":
            _show(ls, types.MessageType.Warning, message)
        else:  # not asked for by name: say it in the log, not in a popup on every request
            ls.window_log_message(
                types.LogMessageParams(type=types.MessageType.Info, message=message)
            )
        return None
    backend = OpenHandsBackend(settings)
    try:
        health = await health_cache.check(settings.base_url, backend)
        if not health.ok:
            _show(
                ls,
                types.MessageType.Warning,
                f"tta-codegen: {reason}, but the OpenHands agent is unavailable "
                f"({health.detail}): using the direct model.",
            )
            return None
        return await run_agent(ls, params, reason, backend=backend)
    finally:
        await backend.aclose()


async def run_agent(
    ls: TtaLanguageServer,
    params: GenerateParams,
    reason: str,
    *,
    backend: AgentBackend | None = None,
) -> GenerationAnswer:
    """Run ``params.description`` as an agent task in the workspace; answer when done."""
    root = ls.workspace_root
    if root is None:
        return _answer("failed", error="the agent needs a workspace folder: open a folder first")
    if not ls.editor.capabilities.versioned_edits:
        return _answer(
            "failed",
            error="the editor does not accept versioned workspace edits (documentChanges), "
            "which the agent's file changes need",
        )
    settings = agent_settings(ls)
    own = backend is None
    agent: AgentBackend = backend if backend is not None else OpenHandsBackend(settings)
    task = asyncio.current_task()
    assert task is not None
    link_cancellation(ls, task)
    editor = AgentEditor(ls, root, ls.loaded.config.streaming.confirm_timeout_ms / 1000)
    run = agent.start(AgentTask(_task_text(ls, params, root, settings), str(root)))
    progress = CommandProgress(ls, task, "OpenHands agent")
    ended: AgentEnded | None = None
    try:
        command = current_command.get()
        token = command.work_done_token if command is not None else None
        await progress.begin(token or params.work_done_token, f"starting: {reason}")
        async with contextlib.aclosing(run.events()) as events:
            async for event in events:
                if isinstance(event, AgentStarted):
                    progress.report(f"task {event.task_id[:12]} started", force=True)
                elif isinstance(event, AgentStep):
                    progress.report(f"step {event.index}: {event.summary}")
                elif isinstance(event, FileChange):
                    try:
                        await editor.apply(event)
                    except AgentEditError as exc:
                        await asyncio.shield(run.cancel())
                        ended = AgentEnded("failed", "protocol", str(exc))
                        break
                    progress.report(f"edited {event.path}", force=True)
                elif isinstance(event, AgentEnded):
                    ended = event
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(run.cancel())
        await editor.restore()
        progress.end("cancelled")
        return _answer("cancelled")
    except Exception as exc:  # an editor that errors on applyEdit, a bug: never a half state
        log.exception("agent run failed")
        with contextlib.suppress(Exception):
            await asyncio.shield(run.cancel())
        await editor.restore()
        progress.end("failed")
        return _answer("failed", error=f"the agent run failed: {exc}")
    finally:
        if own:
            await agent.aclose()
    if ended is None:
        ended = AgentEnded("failed", "protocol", "the agent stopped without saying how it ended")
    finished = ended.outcome == "finished"
    if finished:
        progress.end(f"done: {len(editor.files)} file(s) changed")
    else:
        await editor.restore()
        progress.end("failed")
        _show(ls, types.MessageType.Warning, f"tta-codegen: OpenHands agent: {ended.message}")
    how = AgentAnswer(
        task_id=run.task_id,
        reason=reason,
        end=ended.reason,
        files=editor.summary(root) if finished else [],
    )
    if finished:
        return _answer("completed", ended=ended, text=ended.message, agent=how)
    return _answer("failed", ended=ended, error=ended.message, agent=how)


def _answer(
    status: Status,
    *,
    ended: AgentEnded | None = None,
    text: str = "",
    error: str | None = None,
    agent: AgentAnswer | None = None,
) -> GenerationAnswer:
    result = GenerationResult(
        status=status,
        text=text,
        model=MODEL,
        attempts=[Attempt(MODEL, error)],
        error=error,
    )
    if ended is not None:
        result.usage = ended.usage
        result.cost_usd = ended.cost_usd
        result.iterations = ended.iterations
    return GenerationAnswer.of(result, agent=agent)


def _task_text(
    ls: TtaLanguageServer, params: GenerateParams, root: Path, settings: OpenHandsSettings
) -> str:
    where = ""
    doc = ls.editor.open_document(params.text_document.uri)
    if doc is not None:
        with contextlib.suppress(ValueError):
            rel = Path(doc.path).relative_to(root).as_posix()
            where = f" The user asked from {rel}, line {params.position.line + 1}."
    return (
        f"{params.description.strip()}\n\n"
        f"The project is the workspace at {settings.sandbox_root}.{where} "
        "Make the changes with your file editing tools, then finish; do not ask questions."
    )


def _show(ls: TtaLanguageServer, kind: types.MessageType, message: str) -> None:
    ls.window_show_message(types.ShowMessageParams(type=kind, message=message))


@dataclass
class _Touched:
    uri: str
    path: Path
    original: str | None  # None: the agent created the file


@dataclass
class AgentEditor:
    """Mirrors the agent's file changes into the editor and can take them all back."""

    ls: TtaLanguageServer
    root: Path
    confirm_timeout_s: float
    files: dict[Path, _Touched] = field(default_factory=dict)
    # What we last wrote to files the editor has not opened (it may not have saved them).
    _shadow: dict[Path, str] = field(default_factory=dict)

    async def apply(self, change: FileChange) -> None:
        path = await asyncio.to_thread(workspace_file, self.root, change.path)
        name = change.path.as_posix()
        for _ in range(3):
            doc = await self._open_document(path)
            if doc is not None:
                text: str | None = doc.source
                uri, version = doc.uri, doc.version
            else:
                text = self._shadow.get(path)
                if text is None:
                    text = await asyncio.to_thread(_read, path)
                uri, version = path.as_uri(), None
            if path not in self.files:
                self.files[path] = _Touched(uri, path, text)
            start, end, new = replacement(text, change.op, name)
            if text is not None and start == end and not new:
                return  # the file already has this content
            result = await self._send(
                uri, doc, text, start, end, new, version, f"OpenHands agent: {name}"
            )
            if result.applied:
                if doc is None:
                    self._shadow[path] = (text or "")[:start] + new + (text or "")[end:]
                return
            if doc is not None and self.ls.editor.moved(doc.uri, version):
                continue  # the user typed meanwhile: redo against the new text
            reason = result.failure_reason or "refused"
            raise AgentEditError(f"the editor did not apply the agent's edit of {name}: {reason}")
        raise AgentEditError(f"the editor kept rejecting the agent's edit of {name}")

    async def _send(
        self,
        uri: str,
        doc: TextDocument | None,
        text: str | None,
        start: int,
        end: int,
        new: str,
        version: int | None,
        label: str,
    ) -> types.ApplyWorkspaceEditResult:
        """One edit through the editor door; an open document's waits for its echo, so the
        next edit has its version. ``text`` None: the file is created first."""
        editor = self.ls.editor
        if text is None and not editor.capabilities.create_files:
            raise AgentEditError(
                f"the agent created {uri}, but the editor cannot create files "
                "through workspace edits"
            )
        shown = doc or editor.detached(uri, text or "")
        rng = types.Range(position_at(shown, start), position_at(shown, end))
        return await editor.apply_edit(
            uri,
            types.TextEdit(range=rng, new_text=new),
            version=version,
            label=label,
            create=text is None,
            confirm="echo",
            confirm_timeout_s=self.confirm_timeout_s,
        )

    async def _open_document(self, path: Path) -> TextDocument | None:
        docs = list(self.ls.workspace.text_documents.values())
        pairs: list[tuple[str, str]] = [(str(d.uri), str(d.path)) for d in docs]

        def find() -> str | None:
            for uri, doc_path in pairs:
                if doc_path and os.path.realpath(doc_path) == str(path):
                    return uri
            return None

        uri = await asyncio.to_thread(find)
        return self.ls.editor.open_document(uri) if uri is not None else None

    async def restore(self) -> None:
        """Put every touched file back (to the end: a second cancel must not stop it)."""
        await run_to_end(self._restore(), "restoring the agent's edits")

    async def _restore(self) -> None:
        for touched in reversed(list(self.files.values())):
            try:
                await self._restore_one(touched)
            except Exception as exc:  # keep restoring the others
                log.error("could not restore %s: %s", touched.uri, exc)
                _show(
                    self.ls,
                    types.MessageType.Error,
                    f"tta-codegen: could not undo the agent's change to {touched.path}: {exc}",
                )
        self.files.clear()

    async def _restore_one(self, touched: _Touched) -> None:
        if touched.original is None:
            # The agent created it: delete it again (the editor asks if it is unsaved).
            result = await self.ls.editor.delete_file(touched.uri, label="OpenHands agent: undo")
            if not result.applied:
                # Not deletable here: at least leave it empty, as it was (absent) in spirit.
                await self._set_text(touched, "")
            return
        await self._set_text(touched, touched.original)

    async def _set_text(self, touched: _Touched, text: str) -> None:
        for _ in range(3):
            doc = await self._open_document(touched.path)
            current = doc.source if doc is not None else self._shadow.get(touched.path)
            if current is None:
                current = await asyncio.to_thread(_read, touched.path) or ""
            if current == text:
                return
            version = doc.version if doc is not None else None
            start, end, new = replacement(current, WriteFile(text), touched.path.name)
            uri = doc.uri if doc else touched.uri
            result = await self._send(
                uri, doc, current, start, end, new, version, "OpenHands agent: undo"
            )
            if result.applied:
                if doc is None:
                    self._shadow[touched.path] = text
                return
        raise AgentEditError(f"the editor refused to restore {touched.path}")

    def summary(self, root: Path) -> list[AgentFileAnswer]:
        base = root.resolve()
        out: list[AgentFileAnswer] = []
        for t in self.files.values():
            try:
                rel = t.path.relative_to(base).as_posix()
            except ValueError:
                rel = str(t.path)
            out.append(AgentFileAnswer(path=rel, uri=t.uri, created=t.original is None))
        return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise AgentEditError(f"{path} is not UTF-8 text: the agent's edit is not mirrored") from exc
    except OSError as exc:
        raise AgentEditError(f"{path} cannot be read: {exc.strerror}") from exc


__all__ = ["AgentEditor", "dispatch_agent", "health_cache", "run_agent"]
