"""A fake Ollama server on 127.0.0.1: ``POST /api/chat`` streaming NDJSON over real HTTP.

Each chunk is a ``{"message": {"role": "assistant", "content": ...}, "done": false}``
line; the last line has ``done: true`` with ``prompt_eval_count`` / ``eval_count``
(``Reply.usage`` may set them). ``Reply.stream_error`` is sent as an ``{"error": ...}``
line mid-stream; a non-200 ``Reply.status`` answers ``{"error": "..."}`` like Ollama.
"""

from __future__ import annotations

import asyncio
import json

from tests.fakes.provider import FakeProvider, RecordedRequest, Reply, _chunk, _send_json


class FakeOllama(FakeProvider):
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _respond(self, method: str, req: RecordedRequest, w: asyncio.StreamWriter) -> bool:
        if req.path.rstrip("/") != "/api/chat":
            await _send_json(w, 404, {"error": f"no route {req.path}"})
            return True
        reply = self._pick(req)
        if reply.status != 200:
            await _send_json(
                w,
                reply.status,
                reply.error or {"error": f"fake error {reply.status}"},
                reply.headers,
            )
            return True
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        await w.drain()
        model = req.body.get("model")
        try:
            if reply.first_delay:
                await asyncio.sleep(reply.first_delay)
            for i, text in enumerate(reply.chunks):
                if reply.drop_after is not None and i >= reply.drop_after:
                    w.transport.abort()
                    return False
                line = {
                    "model": model,
                    "message": {"role": "assistant", "content": text},
                    "done": False,
                }
                await _chunk(w, json.dumps(line) + "\n")
                if reply.delay and i + 1 < len(reply.chunks):
                    await asyncio.sleep(reply.delay)
            if reply.drop_after is not None and reply.drop_after >= len(reply.chunks):
                w.transport.abort()
                return False
            if reply.stream_error is not None:
                await _chunk(
                    w, json.dumps({"error": reply.stream_error.get("message", "error")}) + "\n"
                )
                await _chunk(w, "")
                return True
            if reply.hang:
                await asyncio.sleep(3600)
            usage = reply.usage or {}
            done = {
                "model": model,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": reply.finish_reason,
                "prompt_eval_count": usage.get("prompt_eval_count", max(1, len(req.all_text) // 4)),
                "eval_count": usage.get("eval_count", len(reply.chunks)),
            }
            await _chunk(w, json.dumps(done) + "\n")
            await _chunk(w, "")
            return True
        except (ConnectionError, asyncio.CancelledError):
            self.stream_closed.set()
            raise


__all__ = ["FakeOllama", "Reply"]
