"""The OpenAI fake plus OpenRouter's priced ``GET /models`` catalog (USD per token strings)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakes.provider import FakeProvider, RecordedRequest, _send_json

CATALOG: dict[str, Any] = {
    "data": [
        {
            "id": "anthropic/claude-sonnet",
            "name": "Claude Sonnet",
            "context_length": 200000,
            "pricing": {"prompt": "0.000003", "completion": "0.000015", "request": "0"},
        },
        {
            "id": "meta-llama/llama-3.3-70b-instruct:free",
            "name": "Llama 3.3 70B (free)",
            "context_length": 65536,
            "pricing": {"prompt": "0", "completion": "0"},
        },
        {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}},
        {"name": "no id: skipped"},
    ]
}


class FakeOpenRouter(FakeProvider):
    catalog_status = 200

    async def _respond(self, method: str, req: RecordedRequest, w: asyncio.StreamWriter) -> bool:
        if method == "GET" and req.path.rstrip("/").endswith("/models"):
            if self.catalog_status != 200:
                await _send_json(w, self.catalog_status, {"error": {"message": "catalog down"}})
            else:
                await _send_json(w, 200, CATALOG)
            return True
        return await super()._respond(method, req, w)
