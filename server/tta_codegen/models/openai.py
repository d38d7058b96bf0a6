"""OpenAI-compatible chat completions over httpx, streaming SSE.

One client serves OpenAI, OpenRouter, Ollama's ``/v1``, llama.cpp's server and vLLM, so
it tolerates all of their quirks: ``:`` comment lines (OpenRouter keep-alives),
``choices: null`` or ``[]`` on the usage chunk, errors delivered inside a 200 stream,
and ``usage.cost`` when the provider prices the request itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models.base import ModelRequest, Stop, StreamItem, TextDelta, Usage
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.fim import fim_mode, openai_completions_body
from tta_codegen.models.http import (
    WarmClient,
    error_from_response,
    finish_body,
    make_client,
    parse_retry_after,
    redact,
    transport_error,
)

_MAX_EVENT_CHARS = 1_000_000


class OpenAIProvider(WarmClient):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self._client: httpx.AsyncClient | None = None

    def _api_key(self) -> str | None:
        env = self.config.api_key_env
        if not env:
            return None
        key = os.environ.get(env)
        if not key:
            raise ProviderError(
                f"provider {self.name!r}: environment variable {env} is not set "
                f"(set it to your API key, or remove api_key_env for a local server)",
                kind="auth",
                retryable=False,
                sent=False,
            )
        return key

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", **self.config.headers}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        base = self.config.base_url or ""
        if "openrouter.ai" in base:
            # OpenRouter attributes traffic by these; harmless elsewhere but kept scoped.
            headers.setdefault("HTTP-Referer", "https://github.com/tta-codegen/tta-codegen")
            headers.setdefault("X-Title", "tta-codegen")
        return headers

    def _client_for(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self.config)
        return self._client

    def _body(self, model: ModelConfig, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model.id,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            body["stop"] = request.stop[:4]  # OpenAI accepts at most four
        return body

    async def stream(self, model: ModelConfig, request: ModelRequest) -> AsyncGenerator[StreamItem]:
        key = self._api_key()
        mode = fim_mode(model, request)
        base = (self.config.base_url or "").rstrip("/")
        if mode is not None:  # fill-in-the-middle: the legacy completions endpoint
            url, body = base + "/completions", openai_completions_body(model, request, mode)
        else:
            url, body = base + "/chat/completions", self._body(model, request)
        client = self._client_for()
        usage: Usage | None = None
        try:
            async with client.stream(
                "POST", url, json=body, headers=self._headers(key)
            ) as response:
                if response.status_code != 200:
                    raise await error_from_response(response, self.name, key)
                partial = ""  # a JSON object split over several data lines (rare)
                lines = _sse_data(response)
                async for data in lines:
                    if data == "[DONE]" and not partial:
                        await finish_body(lines)
                        break
                    partial = f"{partial}\n{data}" if partial else data
                    try:
                        chunk = json.loads(partial)
                    except ValueError:
                        if len(partial) > _MAX_EVENT_CHARS:
                            raise ProviderError(
                                f"provider {self.name!r} sent malformed JSON in its stream",
                                kind="stream",
                            ) from None
                        continue
                    partial = ""
                    if not isinstance(chunk, dict):
                        continue
                    _raise_stream_error(chunk, self.name, key)
                    for choice in chunk.get("choices") or []:
                        if not isinstance(choice, dict):
                            continue
                        delta = choice.get("delta") or {}
                        text = delta.get("content") if isinstance(delta, dict) else None
                        if text is None:  # /completions chunks carry choices[].text
                            text = choice.get("text")
                        if isinstance(text, str) and text:
                            yield TextDelta(text)
                        reason = choice.get("finish_reason")
                        if reason == "error":
                            raise ProviderError(
                                f"provider {self.name!r} ended the stream with an error",
                                kind="stream",
                            )
                        if isinstance(reason, str) and reason:
                            # Out at once: a caller that stops reading right after the text
                            # still knows why the reply ended.
                            yield Stop("length" if reason == "length" else "stop")
                    raw_usage = chunk.get("usage")
                    if isinstance(raw_usage, dict):
                        usage = _usage(raw_usage)
                if partial:
                    raise ProviderError(
                        f"provider {self.name!r} sent malformed JSON in its stream", kind="stream"
                    )
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from exc
        if usage is not None:
            yield usage

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _usage(raw: dict[str, Any]) -> Usage:
    cost = raw.get("cost")
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cost_usd=float(cost) if isinstance(cost, int | float) else None,
    )


def _raise_stream_error(chunk: dict[str, Any], name: str, key: str | None) -> None:
    err = chunk.get("error")
    if not err:
        return
    if isinstance(err, dict):
        message = str(err.get("message") or err.get("type") or err)
        code = err.get("code")
    else:
        message, code = str(err), None
    status = code if isinstance(code, int) else None
    kind = "server"
    lowered = message.lower()
    if status == 429 or "rate limit" in lowered:
        kind = "rate_limit"
    elif "overloaded" in lowered or status == 529:
        kind = "overloaded"
    elif "context" in lowered and ("length" in lowered or "window" in lowered):
        kind = "context_length"
    retry_after = parse_retry_after(str(err.get("retry_after"))) if isinstance(err, dict) else None
    raise ProviderError(
        f"provider {name!r}: {redact(message, key)}",
        status=status,
        kind=kind,
        retry_after=retry_after,
        retryable=None if kind != "context_length" else True,
    )


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """Yield each SSE data payload, skipping comments and other fields."""
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            payload = line[5:]
            yield payload[1:] if payload.startswith(" ") else payload
