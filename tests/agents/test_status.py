"""The agent's one-line status (doctor, tta.listModels): a disabled agent is never contacted."""

from __future__ import annotations

from tests.fakes.openhands import FakeOpenHands
from tta_codegen.agents.routing import HealthCache
from tta_codegen.agents.settings import OpenHandsSettings
from tta_codegen.agents.status import agent_status


async def test_disabled_makes_no_request(openhands: FakeOpenHands) -> None:
    status = await agent_status(OpenHandsSettings(enabled=False, base_url=openhands.base_url))
    assert status.state == "disabled" and "ADR-001" in status.detail
    assert status.doctor_status == "ok"
    assert openhands.requests == []


async def test_enabled_ok_then_down_with_a_fix(openhands: FakeOpenHands) -> None:
    s = OpenHandsSettings(enabled=True, base_url=openhands.base_url)
    assert (await agent_status(s, environ={})).state == "ok"
    openhands.api_key = "k"
    status = await agent_status(s, environ={})
    assert status.state == "down" and status.doctor_status == "fail"
    assert "OPENHANDS_API_KEY" in status.detail and status.fix


async def test_health_cache_spares_requests(openhands: FakeOpenHands) -> None:
    s = OpenHandsSettings(enabled=True, base_url=openhands.base_url)
    cache = HealthCache(ttl_ok=60)
    for _ in range(5):
        assert (await agent_status(s, cache=cache, environ={})).state == "ok"
    assert len([r for r in openhands.requests if r.path == "/api/options/config"]) == 1
