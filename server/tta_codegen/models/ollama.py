"""Ollama's native ``/api/chat`` over httpx, streaming NDJSON.

Each line is a JSON object with ``message.content``; the last has ``done: true`` with
``prompt_eval_count`` and ``eval_count``. Errors come as ``{"error": "..."}``, either as
a non-200 body or as a line in the middle of a 200 stream. (Ollama's ``/v1`` endpoint is
OpenAI-compatible: use ``kind = "openai"`` for it.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from tta_codegen.models.base import ModelRequest, Stop, StreamItem, TextDelta, Usage
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.fim import fim_mode, ollama_generate_body
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

_MAX_LINE = 1_000_000


def chat_body(model: ModelConfig, request: ModelRequest) -> dict[str, Any]:
    options: dict[str, Any] = {
        "temperature": request.temperature,
        "num_predict": request.max_tokens,
    }
    if request.stop:
        options["stop"] = request.stop
    if model.context_window:
        options["num_ctx"] = model.context_window
    return {
        "model": model.id,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "options": options,
    }


class OllamaProvider(WarmClient):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self._client: httpx.AsyncClient | None = None

    def _url(self, endpoint: str = "/api/chat") -> str:
        base = (self.config.base_url or "http://127.0.0.1:11434").rstrip("/")
        for suffix in ("/v1", "/api"):
            if base.endswith(suffix):  # tolerate a base URL copied from the other endpoint
                base = base[: -len(suffix)]
        return base + endpoint

    async def stream(self, model: ModelConfig, request: ModelRequest) -> AsyncGenerator[StreamItem]:
        key = read_api_key(self.name, self.config)
        headers = {"Accept": "application/x-ndjson", **self.config.headers}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if self._client is None:
            self._client = make_client(self.config)
        usage: Usage | None = None
        mode = fim_mode(model, request)
        if mode is not None:  # fill-in-the-middle: /api/generate with a suffix (or raw)
            url, body = self._url("/api/generate"), ollama_generate_body(model, request, mode)
        else:
            url, body = self._url(), chat_body(model, request)
        try:
            async with self._client.stream("POST", url, json=body, headers=headers) as response:
                if response.status_code != 200:
                    raise await error_from_response(response, self.name, key)
                lines = response.aiter_lines()
                async for line in lines:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        chunk = json.loads(line[:_MAX_LINE])
                    except ValueError:
                        raise ProviderError(
                            f"provider {self.name!r} sent a line that is not JSON", kind="stream"
                        ) from None
                    if not isinstance(chunk, dict):
                        continue
                    if chunk.get("error"):
                        raise _line_error(str(chunk["error"]), self.name, key)
                    message = chunk.get("message")
                    text = message.get("content") if isinstance(message, dict) else None
                    if text is None:  # /api/generate lines carry "response"
                        text = chunk.get("response")
                    if isinstance(text, str) and text:
                        yield TextDelta(text)
                    if chunk.get("done"):
                        reason = chunk.get("done_reason")
                        yield Stop("length" if reason == "length" else "stop")
                        usage = Usage(
                            prompt_tokens=int(chunk.get("prompt_eval_count") or 0),
                            completion_tokens=int(chunk.get("eval_count") or 0),
                        )
                        await finish_body(lines)
                        break
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name) from exc
        if usage is None:
            raise ProviderError(
                f"provider {self.name!r}: the stream ended before its done line", kind="stream"
            )
        yield usage

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _line_error(message: str, name: str, key: str | None) -> ProviderError:
    lowered = message.lower()
    kind = "server"
    if "context" in lowered and ("length" in lowered or "window" in lowered):
        kind = "context_length"
    elif "overloaded" in lowered or "busy" in lowered:
        kind = "overloaded"
    return ProviderError(
        f"provider {name!r}: {redact(message, key)}",
        kind=kind,
        retryable=True if kind == "context_length" else None,
    )
