"""The provider catalog: OpenRouter prices parsed, cached under XDG_CACHE_HOME, merged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.fakes.provider import Reply
from tests.models.conftest import collect, make_config, make_router
from tests.models.openrouter_fake import CATALOG, FakeOpenRouter
from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models.catalog import (
    cache_file,
    enrich,
    fetch_catalog,
    load_cache,
    parse_models_list,
    save_cache,
)
from tta_codegen.models.errors import ProviderError
from tta_codegen.models.ledger import CostLedger
from tta_codegen.models.router import Finished


@pytest_asyncio.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    server = FakeOpenRouter()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def test_parse_prices_per_token_to_per_mtok() -> None:
    entries = {e.id: e for e in parse_models_list(CATALOG)}
    sonnet = entries["anthropic/claude-sonnet"]
    assert sonnet.input_cost_per_mtok == 3.0 and sonnet.output_cost_per_mtok == 15.0
    assert sonnet.context_window == 200000 and not sonnet.free
    assert entries["meta-llama/llama-3.3-70b-instruct:free"].free
    assert entries["openrouter/auto"].input_cost_per_mtok is None  # -1 = variable
    assert len(entries) == 3  # the entry without an id was skipped


async def test_fetch_and_cache_under_xdg_cache_home(
    openrouter: FakeOpenRouter, xdg_dirs: Path
) -> None:
    pconf = ProviderConfig(kind="openai", base_url=openrouter.base_url)
    entries = await fetch_catalog("or", pconf)
    path = save_cache("or", pconf.base_url, entries)
    assert path == cache_file("or")
    assert path.is_relative_to(xdg_dirs / "cache" / "tta-codegen")
    cached = load_cache("or", pconf.base_url)
    assert cached["anthropic/claude-sonnet"].output_cost_per_mtok == 15.0
    # A provider name now pointing elsewhere does not reuse the old prices.
    assert load_cache("or", "http://elsewhere/v1") == {}


async def test_fetch_error_is_reported(openrouter: FakeOpenRouter) -> None:
    openrouter.catalog_status = 503
    with pytest.raises(ProviderError, match="catalog down"):
        await fetch_catalog("or", ProviderConfig(kind="openai", base_url=openrouter.base_url))


def test_enrich_fills_only_unset_fields() -> None:
    catalogs = {"or": {e.id: e for e in parse_models_list(CATALOG)}}
    models = [
        ModelConfig(id="anthropic/claude-sonnet", provider="or"),
        ModelConfig(
            id="anthropic/claude-sonnet",
            provider="or",
            input_cost_per_mtok=1.0,
            context_window=1000,
        ),
        ModelConfig(id="meta-llama/llama-3.3-70b-instruct:free", provider="or"),
        ModelConfig(id="other:free", provider="x"),
    ]
    out = enrich(models, catalogs)
    assert (out[0].input_cost_per_mtok, out[0].output_cost_per_mtok, out[0].context_window) == (
        3.0,
        15.0,
        200000,
    )
    assert out[0].name == "Claude Sonnet"
    # The user's own price and window win; output price stays as configured (unset = 0).
    assert (out[1].input_cost_per_mtok, out[1].output_cost_per_mtok, out[1].context_window) == (
        1.0,
        0.0,
        1000,
    )
    assert out[2].free and out[3].free


async def test_router_prices_requests_from_the_cached_catalog(
    openrouter: FakeOpenRouter, tmp_path: Path
) -> None:
    pconf = ProviderConfig(kind="openai", base_url=openrouter.base_url)
    save_cache("or", pconf.base_url, await fetch_catalog("or", pconf))
    openrouter.add(
        Reply.text(
            "```python\nx = 1\n```\n", usage={"prompt_tokens": 1_000_000, "completion_tokens": 0}
        )
    )
    config = make_config(
        providers={"or": {"kind": "openai", "base_url": openrouter.base_url}},
        models=[{"id": "anthropic/claude-sonnet", "provider": "or"}],
    )
    router = make_router(config, ledger=CostLedger(tmp_path / "l.sqlite3"))
    events = await collect(router)
    assert isinstance(events[-1], Finished) and events[-1].cost_usd == pytest.approx(3.0)
    assert router.models[0].context_window == 200000
