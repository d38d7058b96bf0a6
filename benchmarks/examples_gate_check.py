"""The `examples` gate on HumanEval's canonical solutions: how many problems have examples,
and how often a correct solution fails them (a wrong parse, or a wrong example).

    python -m benchmarks.examples_gate_check

A gate that fails correct code would make the candidate selection throw good answers away;
this is its false-failure rate on a public set.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from benchmarks.quality_bench import load_problems
from tta_codegen.gates.definition import required_definitions
from tta_codegen.gates.examples import examples_for
from tta_codegen.gates.runner import run_gates
from tta_codegen.gates.settings import GatesConfig
from tta_codegen.gates.types import GateInput


async def main() -> None:
    conf = GatesConfig.model_validate({"enabled": ["syntax", "definition", "examples"]})
    ws = Path(tempfile.mkdtemp())
    with_ex = passed = 0
    fails: list[tuple[str, str, str]] = []
    counts: list[int] = []
    for p in load_problems(None):
        prompt = p["prompt"]
        req = required_definitions(prompt, len(prompt), len(prompt), "")
        text = prompt + p["canonical_solution"]
        inp = GateInput("solution.py", text, "python", ws, description="", required=req)
        ex = examples_for(inp)
        if not ex:
            continue
        with_ex += 1
        counts.append(len(ex))
        res = await run_gates(inp, conf)
        if all(r.passed for r in res):
            passed += 1
        else:
            bad = next(r for r in res if not r.passed)
            fails.append((p["task_id"], bad.name, (bad.message or "")[:200]))
    summary = {
        "problems": 164,
        "with_examples": with_ex,
        "mean_examples": round(sum(counts) / len(counts), 2),
        "canonical_pass": passed,
        "canonical_fail": len(fails),
        "failures": fails,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
