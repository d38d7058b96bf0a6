"""The OpenHands backend, over its V0 REST API (as of 0.62), on httpx.

``POST /api/conversations`` with ``{"initial_user_msg": ...}`` starts a task (the server
refuses any other key); ``GET /api/conversations/{id}/events?start_id=&limit=`` pages
through its events (``{"events": [...], "has_more": bool}``); ``POST .../stop`` stops it.
An event is an action (``action`` + ``args``) or an observation (``observation`` +
``content`` + ``extras``); names are shared between the two, so the key decides. A file
change is applied when the sandbox confirms it (the ``write``/``edit`` observation whose
``cause`` is the action), never on the action alone, because a failed edit answers with
an ``error`` observation instead. The run ends on an ``agent_state_changed`` observation
(finished / error / stopped / awaiting_user_input) or when one of our guards fires: the
loop detector, the time limit, the idle limit (a hung agent), max iterations or the cost
cap. Every guard stops the conversation on the server before the run reports its end.

The key comes from the env var the config names and goes only into request headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tta_codegen.agents.edits import AgentEditError, sandbox_relative
from tta_codegen.agents.events import (
    AgentEnded,
    AgentEvent,
    AgentStarted,
    AgentStep,
    AgentTask,
    EditOp,
    EndReason,
    FileChange,
    Health,
    InsertText,
    Outcome,
    ReplaceText,
    WriteFile,
)
from tta_codegen.agents.guards import CONDENSATION_ACTIONS, LoopGuard
from tta_codegen.agents.settings import OpenHandsSettings
from tta_codegen.models.base import Usage

log = logging.getLogger(__name__)

PAGE_LIMIT = 100  # the server's maximum page size
_FILE_ACTIONS = frozenset({"write", "edit"})
# Agent states that end a run, and what each means for us.
_END_STATES: dict[str, tuple[Outcome, EndReason]] = {
    "finished": ("finished", "finished"),
    "awaiting_user_input": ("finished", "awaiting_user_input"),
    "error": ("failed", "agent_error"),
    "stopped": ("failed", "agent_stopped"),
    "rejected": ("failed", "agent_stopped"),
    "user_rejected": ("failed", "agent_stopped"),
}


class _Stop(Exception):
    """Ends the run with this reason (raised inside the loop, turned into AgentEnded)."""

    def __init__(self, outcome: Outcome, reason: EndReason, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.reason = reason
        self.message = message


class OpenHandsBackend:
    """One OpenHands server; a fresh conversation per task."""

    name = "openhands"

    def __init__(
        self, settings: OpenHandsSettings, *, environ: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        env = os.environ if environ is None else environ
        self._key = env.get(settings.api_key_env) if settings.api_key_env else None
        self.base_url = settings.base_url.rstrip("/")
        # trust_env=False: never send the key through an ambient proxy.
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._auth_headers(),
            timeout=settings.request_timeout_s,
            trust_env=False,
        )

    def _auth_headers(self) -> dict[str, str]:
        if not self._key:
            return {}
        if self.settings.auth == "bearer":
            return {"Authorization": f"Bearer {self._key}"}
        return {"X-Session-API-Key": self._key}

    def auth_problem(self, status: int) -> str:
        env = self.settings.api_key_env
        if self._key:
            return f"OpenHands at {self.base_url} refused the key in {env} (HTTP {status})"
        hint = f"set {env}" if env else "set [agents.openhands] api_key_env"
        return f"OpenHands at {self.base_url} wants a key (HTTP {status}): {hint}"

    async def health(self) -> Health:
        """``GET /api/options/config`` (public, cheap) then ``GET /api/conversations``
        (authenticated) so a wrong key shows here, not in the middle of a task."""
        timeout = self.settings.health_timeout_s
        try:
            r = await self._client.get("/api/options/config", timeout=timeout)
            if r.status_code != 200:
                return Health(False, f"{self.base_url}/api/options/config: HTTP {r.status_code}")
            r = await self._client.get("/api/conversations", params={"limit": 1}, timeout=timeout)
        except httpx.TimeoutException:
            return Health(False, f"{self.base_url}: no answer within {timeout:g}s")
        except httpx.HTTPError as exc:
            return Health(False, f"cannot reach {self.base_url} ({type(exc).__name__})")
        if r.status_code in (401, 403):
            return Health(False, self.auth_problem(r.status_code))
        if r.status_code != 200:
            return Health(False, f"{self.base_url}/api/conversations: HTTP {r.status_code}")
        return Health(True, f"{self.base_url} answers")

    def start(self, task: AgentTask) -> OpenHandsRun:
        return OpenHandsRun(self, task)

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class _Progress:
    iterations: int = 0
    cost_usd: float = 0.0
    usage: Usage = field(default_factory=Usage)
    last_message: str = ""
    agent_seen: bool = False
    # Confirmation pending: action id -> (path, op) of a file change.
    pending: dict[int, tuple[str, EditOp]] = field(default_factory=dict)


class OpenHandsRun:
    def __init__(self, backend: OpenHandsBackend, task: AgentTask) -> None:
        self.backend = backend
        self.task = task
        self._task_id: str | None = None
        self._stopped = False
        self._progress = _Progress()
        self.guard = LoopGuard(backend.settings.condensation_limit, backend.settings.repeat_limit)

    @property
    def task_id(self) -> str | None:
        return self._task_id

    @property
    def _client(self) -> httpx.AsyncClient:
        return self.backend._client

    async def cancel(self) -> None:
        """``POST /api/conversations/{id}/stop``, once; errors are logged, not raised."""
        if self._task_id is None or self._stopped:
            return
        self._stopped = True
        try:
            r = await self._client.post(
                f"/api/conversations/{self._task_id}/stop",
                timeout=min(5.0, self.backend.settings.request_timeout_s),
            )
            if r.status_code >= 400:
                log.warning("OpenHands stop of %s: HTTP %s", self._task_id, r.status_code)
        except httpx.HTTPError as exc:
            log.warning("OpenHands stop of %s failed: %s", self._task_id, type(exc).__name__)

    def _ended(self, outcome: Outcome, reason: EndReason, message: str) -> AgentEnded:
        p = self._progress
        return AgentEnded(
            outcome=outcome,
            reason=reason,
            message=message,
            iterations=p.iterations,
            cost_usd=p.cost_usd,
            usage=Usage(p.usage.prompt_tokens, p.usage.completion_tokens),
        )

    async def events(self) -> AsyncGenerator[AgentEvent, None]:
        s = self.backend.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.time_limit_s
        agent_ended = False  # the agent stopped itself: nothing left to stop
        try:
            try:
                self._task_id = await self._create(deadline)
            except _Stop as stop:
                yield self._ended(stop.outcome, stop.reason, stop.message)
                return
            yield AgentStarted(self._task_id)
            last_event_at = loop.time()
            next_id = 0
            while True:
                try:
                    now = loop.time()
                    if now >= deadline:
                        raise _Stop(
                            "failed",
                            "time_limit",
                            f"the agent did not finish within {s.time_limit_s:g}s "
                            "([agents.openhands] time_limit_s); stopped it",
                        )
                    if now - last_event_at >= s.idle_timeout_s:
                        raise _Stop(
                            "failed",
                            "idle_timeout",
                            f"the agent sent nothing for {s.idle_timeout_s:g}s (hung); "
                            "stopped it ([agents.openhands] idle_timeout_s)",
                        )
                    budget = min(deadline, last_event_at + s.idle_timeout_s) - now
                    page = await self._page(next_id, budget)
                    if page is not None:
                        events, has_more = page
                        if events:
                            last_event_at = loop.time()
                        for raw in events:
                            event_id = raw.get("id")
                            if isinstance(event_id, int) and event_id >= next_id:
                                next_id = event_id + 1
                            else:  # ids must grow; otherwise we would re-read forever
                                next_id += 1
                            for out in self._handle(raw):
                                yield out
                        if has_more:
                            continue
                    wait = min(
                        s.poll_interval_s,
                        deadline - loop.time(),
                        last_event_at + s.idle_timeout_s - loop.time(),
                    )
                    if wait > 0:
                        await asyncio.sleep(wait)
                except _Stop as stop:
                    # Stop it even after a clean finish: its sandbox stays up until stopped.
                    agent_ended = stop.reason == "agent_stopped"
                    if not agent_ended:
                        await asyncio.shield(self.cancel())
                    yield self._ended(stop.outcome, stop.reason, stop.message)
                    return
        finally:
            # Closed early (the caller was cancelled or stopped reading): stop the agent too.
            if not agent_ended and self._task_id is not None and not self._stopped:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.cancel())

    async def _create(self, deadline: float) -> str:
        timeout = max(0.5, min(self.backend.settings.request_timeout_s, deadline - _now()))
        base = self.backend.base_url
        try:
            r = await self._client.post(
                "/api/conversations",
                json={"initial_user_msg": self.task.description},
                timeout=timeout,
            )
        except httpx.TimeoutException as exc:
            raise _Stop(
                "failed", "unavailable", f"OpenHands at {base} did not answer in {timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise _Stop(
                "failed", "unavailable", f"cannot reach OpenHands at {base} ({type(exc).__name__})"
            ) from exc
        if r.status_code in (401, 403):
            raise _Stop("failed", "unauthorized", self.backend.auth_problem(r.status_code))
        body = _json(r)
        if r.status_code >= 400 or not isinstance(body, dict):
            raise _Stop(
                "failed",
                "unavailable",
                f"OpenHands refused to start the task: HTTP {r.status_code} {_detail(r)}",
            )
        cid = body.get("conversation_id")
        if body.get("status", "ok") != "ok" or not isinstance(cid, str) or not cid:
            message = body.get("message") or _detail(r)
            raise _Stop("failed", "unavailable", f"OpenHands did not start the task: {message}")
        return cid

    async def _page(self, start_id: int, budget: float) -> tuple[list[dict[str, Any]], bool] | None:
        """One page of events, or None on a transient failure (the idle limit decides)."""
        timeout = max(0.2, min(self.backend.settings.request_timeout_s, budget))
        try:
            r = await self._client.get(
                f"/api/conversations/{self._task_id}/events",
                params={"start_id": start_id, "limit": PAGE_LIMIT},
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            log.info("OpenHands events: %s (will retry)", type(exc).__name__)
            return None
        if r.status_code in (401, 403):
            raise _Stop("failed", "unauthorized", self.backend.auth_problem(r.status_code))
        if r.status_code == 404:
            raise _Stop(
                "failed", "protocol", f"OpenHands lost the conversation {self._task_id} (HTTP 404)"
            )
        if r.status_code >= 400:
            log.info("OpenHands events: HTTP %s (will retry)", r.status_code)
            return None
        body = _json(r)
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            raise _Stop("failed", "protocol", "OpenHands answered events without an event list")
        has_more = bool(body.get("has_more")) if isinstance(body, dict) else False
        return [e for e in events if isinstance(e, dict)], has_more

    def _handle(self, raw: dict[str, Any]) -> list[AgentEvent]:
        """Turn one wire event into ours; raises _Stop when the run must end."""
        p = self._progress
        s = self.backend.settings
        self._account(raw)
        verdict = self.guard.observe(raw)
        if verdict is not None:
            raise _Stop("failed", verdict.reason, verdict.message)
        out: list[AgentEvent] = []
        if "action" in raw:
            action = str(raw.get("action"))
            if raw.get("source") != "agent":
                return out
            p.agent_seen = True
            args = raw.get("args") if isinstance(raw.get("args"), dict) else {}
            assert isinstance(args, dict)
            if action in CONDENSATION_ACTIONS:
                n = self.guard.condensations_in_a_row
                return [AgentStep(p.iterations, action, f"condensing its context ({n} in a row)")]
            if p.iterations >= s.max_iterations:
                raise _Stop(
                    "failed",
                    "max_iterations",
                    f"the agent used all {s.max_iterations} steps without finishing "
                    "([agents.openhands] max_iterations); stopped it",
                )
            p.iterations += 1
            if action == "message":
                p.last_message = str(args.get("content") or p.last_message)
            elif action == "finish":
                p.last_message = str(
                    args.get("final_thought") or args.get("thought") or p.last_message
                )
            out.append(AgentStep(p.iterations, action, _summary(raw, action, args)))
            if action in _FILE_ACTIONS:
                out.extend(self._remember_change(raw, action, args))
            return out
        observation = raw.get("observation")
        cause = raw.get("cause")
        extras = raw.get("extras") if isinstance(raw.get("extras"), dict) else {}
        assert isinstance(extras, dict)
        if observation in _FILE_ACTIONS and isinstance(cause, int) and cause in p.pending:
            path, op = p.pending.pop(cause)
            try:
                out.append(FileChange(sandbox_relative(path, s.sandbox_root), op))
            except AgentEditError as exc:  # checked at the action already; belt and braces
                out.append(AgentStep(p.iterations, "refused", str(exc)))
        elif observation == "error" and isinstance(cause, int):
            p.pending.pop(cause, None)  # the sandbox refused the edit: nothing changed
        elif observation == "agent_state_changed":
            state = str(extras.get("agent_state") or "")
            end = _END_STATES.get(state)
            # A new conversation may wait for input before the agent has done anything.
            if end is not None and (p.agent_seen or state != "awaiting_user_input"):
                outcome, reason = end
                raise _Stop(outcome, reason, self._end_message(reason, extras))
        return out

    def _remember_change(
        self, raw: dict[str, Any], action: str, args: dict[str, Any]
    ) -> list[AgentEvent]:
        p = self._progress
        path = args.get("path")
        event_id = raw.get("id")
        if not isinstance(path, str) or not isinstance(event_id, int):
            return []
        try:
            sandbox_relative(path, self.backend.settings.sandbox_root)
        except AgentEditError as exc:
            return [AgentStep(p.iterations, "refused", str(exc))]
        op, problem = _file_op(action, args)
        if problem:
            return [AgentStep(p.iterations, "skipped", f"{path}: {problem}")]
        if op is not None:
            p.pending[event_id] = (path, op)
        return []

    def _account(self, raw: dict[str, Any]) -> None:
        metrics = raw.get("llm_metrics")
        if not isinstance(metrics, dict):
            return
        p = self._progress
        cost = metrics.get("accumulated_cost")
        if isinstance(cost, int | float) and cost > p.cost_usd:
            p.cost_usd = float(cost)
        tokens = metrics.get("accumulated_token_usage")
        if isinstance(tokens, dict):
            pt, ct = tokens.get("prompt_tokens"), tokens.get("completion_tokens")
            if isinstance(pt, int) and pt > p.usage.prompt_tokens:
                p.usage.prompt_tokens = pt
            if isinstance(ct, int) and ct > p.usage.completion_tokens:
                p.usage.completion_tokens = ct
        cap = self.backend.settings.max_cost_usd
        if cap is not None and p.cost_usd > cap:
            raise _Stop(
                "failed",
                "cost_cap",
                f"the agent spent ${p.cost_usd:.4f}, over the cap of ${cap:g} "
                "([agents.openhands] max_cost_usd); stopped it",
            )

    def _end_message(self, reason: EndReason, extras: dict[str, Any]) -> str:
        detail = str(extras.get("reason") or "").strip()
        if reason in ("finished", "awaiting_user_input"):
            return self._progress.last_message or "the agent finished"
        if reason == "agent_error":
            return "the agent failed: " + (detail or "no reason given")
        return "the agent was stopped on the OpenHands side" + (f": {detail}" if detail else "")


def _file_op(action: str, args: dict[str, Any]) -> tuple[EditOp | None, str | None]:
    """The edit an action asks for; (None, None) when it changes nothing (a view)."""
    if action == "write":
        content = args.get("content")
        return (WriteFile(content), None) if isinstance(content, str) else (None, "no content")
    command = args.get("command")
    if command == "create":
        text = args.get("file_text")
        return (WriteFile(text), None) if isinstance(text, str) else (None, "no file_text")
    if command == "str_replace":
        old, new = args.get("old_str"), args.get("new_str")
        if not isinstance(old, str):
            return None, "no old_str"
        return ReplaceText(old, new if isinstance(new, str) else ""), None
    if command == "insert":
        line, text = args.get("insert_line"), args.get("new_str")
        if not isinstance(line, int) or not isinstance(text, str):
            return None, "insert without insert_line/new_str"
        return InsertText(line, text), None
    if command == "view":
        return None, None
    return None, f"the {command or 'LLM-based'} edit cannot be mirrored into the editor"


def _summary(raw: dict[str, Any], action: str, args: dict[str, Any]) -> str:
    if action in _FILE_ACTIONS and isinstance(args.get("path"), str):
        verb = str(args.get("command") or action)
        return f"{verb} {args['path']}"
    if action == "run" and isinstance(args.get("command"), str):
        return "run: " + args["command"].splitlines()[0][:80] if args["command"] else "run"
    message = raw.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip().splitlines()[0][:100]
    return action


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _detail(r: httpx.Response) -> str:
    body = _json(r)
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("message") or body.get("error")
        if detail:
            return str(detail)[:300]
    return r.text[:300]


def _now() -> float:
    return asyncio.get_running_loop().time()


__all__ = ["OpenHandsBackend", "OpenHandsRun"]
