"""A fake model provider on 127.0.0.1 that speaks real HTTP and real SSE.

It is the only test double in the project, and it sits at the network edge: the code
under test talks to it through httpx exactly as it would to OpenAI or OpenRouter.
Replies are scripted per test (text chunks, delays, HTTP errors, errors inside a 200
stream, dropped connections, comment lines, streams that never end), and every request
body is recorded so tests can check what was sent.

Run it standalone for editor end-to-end tests:

    python -m tests.fakes.provider --port 0 --script replies.json

It prints ``PORT <n>`` on stdout once listening. The script is a JSON list of rules
(``{"match": "substring", "model": "id", "reply": {...Reply fields...}, "times": n}``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

# What a Tabby server answers on /v1/health (GET, or POST for old servers), in the shape
# of its HealthState schema; tabby-agent reads chat_model and version.git_describe.
TABBY_HEALTH: dict[str, Any] = {
    "model": None,
    "chat_model": "fake-chat",
    "chat_device": "cpu",
    "device": "cpu",
    "arch": "x86_64",
    "cpu_info": "fake",
    "cpu_count": 1,
    "cuda_devices": [],
    "version": {
        "build_date": "2026-01-01",
        "build_timestamp": "2026-01-01T00:00:00Z",
        "git_sha": "0000000",
        "git_describe": "v0.30.0",
    },
}


@dataclass
class Reply:
    chunks: list[str] = field(default_factory=list)
    delay: float = 0.0  # seconds between chunks
    first_delay: float = 0.0  # seconds before the first chunk (time to first token)
    status: int = 200
    error: dict[str, Any] | None = None  # body of a non-200 answer
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None  # abort the connection after this many chunks
    stream_error: dict[str, Any] | None = None  # sent as data: {"error": ...} after chunks
    hang: bool = False  # keep the stream open forever after the chunks
    usage: dict[str, Any] | None = None  # None: computed from the chunks
    comments: bool = False  # interleave ": OPENROUTER PROCESSING" lines
    raw: list[str] | None = None  # exact SSE lines to send instead of chunks
    echo_prompt: bool = False  # reply with a fenced block holding the last user message
    finish_reason: str = "stop"  # "length": the reply was cut by max_tokens
    send_usage: bool = True  # False: no usage chunk (llama_cpp.server never sends one)
    # Keep the stream open after the chunks until the test sets this event: "the generation
    # is still running" becomes a fact the test controls, not a race against the clock.
    hold: asyncio.Event | None = None

    @classmethod
    def text(cls, text: str, *, size: int = 4, **kw: Any) -> Reply:
        """Split ``text`` into chunks of ``size`` characters."""
        return cls(chunks=[text[i : i + size] for i in range(0, len(text), size)], **kw)


@dataclass
class Rule:
    reply: Reply
    match: str | None = None  # substring of the last user message
    model: str | None = None
    times: int | None = None  # None: forever


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def last_user_message(self) -> str:
        for m in reversed(self.body.get("messages") or []):
            if m.get("role") == "user":
                content = m.get("content")
                return content if isinstance(content, str) else json.dumps(content)
        prompt = self.body.get("prompt")  # /completions (fill-in-the-middle)
        return prompt if isinstance(prompt, str) else ""

    @property
    def all_text(self) -> str:
        if "messages" not in self.body:
            return f"{self.body.get('prompt', '')}{self.body.get('suffix', '')}"
        return "\n".join(str(m.get("content")) for m in self.body.get("messages") or [])


class FakeProvider:
    """An OpenAI-compatible server with scripted replies.

    ``/v1/chat/completions`` streams ``choices[].delta.content``; ``/v1/completions`` (the
    fill-in-the-middle endpoint: ``prompt`` + ``suffix``) streams ``choices[].text``.
    """

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.default = Reply.text("```python\nprint('hello')\n```\n")
        self.requests: list[RecordedRequest] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # TCP connections accepted (a pooled client reuses one)
        self.stream_closed = asyncio.Event()  # set whenever a client goes away mid-stream
        self.models = ["fake-model"]  # what GET /models lists
        # Set to "/v1" to answer 404 elsewhere, as llama.cpp's and vLLM's servers do.
        self.require_prefix: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add(
        self,
        reply: Reply,
        *,
        match: str | None = None,
        model: str | None = None,
        times: int | None = None,
    ) -> None:
        self.rules.append(Rule(reply, match, model, times))

    def _pick(self, req: RecordedRequest) -> Reply:
        text = req.last_user_message
        model = req.body.get("model")
        for rule in self.rules:
            if rule.times is not None and rule.times <= 0:
                continue
            if rule.model is not None and rule.model != model:
                continue
            if rule.match is not None and rule.match not in text:
                continue
            if rule.times is not None:
                rule.times -= 1
            return rule.reply
        return self.default

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
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
        self.connections += 1
        try:
            while True:
                first = await reader.read(1)
                if first == b"\x16":
                    # A TLS ClientHello (https:// to this plain-HTTP server). Answered as
                    # HTTP servers do, at once: waiting for a line end that random
                    # handshake bytes may never contain left the client to its timeout.
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                    await writer.drain()
                    return
                request_line = first + await reader.readline() if first else b""
                if not request_line:
                    return
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                req = RecordedRequest(path, headers, body, time.perf_counter())
                self.requests.append(req)
                keep = await self._respond(method, req, writer)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self.stream_closed.set()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(self, method: str, req: RecordedRequest, w: asyncio.StreamWriter) -> bool:
        if self.require_prefix and not req.path.startswith(self.require_prefix + "/"):
            await _send_json(w, 404, {"detail": "Not Found"})
            return True
        if method == "GET" and req.path.rstrip("/").endswith("/models"):
            data = {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}
            await _send_json(w, 200, data)
            return True
        if req.path.rstrip("/").endswith("/v1/health"):
            # A Tabby server's health answer: tabby-agent enables chat edit only when it
            # names a chat model, and reads version.git_describe (benchmarks/tabby_bench.py).
            await _send_json(w, 200, TABBY_HEALTH)
            return True
        fim = not req.path.rstrip("/").endswith("/chat/completions")
        if not req.path.rstrip("/").endswith("/completions"):
            await _send_json(w, 404, {"error": {"message": f"no route {req.path}"}})
            return True
        reply = self._pick(req)
        if reply.status != 200:
            err = reply.error or {"error": {"message": f"fake error {reply.status}"}}
            await _send_json(w, reply.status, err, reply.headers)
            return True
        chunks = list(reply.chunks)
        if reply.echo_prompt:
            chunks = [f"```\n{req.last_user_message}\n```\n"]
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()).encode()
            + b"\r\n"
        )
        await w.drain()
        model = req.body.get("model", "fake")
        try:
            if reply.first_delay:
                await asyncio.sleep(reply.first_delay)
            if reply.raw is not None:
                for line in reply.raw:
                    await _chunk(w, line + "\n")
                    if reply.delay:
                        await asyncio.sleep(reply.delay)
                await _chunk(w, "")
                return True
            for i, text in enumerate(chunks):
                if reply.drop_after is not None and i >= reply.drop_after:
                    w.transport.abort()
                    return False
                if reply.comments:
                    await _chunk(w, ": OPENROUTER PROCESSING\n\n")
                choice: dict[str, Any] = (
                    {"index": 0, "text": text, "finish_reason": None}
                    if fim
                    else {"index": 0, "delta": {"content": text}, "finish_reason": None}
                )
                event = {
                    "id": "chatcmpl-fake",
                    "object": "text_completion" if fim else "chat.completion.chunk",
                    "model": model,
                    "choices": [choice],
                }
                await _chunk(w, f"data: {json.dumps(event)}\n\n")
                if reply.delay and i + 1 < len(chunks):
                    await asyncio.sleep(reply.delay)
            if reply.drop_after is not None and reply.drop_after >= len(chunks):
                w.transport.abort()
                return False
            if reply.stream_error is not None:
                await _chunk(w, f"data: {json.dumps({'error': reply.stream_error})}\n\n")
                await _chunk(w, "")
                return True
            if reply.hang:
                await asyncio.sleep(3600)
            if reply.hold is not None:
                await reply.hold.wait()
            done = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}],
            }
            await _chunk(w, f"data: {json.dumps(done)}\n\n")
            if not reply.send_usage:
                await _chunk(w, "data: [DONE]\n\n")
                await _chunk(w, "")
                return True
            usage = reply.usage or {
                "prompt_tokens": max(1, len(req.all_text) // 4),
                "completion_tokens": len(chunks),
                "total_tokens": max(1, len(req.all_text) // 4) + len(chunks),
            }
            usage_chunk = {"id": "chatcmpl-fake", "choices": [], "usage": usage}
            await _chunk(w, f"data: {json.dumps(usage_chunk)}\n\n")
            await _chunk(w, "data: [DONE]\n\n")
            await _chunk(w, "")
            return True
        except (ConnectionError, asyncio.CancelledError):
            self.stream_closed.set()
            raise


async def _chunk(w: asyncio.StreamWriter, text: str) -> None:
    data = text.encode()
    w.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await w.drain()


async def _send_json(
    w: asyncio.StreamWriter, status: int, data: Any, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(data).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    w.write(
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}\r\n".encode()
        + body
    )
    await w.drain()


def _load_rules(path: str) -> list[Rule]:
    with open(path, encoding="utf-8") as fh:
        items = json.load(fh)
    return [
        Rule(Reply(**item["reply"]), item.get("match"), item.get("model"), item.get("times"))
        for item in items
    ]


async def _main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--script", help="JSON list of rules")
    ap.add_argument("--log", help="append each request body as a JSON line to this file")
    args = ap.parse_args(argv)
    fake = FakeProvider()
    if args.script:
        fake.rules = _load_rules(args.script)
    await fake.start(args.port)
    print(f"PORT {fake.port}", flush=True)
    seen = 0
    while True:
        await asyncio.sleep(0.05)
        if args.log and len(fake.requests) > seen:
            with open(args.log, "a", encoding="utf-8") as fh:
                for req in fake.requests[seen:]:
                    fh.write(json.dumps({"path": req.path, "body": req.body}) + "\n")
            seen = len(fake.requests)


__all__ = ["FakeProvider", "RecordedRequest", "Reply", "Rule", "asdict"]

if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(sys.argv[1:]))
