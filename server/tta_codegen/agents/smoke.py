"""The re-activation smoke test (ADR-001): can this OpenHands server generate a file?

    python -m tta_codegen.agents.smoke --base-url http://127.0.0.1:3000 [--api-key-env NAME]

Starts one small task that must create a file, runs it under the usual guards, and
checks that the agent really produced the file (a confirmed change with the expected
content) and finished on its own: no condensation loop, no hang. It changes nothing on
this machine (the change is inspected, not applied). Prints one JSON line; exit 0 on a
pass, 1 on a failure, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from tta_codegen.agents.events import AgentEnded, AgentTask, FileChange, WriteFile
from tta_codegen.agents.openhands import OpenHandsBackend
from tta_codegen.agents.settings import OpenHandsSettings

TARGET = PurePosixPath("tta_smoke/hello.py")
TASK = (
    "Create the file {root}/tta_smoke/hello.py containing a Python function "
    "`def hello() -> str` that returns the string 'hello'. Do not change any other file. "
    "Finish when the file exists."
)


@dataclass
class SmokeResult:
    passed: bool
    reason: str
    message: str
    iterations: int = 0
    cost_usd: float = 0.0
    condensations: int = 0
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


async def run_smoke(
    settings: OpenHandsSettings, environ: dict[str, str] | None = None
) -> SmokeResult:
    backend = OpenHandsBackend(settings, environ=environ)
    files: list[str] = []
    wrote_target = False
    condensations = 0
    end: AgentEnded | None = None
    try:
        health = await backend.health()
        if not health.ok:
            return SmokeResult(False, "unavailable", health.detail)
        task = AgentTask(TASK.format(root=settings.sandbox_root), settings.sandbox_root)
        run = backend.start(task)
        async for event in run.events():
            if isinstance(event, FileChange):
                files.append(event.path.as_posix())
                if (
                    event.path == TARGET
                    and isinstance(event.op, WriteFile)
                    and "def hello" in event.op.content
                ):
                    wrote_target = True
            elif isinstance(event, AgentEnded):
                end = event
        condensations = run.guard.condensations_total
    finally:
        await backend.aclose()
    assert end is not None
    passed = end.outcome == "finished" and wrote_target
    message = end.message
    if end.outcome == "finished" and not wrote_target:
        message = f"the agent finished without creating {TARGET} with hello(): {end.message}"
    return SmokeResult(
        passed, end.reason, message, end.iterations, end.cost_usd, condensations, files
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tta_codegen.agents.smoke", description=__doc__)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--api-key-env", default="OPENHANDS_API_KEY")
    ap.add_argument("--auth", choices=["session", "bearer"], default="session")
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--max-iterations", type=int, default=30)
    args = ap.parse_args(argv)
    settings = OpenHandsSettings(
        enabled=True,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        auth=args.auth,
        time_limit_s=args.time_limit,
        max_iterations=args.max_iterations,
    )
    result = asyncio.run(run_smoke(settings))
    print(json.dumps(result.to_json()))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
