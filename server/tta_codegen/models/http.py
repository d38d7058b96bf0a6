"""HTTP plumbing shared by the HTTP providers: clients, timeouts, error mapping, redaction."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import importlib
import json
import os
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tta_codegen.background import request_written
from tta_codegen.config import ProviderConfig
from tta_codegen.models.errors import ProviderError

_MAX_ERROR_BODY = 8192


@functools.cache
def _verifying_tls() -> ssl.SSLContext:
    """The CA bundle, read once per process.

    httpx reads it again for every client it builds: ~50 ms of CPU per provider client at
    each server start, the largest single cost of a start in a profile of the test suite.
    """
    return httpx.create_ssl_context(trust_env=False)  # as the client: no ambient settings


@functools.cache
def _refusing_tls() -> ssl.SSLContext:
    """For a plain ``http://`` provider (a local llama.cpp, Ollama): its requests never use
    TLS, so no CA bundle is read. Were one ever made over TLS, it would fail: the context
    requires a verified certificate and trusts none. Not an insecure fallback."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def tls_context(base_url: str | None) -> ssl.SSLContext:
    """The TLS context for a provider's client: verifying for https, refusing otherwise."""
    if (base_url or "").lower().startswith("http://"):
        return _refusing_tls()
    return _verifying_tls()


def make_client(config: ProviderConfig) -> httpx.AsyncClient:
    """One pooled client per provider: reusing connections saves a TLS handshake per request."""
    timeout = httpx.Timeout(
        connect=config.connect_timeout_s,
        read=config.read_timeout_s,
        write=config.connect_timeout_s,
        pool=config.connect_timeout_s,
    )
    # trust_env=False: never route a request carrying a key through an ambient proxy setting
    # the user did not choose for this tool, and never read ~/.netrc credentials.
    return httpx.AsyncClient(
        timeout=timeout,
        verify=tls_context(config.base_url),
        trust_env=False,
        follow_redirects=False,
        event_hooks={"request": [_announce_written]},
    )


async def _announce_written(request: httpx.Request) -> None:
    """Have httpcore tell :func:`~tta_codegen.background.request_written` when the body is
    on the wire (its ``trace`` extension): a generation holds back background work until
    then (``background.hold_path``)."""
    request.extensions["trace"] = _trace


async def _trace(event: str, info: dict[str, Any]) -> None:
    if event.endswith("send_request_body.complete"):
        request_written()


# How long the rest of a body may take after its end marker ([DONE], message_stop).
END_OF_BODY_S = 0.25


async def finish_body(rest: AsyncIterator[Any]) -> None:
    """Read what follows a stream's end marker (the chunked body's last, empty chunk).

    Providers send the marker and end the body at once, but leaving the ``async with
    client.stream(...)`` block before that end is read makes httpcore close the
    connection: the next request paid a new TCP (and TLS) handshake. Read to the end,
    briefly (a server that keeps the body open after its marker only costs
    :data:`END_OF_BODY_S`, then the connection is closed as before), so the connection
    goes back to the pool. Nothing read here is used.
    """
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(END_OF_BODY_S):
            async for _ in rest:
                pass


# What the first request imports: httpcore's async backend on anyio, anyio's asyncio.
FIRST_REQUEST_IMPORTS = ("httpcore._backends.anyio", "anyio._backends._asyncio")


def _warm_client(config: ProviderConfig) -> httpx.AsyncClient:
    client = make_client(config)  # for https, the first one reads the CA bundle
    for module in FIRST_REQUEST_IMPORTS:
        importlib.import_module(module)
    return client


class WarmClient:
    """An HTTP provider's pooled client, made before the first request needs it.

    Building the client and the imports of its first request took ~180 ms on a busy
    machine, all of it on the first generation's path (``python -m benchmarks lsp``'s
    first run). The server warms the model layer after ``initialized``
    (:meth:`ModelRouter.warm`), in a worker thread; nothing is sent.
    """

    config: ProviderConfig
    _client: httpx.AsyncClient | None

    async def warm(self) -> None:
        if self._client is not None:
            return
        client = await asyncio.to_thread(_warm_client, self.config)
        if self._client is None:
            self._client = client
        else:  # a request made its own meanwhile
            await client.aclose()


def redact(text: str, key: str | None) -> str:
    """Remove the key (and long fragments of it) from text that may reach a user or log."""
    if key and len(key) >= 8:
        text = text.replace(key, "[REDACTED]")
        # Providers echo keys partially ("sk-abc...xyz"); cut any 12+ char fragment.
        for i in range(0, len(key) - 12 + 1, 4):
            frag = key[i : i + 12]
            if frag in text:
                text = text.replace(frag, "[REDACTED]")
    return text


def parse_retry_after(value: str | None) -> float | None:
    if not value or value == "None":
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_after_from_headers(headers: httpx.Headers) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def _message_from_body(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:500] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("type") or json.dumps(err)[:500]
            return str(msg)
        if isinstance(err, str):
            return err
    return body.strip()[:500]


async def error_from_response(
    response: httpx.Response, provider: str, key: str | None
) -> ProviderError:
    """Turn a non-200 answer into a typed error with the provider's own message."""
    raw = b""
    async for chunk in response.aiter_bytes():
        raw += chunk
        if len(raw) > _MAX_ERROR_BODY:
            break
    body = raw[:_MAX_ERROR_BODY].decode("utf-8", "replace")
    message = redact(_message_from_body(body), key)
    status = response.status_code
    lowered = message.lower()
    kind = "error"
    retryable: bool | None = None
    if status == 429:
        kind = "rate_limit"
        if "quota" in lowered or "spend" in lowered or "budget" in lowered:
            kind, retryable = "spend_limit", False
    elif status == 529 or "overloaded" in lowered:
        kind = "overloaded"
    elif status >= 500:
        kind = "server"
    elif status in (401, 403):
        kind, retryable = "auth", False
    elif status == 402:
        kind, retryable = "spend_limit", False
    elif status == 404:
        kind, retryable = "not_found", False
    elif status in (400, 413, 422) and (
        ("context" in lowered and ("length" in lowered or "window" in lowered))
        or "too many tokens" in lowered
        or "maximum context" in lowered
    ):
        # Another model with a larger window may succeed: fall back, don't retry here.
        kind, retryable = "context_length", True
    elif 400 <= status < 500:
        kind, retryable = "bad_request", False
    hint = ""
    if kind == "auth":
        hint = " (check the API key in the environment variable named by api_key_env)"
    elif kind == "not_found":
        # A server at its root (llama.cpp, vLLM) answers 404 when base_url lacks /v1.
        url = str(response.request.url.copy_with(query=None))
        openai_root = url.endswith("/chat/completions") and "/v1/" not in url
        hint = f" (at {url}" + ("; does base_url need /v1?)" if openai_root else ")")
    return ProviderError(
        f"provider {provider!r}: {message}{hint}",
        status=status,
        retry_after=retry_after_from_headers(response.headers),
        kind=kind,
        retryable=retryable,
    )


def transport_error(exc: httpx.HTTPError, provider: str) -> ProviderError:
    """Map httpx's exceptions to what a user can act on."""
    url = ""
    with contextlib.suppress(RuntimeError):
        url = str(exc.request.url.copy_with(query=None))
    where = f" at {url}" if url else ""
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderError(f"provider {provider!r}: connection timed out{where}", kind="timeout")
    if isinstance(exc, httpx.ReadTimeout):
        return ProviderError(
            f"provider {provider!r}: no data for too long (read timeout){where}", kind="timeout"
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"provider {provider!r}: timed out{where}", kind="timeout")
    if isinstance(exc, httpx.ConnectError):
        return ProviderError(
            f"provider {provider!r}: cannot connect{where} ({exc}); is the server running?",
            kind="connect",
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return ProviderError(
            f"provider {provider!r}: the connection broke mid-stream ({exc})", kind="stream"
        )
    return ProviderError(f"provider {provider!r}: {type(exc).__name__}: {exc}", kind="connect")


def read_api_key(provider: str, config: ProviderConfig, *, required: bool = True) -> str | None:
    """The key from the env var the config names, read at request time, never stored."""
    env = config.api_key_env
    if not env:
        return None
    key = os.environ.get(env)
    if not key and required:
        raise ProviderError(
            f"provider {provider!r}: environment variable {env} is not set "
            f"(set it to your API key, or remove api_key_env for a local server)",
            kind="auth",
            retryable=False,
            sent=False,
        )
    return key or None
