"""Which requests go to the agent, and whether the agent is fit to take them.

Most requests (about 80%: one function, one file) are better served by the direct model:
faster, cheaper, streamed where the cursor is. A task that spans several files, or the
whole codebase, is what an agent is for. ``wants_agent`` decides from the request alone
(no I/O); ``HealthCache`` remembers the last health check for a short while so routing a
request costs at most one cheap request to the agent, and usually none.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from tta_codegen.agents.base import AgentBackend
from tta_codegen.agents.events import Health

# A file name with a source-like extension ("api.py", "src/app.ts").
_FILE = re.compile(
    r"(?<![\w/.-])(?:[\w.-]+/)*[\w-]+\.(?:py|pyi|ts|tsx|js|jsx|mjs|go|rs|java|kt|rb|php|cs|"
    r"cpp|cc|c|h|hpp|swift|scala|sql|toml|yaml|yml|json|md|sh|html|css)\b",
    re.IGNORECASE,
)
# Phrases that mean the change is not local to one place.
_MULTI_STEP = [
    (re.compile(p, re.IGNORECASE), why)
    for p, why in [
        (
            r"\bacross (?:the |this |our |all )?(?:whole |entire )?(?:code ?base|repo(?:sitory)?|"
            r"project|files|modules|packages)\b",
            "works across the codebase",
        ),
        (
            r"\b(?:the |this )?(?:whole|entire) (?:code ?base|repo(?:sitory)?|project)\b",
            "covers the whole project",
        ),
        (
            r"\b(?:refactor|rename|update|migrate|replace|convert|change|fix) (?:all|every|each)\b",
            "changes every occurrence",
        ),
        (
            r"\b(?:in|to|throughout) (?:all|every|each) (?:files?|modules?|packages?|"
            r"call ?sites?|usages?|places?)\b",
            "touches every file",
        ),
        (r"\b(?:multiple|several|many) (?:files|modules|packages)\b", "names several files"),
        (r"\beverywhere\b", "changes it everywhere"),
        (r"\bmulti[- ]?(?:file|step)\b", "is a multi-step task"),
    ]
]


def wants_agent(description: str, mode: str | None) -> tuple[bool, str]:
    """Whether a request is for the agent, and why (worded for a message to the user)."""
    if mode == "agent":
        return True, 'the request asked for the agent (mode "agent")'
    if mode == "direct":
        return False, 'the request asked for the direct model (mode "direct")'
    files = {m.group(0).lower() for m in _FILE.finditer(description)}
    if len(files) >= 2:
        named = ", ".join(sorted(files)[:4])
        return True, f"the task names {len(files)} files ({named})"
    for pattern, why in _MULTI_STEP:
        if pattern.search(description):
            return True, f"the task {why}"
    return False, "a single-place task: the direct model is faster"


@dataclass
class _Entry:
    health: Health
    at: float


class HealthCache:
    """Health per agent endpoint: a good answer is trusted for ``ttl_ok`` seconds, a bad
    one for ``ttl_bad`` (short, so a server that comes back is used soon)."""

    def __init__(self, ttl_ok: float = 30.0, ttl_bad: float = 5.0) -> None:
        self.ttl_ok = ttl_ok
        self.ttl_bad = ttl_bad
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, key: str, backend: AgentBackend, *, fresh: bool = False) -> Health:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # concurrent requests share one check
            entry = self._entries.get(key)
            now = time.monotonic()
            if entry is not None and not fresh:
                ttl = self.ttl_ok if entry.health.ok else self.ttl_bad
                if now - entry.at < ttl:
                    return entry.health
            health = await backend.health()
            self._entries[key] = _Entry(health, time.monotonic())
            return health


__all__ = ["HealthCache", "wants_agent"]
