from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.ollama import FakeOllama
from tta_codegen.config import Config
from tta_codegen.models.base import ChatMessage, ModelRequest
from tta_codegen.models.breaker import BreakerBoard
from tta_codegen.models.ledger import CostLedger
from tta_codegen.models.router import ModelRouter, RouterEvent
from tta_codegen.wiring import build_router


@pytest.fixture(autouse=True)
def xdg_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ledger and catalog cache live under tmp_path, never in the real home."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


@pytest_asyncio.fixture
async def fake_anthropic() -> AsyncIterator[FakeAnthropic]:
    server = FakeAnthropic()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def fake_ollama() -> AsyncIterator[FakeOllama]:
    server = FakeOllama()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def make_config(**data: Any) -> Config:
    return Config.model_validate(data)


def make_router(
    config: Config,
    *,
    ledger: CostLedger | None = None,
    breakers: BreakerBoard | None = None,
    **kw: Any,
) -> ModelRouter:
    return build_router(
        config, ledger=ledger or CostLedger(), breakers=breakers or BreakerBoard(), **kw
    )


def request(text: str = "write code", **kw: Any) -> ModelRequest:
    return ModelRequest(
        messages=[ChatMessage("system", "You write code."), ChatMessage("user", text)], **kw
    )


async def collect(
    router: ModelRouter, req: ModelRequest | None = None, **kw: Any
) -> list[RouterEvent]:
    return [e async for e in router.stream(req or request(), **kw)]


def no_retry() -> dict[str, Any]:
    return {"retry": {"max_retries": 0}}
