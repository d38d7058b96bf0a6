"""A fake OpenHands server (V0 REST API, as of 0.62) on 127.0.0.1, over real HTTP.

Like ``tests/fakes/provider.py`` it sits at the network edge: the backend under test
talks to it with httpx exactly as it would to a real server. What it does, as the real
one does:

- ``GET /api/options/config`` answers without auth; every ``/api/conversations`` route
  checks the key when one is set (``X-Session-API-Key``, or ``Authorization: Bearer``
  with ``auth="bearer"``) and answers 401 otherwise.
- ``POST /api/conversations`` accepts only the request model's keys (anything else is a
  422), stores the ``initial_user_msg`` as event 0 (a user ``message`` action) and answers
  ``{"status": "ok", "conversation_id": ..., "conversation_status": "STARTING"}``.
- ``GET /api/conversations/{id}/events?start_id=&limit=`` pages (``start_id`` inclusive,
  ``limit`` 1..100, else 400) with ``has_more``; ``GET /api/conversations/{id}`` gives the
  info (``status`` stays RUNNING after the agent finishes, as the real one does).
- ``POST /api/conversations/{id}/stop`` stops the scenario and records when.

The agent's behaviour is a *scenario*: a function of the initial message that yields
``(delay_seconds, event)`` pairs, played in the background after the conversation starts
(an infinite one is a storm; one that stops yielding is a hung agent). An observation
whose ``cause`` is :data:`LAST_ACTION` is linked to the action before it. Every request
is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.provider import _send_json

LAST_ACTION = -1
Step = tuple[float, dict[str, Any]]
Scenario = Callable[[str], Iterable[Step]]
# The fields of OpenHands' InitSessionRequest (0.62); the model forbids any other key.
CREATE_KEYS = frozenset(
    {
        "repository",
        "git_provider",
        "selected_branch",
        "initial_user_msg",
        "image_urls",
        "replay_json",
        "suggested_task",
        "create_microagent",
        "conversation_instructions",
        "mcp_config",
        "conversation_id",
    }
)


# -- event builders -----------------------------------------------------------------


def action(name: str, *, source: str = "agent", message: str = "", **args: Any) -> dict[str, Any]:
    return {"source": source, "message": message or name, "action": name, "args": args}


def observation(
    name: str, content: str = "", *, cause: int | None = LAST_ACTION, **extras: Any
) -> dict[str, Any]:
    return {
        "source": "environment" if name == "agent_state_changed" else "agent",
        "message": name,
        "cause": cause,
        "observation": name,
        "content": content,
        "extras": extras,
    }


def state(agent_state: str, reason: str = "") -> dict[str, Any]:
    return observation("agent_state_changed", cause=None, agent_state=agent_state, reason=reason)


def with_metrics(
    event: dict[str, Any], cost: float, prompt: int = 0, completion: int = 0
) -> dict[str, Any]:
    event["llm_metrics"] = {
        "accumulated_cost": cost,
        "max_budget_per_task": None,
        "accumulated_token_usage": {"prompt_tokens": prompt, "completion_tokens": completion},
        "costs": [],
        "response_latencies": [],
        "token_usages": [],
    }
    return event


def create_file(path: str, text: str) -> list[dict[str, Any]]:
    """What CodeActAgent emits to create a file: an ``edit`` action and its observation."""
    return [
        action("edit", message=f"create {path}", path=path, command="create", file_text=text),
        observation("edit", f"File created successfully at: {path}", path=path, prev_exist=False),
    ]


def str_replace(path: str, old: str, new: str) -> list[dict[str, Any]]:
    return [
        action("edit", path=path, command="str_replace", old_str=old, new_str=new),
        observation("edit", f"The file {path} has been edited.", path=path, prev_exist=True),
    ]


# -- scenarios ----------------------------------------------------------------------


def script(events: Iterable[dict[str, Any]], delay: float = 0.02) -> Scenario:
    """Play ``events`` once, ``delay`` apart, then go quiet (as a finished agent does)."""
    items = list(events)

    def play(_msg: str) -> Iterator[Step]:
        for event in items:
            yield delay, json.loads(json.dumps(event))

    return play


def storm(delay: float = 0.02) -> Scenario:
    """Issue #8630: the agent condenses its context forever and never edits a file."""

    def play(_msg: str) -> Iterator[Step]:
        yield delay, state("running")
        yield delay, action("run", command="ls /workspace")
        yield delay, observation("run", "a.py", command="ls /workspace", exit_code=0)
        for i in itertools.count():
            kind = "condensation_request" if i % 2 == 0 else "condensation"
            yield delay, with_metrics(action(kind), cost=0.001 * (i + 1))

    return play


def repeat(delay: float = 0.02) -> Scenario:
    """The agent runs the same command again and again."""

    def play(_msg: str) -> Iterator[Step]:
        yield delay, state("running")
        while True:
            yield delay, action("run", command="cat /workspace/a.py", thought="look again")
            yield delay, observation("run", "x = 1\n", command="cat /workspace/a.py")

    return play


def hang(prefix: Iterable[dict[str, Any]] = ()) -> Scenario:
    """The agent starts, then sends nothing ever again (its loop is stuck)."""
    return script([state("running"), action("think", thought="hmm"), *prefix])


def fail(reason: str) -> Scenario:
    return script(
        [state("running"), action("run", command="pytest"), state("error", reason=reason)]
    )


def busy(cost_step: float, delay: float = 0.02) -> Scenario:
    """The agent works (different commands) forever, spending ``cost_step`` a step."""

    def play(_msg: str) -> Iterator[Step]:
        yield delay, state("running")
        for i in itertools.count():
            yield (
                delay,
                with_metrics(
                    action("run", command=f"echo {i}"),
                    cost_step * (i + 1),
                    100 * (i + 1),
                    10 * (i + 1),
                ),
            )
            yield delay, observation("run", str(i), command=f"echo {i}", exit_code=0)

    return play


# -- the server ---------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class Conversation:
    id: str
    initial_msg: str
    events: list[dict[str, Any]] = field(default_factory=list)
    status: str = "RUNNING"
    stopped_at: float | None = None
    player: asyncio.Task[None] | None = None
    last_action_id: int | None = None

    def append(self, event: dict[str, Any]) -> None:
        event = dict(event)
        event["id"] = len(self.events)
        event["timestamp"] = datetime.now(UTC).isoformat()
        if "action" in event:
            self.last_action_id = event["id"]
        elif event.get("cause") == LAST_ACTION:
            event["cause"] = self.last_action_id
        if event.get("cause") is None:
            event.pop("cause", None)
        self.events.append(event)


class FakeOpenHands:
    def __init__(self, *, api_key: str | None = None, auth: str = "session") -> None:
        self.api_key = api_key
        self.auth = auth
        self.scenario: Scenario = script([state("running"), action("finish"), state("finished")])
        self.requests: list[Recorded] = []
        self.conversations: dict[str, Conversation] = {}
        self.port = 0
        self.healthy = True
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stops(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/stop")]

    def only(self) -> Conversation:
        assert len(self.conversations) == 1, list(self.conversations)
        return next(iter(self.conversations.values()))

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for conv in self.conversations.values():
            if conv.player is not None:
                conv.player.cancel()
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            # Not a guard that fails a test: every connection was just aborted, and a
            # handler still finishing (a busy machine) must not hold up the teardown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                parts = urlsplit(target)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                req = Recorded(method, parts.path, query, headers, body, time.perf_counter())
                self.requests.append(req)
                status, data = self._route(req)
                await _send_json(writer, status, data)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    def _authorized(self, req: Recorded) -> bool:
        if not self.api_key:
            return True
        if self.auth == "bearer":
            return req.headers.get("authorization") == f"Bearer {self.api_key}"
        return req.headers.get("x-session-api-key") == self.api_key

    def _route(self, req: Recorded) -> tuple[int, Any]:
        path = req.path.rstrip("/")
        if req.method == "GET" and path == "/api/options/config":
            if not self.healthy:
                return 503, {"detail": "starting up"}
            return 200, {"APP_MODE": "oss", "APP_SLUG": None, "FEATURE_FLAGS": {}}
        if not path.startswith("/api/conversations"):
            return 404, {"detail": "Not Found"}
        if not self._authorized(req):
            return 401, {"detail": "Invalid session API key"}
        parts = path.split("/")[3:]  # after /api/conversations
        if not parts:
            if req.method == "POST":
                return self._create(req)
            if req.method == "GET":
                return 200, {"results": [], "next_page_id": None}
            return 405, {"detail": "Method Not Allowed"}
        conv = self.conversations.get(parts[0])
        if conv is None:
            return 404, {"detail": f"Conversation not found: {parts[0]}"}
        rest = parts[1:]
        if not rest and req.method == "GET":
            return 200, {
                "conversation_id": conv.id,
                "title": conv.initial_msg[:30],
                "status": conv.status,
                "runtime_status": "STATUS$READY",
            }
        if rest == ["events"] and req.method == "GET":
            return self._events(conv, req)
        if rest == ["stop"] and req.method == "POST":
            return self._stop(conv)
        return 404, {"detail": "Not Found"}

    def _create(self, req: Recorded) -> tuple[int, Any]:
        body = req.body if isinstance(req.body, dict) else {}
        unknown = sorted(set(body) - CREATE_KEYS)
        if unknown:
            detail = [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", k],
                    "msg": "Extra inputs are not permitted",
                }
                for k in unknown
            ]
            return 422, {"detail": detail}
        msg = body.get("initial_user_msg") or ""
        conv = Conversation(uuid.uuid4().hex, msg)
        conv.append(state("loading"))
        conv.append(action("message", source="user", content=msg))
        self.conversations[conv.id] = conv
        conv.player = asyncio.ensure_future(self._play(conv))
        return 200, {"status": "ok", "conversation_id": conv.id, "conversation_status": "STARTING"}

    async def _play(self, conv: Conversation) -> None:
        for delay, event in self.scenario(conv.initial_msg):
            if delay:
                await asyncio.sleep(delay)
            if conv.stopped_at is not None:
                return
            conv.append(event)

    def _events(self, conv: Conversation, req: Recorded) -> tuple[int, Any]:
        try:
            start = int(req.query.get("start_id", "0"))
            limit = int(req.query.get("limit", "20"))
        except ValueError:
            return 422, {"detail": "start_id and limit must be integers"}
        if limit < 1 or limit > 100:
            return 400, {"detail": "Invalid limit"}
        matching = [e for e in conv.events if e["id"] >= start]
        return 200, {"events": matching[:limit], "has_more": len(matching) > limit}

    def _stop(self, conv: Conversation) -> tuple[int, Any]:
        if conv.stopped_at is None:
            conv.stopped_at = time.perf_counter()
            if conv.player is not None:
                conv.player.cancel()
            conv.status = "STOPPED"
            conv.append(state("stopped"))
        return 200, {"status": "ok", "conversation_id": conv.id, "message": "stopped"}


__all__ = [
    "LAST_ACTION",
    "Conversation",
    "FakeOpenHands",
    "Recorded",
    "action",
    "busy",
    "create_file",
    "fail",
    "hang",
    "observation",
    "repeat",
    "state",
    "storm",
    "str_replace",
    "with_metrics",
]
