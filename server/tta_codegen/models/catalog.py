"""The model catalog: configured models, completed with what providers publish about them.

OpenRouter (and any OpenAI-compatible server) lists its models at ``GET {base_url}/models``;
OpenRouter adds prices as strings in USD per token and a context length. ``tta-codegen
models --refresh`` fetches that list once and caches it on disk (user cache dir), and the
router fills in the price, context window and ``free`` flag of configured models from the
cache wherever the config leaves them unset. What the user configured always wins.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from tta_codegen.models.errors import ProviderError
from tta_codegen.models.http import error_from_response, make_client, transport_error
from tta_codegen.models.paths import catalog_dir
from tta_codegen.models.settings import ModelConfig, ProviderConfig


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None
    context_window: int | None = None
    input_cost_per_mtok: float | None = None
    output_cost_per_mtok: float | None = None
    free: bool = False


class _Pricing(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt: str | float | None = None
    completion: str | float | None = None


class _RemoteModel(BaseModel):
    """One entry of an OpenAI/OpenRouter ``/models`` answer."""

    model_config = ConfigDict(extra="ignore")
    id: str
    name: str | None = None
    context_length: int | None = None
    pricing: _Pricing | None = None


def _per_mtok(value: str | float | None) -> float | None:
    if value is None:
        return None
    try:
        per_token = float(value)
    except ValueError:
        return None
    # OpenRouter uses -1 for "variable" (routers): unknown, not negative.
    return round(per_token * 1_000_000, 6) if per_token >= 0 else None


def parse_models_list(data: Any) -> list[CatalogEntry]:
    """Entries from a ``/models`` answer; malformed entries are skipped, not fatal."""
    items = data.get("data") if isinstance(data, dict) else None
    entries: list[CatalogEntry] = []
    for item in items if isinstance(items, list) else []:
        try:
            remote = _RemoteModel.model_validate(item)
        except ValidationError:
            continue
        inp = _per_mtok(remote.pricing.prompt) if remote.pricing else None
        out = _per_mtok(remote.pricing.completion) if remote.pricing else None
        free = remote.id.endswith(":free") or (inp == 0 and out == 0)
        entries.append(
            CatalogEntry(
                id=remote.id,
                name=remote.name,
                context_window=remote.context_length,
                input_cost_per_mtok=inp,
                output_cost_per_mtok=out,
                free=free,
            )
        )
    return entries


def cache_file(provider: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in provider)
    return catalog_dir() / f"{safe}.json"


async def fetch_catalog(name: str, config: ProviderConfig) -> list[CatalogEntry]:
    """GET the provider's model list (OpenAI-compatible providers only)."""
    if config.kind != "openai" or not config.base_url:
        raise ProviderError(
            f'provider {name!r}: only OpenAI-compatible providers (kind = "openai") publish '
            "a model catalog",
            kind="bad_request",
        )
    key = os.environ.get(config.api_key_env) if config.api_key_env else None
    headers = {"Accept": "application/json", **config.headers}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = config.base_url.rstrip("/") + "/models"
    async with make_client(config) as client:
        try:
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise await error_from_response(response, name, key)
                body = await response.aread()
        except httpx.HTTPError as exc:
            raise transport_error(exc, name) from exc
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ProviderError(f"provider {name!r}: /models did not answer JSON") from exc
    return parse_models_list(data)


def save_cache(provider: str, base_url: str | None, entries: list[CatalogEntry]) -> Path:
    path = cache_file(provider)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "provider": provider,
        "base_url": base_url,
        "fetched_at": time.time(),
        "models": [e.model_dump() for e in entries],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


def load_cache(provider: str, base_url: str | None = None) -> dict[str, CatalogEntry]:
    """The cached entries by id; empty when missing, unreadable or for another base URL."""
    try:
        payload = json.loads(cache_file(provider).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(payload, dict):
        return {}
    if base_url is not None and payload.get("base_url") not in (None, base_url):
        return {}  # the provider name now points elsewhere: its old prices do not apply
    out: dict[str, CatalogEntry] = {}
    for item in payload.get("models") or []:
        try:
            entry = CatalogEntry.model_validate(item)
        except ValidationError:
            continue
        out[entry.id] = entry
    return out


def load_all_caches(providers: Mapping[str, ProviderConfig]) -> dict[str, dict[str, CatalogEntry]]:
    return {
        name: load_cache(name, p.base_url) for name, p in providers.items() if p.kind == "openai"
    }


async def load_all_caches_async(
    providers: Mapping[str, ProviderConfig],
) -> dict[str, dict[str, CatalogEntry]]:
    return await asyncio.to_thread(load_all_caches, providers)


def enrich(
    models: list[ModelConfig], catalogs: Mapping[str, Mapping[str, CatalogEntry]]
) -> list[ModelConfig]:
    """Configured models with unset fields taken from the provider's catalog."""
    out: list[ModelConfig] = []
    for m in models:
        update: dict[str, Any] = {}
        entry = catalogs.get(m.provider, {}).get(m.id)
        priced = "input_cost_per_mtok" in m.model_fields_set or (
            "output_cost_per_mtok" in m.model_fields_set
        )
        if entry is not None:
            if not priced and not m.free:
                if entry.input_cost_per_mtok is not None:
                    update["input_cost_per_mtok"] = entry.input_cost_per_mtok
                if entry.output_cost_per_mtok is not None:
                    update["output_cost_per_mtok"] = entry.output_cost_per_mtok
            if m.context_window is None and entry.context_window:
                update["context_window"] = entry.context_window
            if m.name is None and entry.name:
                update["name"] = entry.name
            if entry.free and "free" not in m.model_fields_set:
                update["free"] = True
        if m.id.endswith(":free") and "free" not in m.model_fields_set:
            update["free"] = True
        out.append(m.model_copy(update=update) if update else m)
    return out
