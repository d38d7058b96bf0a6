"""Anthropic's Messages API over httpx, streaming SSE.

Events handled: ``message_start`` (input tokens), ``content_block_delta`` with a
``text_delta``, ``message_delta`` (cumulative output tokens), ``message_stop`` (the end),
``ping`` and any unknown event (ignored, as Anthropic asks), and ``error``: an
``overloaded_error`` inside a 200 stream is the same as HTTP 529 and is retryable. A
stream that ends without ``message_stop`` was cut and counts as a failure.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from tta_codegen.models.base import ChatMessage, ModelRequest, Stop, StreamItem, TextDelta, Usage
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.http import (
    WarmClient,
    error_from_response,
    finish_body,
    make_client,
    read_api_key,
    redact,
    transport_error,
)
from tta_codegen.models.settings import ModelConfig, ProviderConfig

ANTHROPIC_VERSION = "2023-06-01"

# Anthropic error types -> (our kind, HTTP status they stand for).
_ERROR_TYPES: dict[str, tuple[str, int]] = {
    "overloaded_error": ("overloaded", 529),
    "rate_limit_error": ("rate_limit", 429),
    "api_error": ("server", 500),
    "timeout_error": ("timeout", 504),
    "invalid_request_error": ("bad_request", 400),
    "authentication_error": ("auth", 401),
    "permission_error": ("auth", 403),
    "not_found_error": ("not_found", 404),
    "request_too_large": ("context_length", 413),
    "billing_error": ("spend_limit", 402),
}


def messages_body(model: ModelConfig, request: ModelRequest) -> dict[str, Any]:
    """System prompts go top-level; same-role neighbours are merged (the API alternates)."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    turns: list[ChatMessage] = []
    for m in request.messages:
        if m.role == "system":
            continue
        if turns and turns[-1].role == m.role:
            turns[-1] = ChatMessage(m.role, turns[-1].content + "\n\n" + m.content)
        else:
            turns.append(m)
    if not turns or turns[0].role != "user":
        turns.insert(0, ChatMessage("user", "(continue)"))
    body: dict[str, Any] = {
        "model": model.id,
        "max_tokens": request.max_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in turns],
        "stream": True,
        "temperature": min(1.0, request.temperature),  # Anthropic's range is 0..1
    }
    if system:
        body["system"] = system
    if request.stop:
        body["stop_sequences"] = request.stop
    return body


class AnthropicProvider(WarmClient):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self._client: httpx.AsyncClient | None = None

    def _url(self) -> str:
        base = (self.config.base_url or "https://api.anthropic.com").rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {
            "Accept": "text/event-stream",
            "anthropic-version": ANTHROPIC_VERSION,
            **self.config.headers,
        }
        if key:
            headers["x-api-key"] = key
        return headers

    async def stream(self, model: ModelConfig, request: ModelRequest) -> AsyncGenerator[StreamItem]:
        key = read_api_key(self.name, self.config)
        if self._client is None:
            self._client = make_client(self.config)
        usage = Usage()
        saw_usage = stopped = False
        try:
            async with self._client.stream(
                "POST", self._url(), json=messages_body(model, request), headers=self._headers(key)
            ) as response:
                if response.status_code != 200:
                    raise await error_from_response(response, self.name, key)
                events = _sse_events(response)
                async for event, data in events:
                    if event == "ping" or not data:
                        continue
                    try:
                        payload = json.loads(data)
                    except ValueError:
                        raise ProviderError(
                            f"provider {self.name!r} sent malformed JSON in its stream",
                            kind="stream",
                        ) from None
                    if not isinstance(payload, dict):
                        continue
                    kind = event or str(payload.get("type", ""))
                    if kind == "error":
                        raise _stream_error(payload, self.name, key)
                    if kind == "message_start":
                        message = payload.get("message")
                        raw = message.get("usage") if isinstance(message, dict) else None
                        saw_usage |= _merge_usage(usage, raw)
                    elif kind == "content_block_delta":
                        delta = payload.get("delta")
                        text = delta.get("text") if isinstance(delta, dict) else None
                        if isinstance(text, str) and text:
                            yield TextDelta(text)
                    elif kind == "message_delta":
                        saw_usage |= _merge_usage(usage, payload.get("usage"))
                        delta = payload.get("delta")
                        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
                        if isinstance(reason, str) and reason:
                            yield Stop("length" if reason == "max_tokens" else "stop")
                    elif kind == "message_stop":
                        stopped = True
                        await finish_body(events)
                        break
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from exc
        if not stopped:
            raise ProviderError(
                f"provider {self.name!r}: the stream ended before message_stop", kind="stream"
            )
        if saw_usage:
            yield usage

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _merge_usage(usage: Usage, raw: Any) -> bool:
    """message_delta usage is cumulative: the latest value replaces the earlier one."""
    if not isinstance(raw, dict):
        return False
    if isinstance(raw.get("input_tokens"), int):
        usage.prompt_tokens = raw["input_tokens"]
    if isinstance(raw.get("output_tokens"), int):
        usage.completion_tokens = raw["output_tokens"]
    return True


def _stream_error(payload: dict[str, Any], name: str, key: str | None) -> ProviderError:
    err = payload.get("error")
    err = err if isinstance(err, dict) else {}
    etype = str(err.get("type") or "api_error")
    message = redact(str(err.get("message") or etype), key)
    kind, status = _ERROR_TYPES.get(etype, ("server", 500))
    return ProviderError(
        f"provider {name!r}: {etype}: {message}",
        status=status,
        kind=kind,
        retryable=True if kind == "context_length" else None,
    )


async def _sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs; data lines of one event are joined with newlines."""
    event = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if event or data:
                yield event, "\n".join(data)
            event, data = "", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            payload = line[5:]
            data.append(payload[1:] if payload.startswith(" ") else payload)
    if event or data:
        yield event, "\n".join(data)
