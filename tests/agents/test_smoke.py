"""The ADR-001 smoke test, run as a real subprocess against the fake server."""

from __future__ import annotations

import asyncio
import json
import sys

from tests.fakes.openhands import FakeOpenHands, action, create_file, script, state, storm
from tests.guards import HANG_GUARD_S


async def run_smoke(fake: FakeOpenHands) -> tuple[int, dict[str, object]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tta_codegen.agents.smoke",
        "--base-url",
        fake.base_url,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), HANG_GUARD_S)
    assert proc.returncode is not None
    return proc.returncode, json.loads(out.decode().strip().splitlines()[-1])


async def test_smoke_passes_when_the_agent_creates_the_file(openhands: FakeOpenHands) -> None:
    openhands.scenario = script(
        [
            state("running"),
            *create_file(
                "/workspace/tta_smoke/hello.py", "def hello() -> str:\n    return 'hello'\n"
            ),
            action("finish"),
            state("finished"),
        ]
    )
    code, result = await run_smoke(openhands)
    assert code == 0, result
    assert result["passed"] is True and result["files"] == ["tta_smoke/hello.py"]


async def test_smoke_fails_on_the_condensation_loop(openhands: FakeOpenHands) -> None:
    openhands.scenario = storm()
    code, result = await run_smoke(openhands)
    assert code == 1
    assert result["reason"] == "condensation_loop"
    assert result["condensations"] >= 3


async def test_smoke_fails_when_no_file_is_made(openhands: FakeOpenHands) -> None:
    openhands.scenario = script([state("running"), action("finish"), state("finished")])
    code, result = await run_smoke(openhands)
    assert code == 1 and "without creating" in str(result["message"])
