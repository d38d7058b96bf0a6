"""A fake Anthropic Messages API on 127.0.0.1: real HTTP, real SSE with named events.

Speaks ``POST /v1/messages`` with ``message_start``, ``content_block_start``,
``content_block_delta`` (text deltas), ``ping``, an unknown event (clients must ignore it),
``message_delta`` with cumulative usage and ``message_stop``. ``Reply.stream_error`` is
sent as ``event: error`` (e.g. ``{"type": "overloaded_error", "message": "Overloaded"}``)
after the chunks; ``Reply(status=529)`` answers HTTP 529 with Anthropic's error body.
Reuses the OpenAI fake's request parsing, rules and recording.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.fakes.provider import FakeProvider, RecordedRequest, Reply, _chunk, _send_json


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


class FakeAnthropic(FakeProvider):
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _respond(self, method: str, req: RecordedRequest, w: asyncio.StreamWriter) -> bool:
        if not req.path.rstrip("/").endswith("/v1/messages"):
            await _send_json(w, 404, {"type": "error", "error": {"type": "not_found_error"}})
            return True
        reply = self._pick(req)
        if reply.status != 200:
            etype = "overloaded_error" if reply.status == 529 else "api_error"
            err = reply.error or {
                "type": "error",
                "error": {"type": etype, "message": f"fake error {reply.status}"},
            }
            await _send_json(w, reply.status, err, reply.headers)
            return True
        w.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()).encode()
            + b"\r\n"
        )
        await w.drain()
        usage = reply.usage or {}
        input_tokens = int(usage.get("input_tokens", max(1, len(req.all_text) // 4)))
        try:
            if reply.raw is not None:
                for line in reply.raw:
                    await _chunk(w, line + "\n")
                await _chunk(w, "")
                return True
            await _chunk(
                w,
                _event(
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": "msg_fake",
                            "type": "message",
                            "role": "assistant",
                            "model": req.body.get("model"),
                            "content": [],
                            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                        },
                    },
                ),
            )
            if reply.first_delay:
                await asyncio.sleep(reply.first_delay)
            await _chunk(
                w,
                _event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
            )
            await _chunk(w, _event("ping", {"type": "ping"}))
            for i, text in enumerate(reply.chunks):
                if reply.drop_after is not None and i >= reply.drop_after:
                    w.transport.abort()
                    return False
                await _chunk(
                    w,
                    _event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": text},
                        },
                    ),
                )
                if i == 0:
                    await _chunk(w, _event("future_event", {"type": "future_event", "x": 1}))
                if reply.delay and i + 1 < len(reply.chunks):
                    await asyncio.sleep(reply.delay)
            if reply.drop_after is not None and reply.drop_after >= len(reply.chunks):
                w.transport.abort()
                return False
            if reply.stream_error is not None:
                await _chunk(w, _event("error", {"type": "error", "error": reply.stream_error}))
                await _chunk(w, "")
                return True
            if reply.hang:
                await asyncio.sleep(3600)
            await _chunk(
                w, _event("content_block_stop", {"type": "content_block_stop", "index": 0})
            )
            # Output tokens are cumulative: send a partial count, then the final one.
            out_tokens = int(usage.get("output_tokens", len(reply.chunks)))
            for count in (max(0, out_tokens - 1), out_tokens):
                await _chunk(
                    w,
                    _event(
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {
                                "stop_reason": (
                                    "max_tokens" if reply.finish_reason == "length" else "end_turn"
                                ),
                                "stop_sequence": None,
                            },
                            "usage": {"output_tokens": count},
                        },
                    ),
                )
            await _chunk(w, _event("message_stop", {"type": "message_stop"}))
            await _chunk(w, "")
            return True
        except (ConnectionError, asyncio.CancelledError):
            self.stream_closed.set()
            raise


__all__ = ["FakeAnthropic", "Reply"]
