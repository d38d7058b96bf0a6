"""HumanEval through the CLI, as a user runs it: single shot vs the full candidate pipeline.

    python -m benchmarks.humaneval_bench                # all 164 problems
    python -m benchmarks.humaneval_bench --limit 20     # the first 20
    python -m benchmarks.humaneval_bench --limit 20 --out /tmp/he.json

For each problem a throwaway workspace holds ``solution.py`` (the problem's prompt: imports,
helpers, the stub with its docstring) and a ``tta-codegen.toml`` (the token limit, no
index). The CLI implements the stub in place —
``tta-codegen implement --file solution.py --symbol ENTRY --json --yes --allow-failing`` —
once with ``--no-refine`` (the single shot: one answer, default gates judge it) and once
with the defaults (the pipeline: up to K candidates, selected by the gates), same model,
same token limit, same run. The problem's hidden tests never enter the workspace (the
tests gate would find them); the benchmark runs them afterwards on the file the CLI wrote,
in the gate sandbox (a subprocess), never in-process. The candidates the pipeline drew are
read from ``TTA_CODEGEN_CANDIDATES_LOG`` (the file each would have produced), so pass@K —
any candidate passes the hidden tests — shows the ceiling the selection works under.

Reported per mode: pass@1, % syntax-valid, answers ``completed`` whose file does not parse
(must be 0), answers ``truncated``, the statuses, mean and p95 wall time per problem (the
whole CLI process: start, model load, generation, gates), and the machine, its load and
the commit. When the CLI has no ``implement`` command yet, ``generate --file`` (appending
a whole function) stands in and the report says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, BenchmarkError, machine
from benchmarks.quality_bench import description, load_problems, test_file
from tta_codegen.gates.runner import run_gates
from tta_codegen.gates.settings import GatesConfig
from tta_codegen.gates.types import GateInput

TEST_FILE = "test_solution.py"
MODES = ("single_shot", "pipeline")
JUDGE = GatesConfig.model_validate(
    {"enabled": ["tests"], "timeout_s": 30, "tests": {"autoload_plugins": False}}
)


# One llama.cpp thread: on cores shared with other work, more threads wait on each other at
# every token (measured here: 80+ s a problem with 2 threads at load 8, 15 s with one).
N_THREADS = 1


def project_config(max_tokens: int) -> str:
    return (
        "[tool.tta-codegen.generation]\n"
        f"max_tokens = {max_tokens}\n"
        "temperature = 0.0\n\n"
        "[tool.tta-codegen.context]\n"
        "index = false\n\n"
        "[tool.tta-codegen.providers.embedded]\n"
        'kind = "llamacpp"\n'
        f"n_threads = {N_THREADS}\n"
    )


def _commit() -> str:
    """HEAD, marked ``-dirty`` when tracked files differ from it."""
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    status = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    return head + ("-dirty" if status else "")


def cli_help(command: str) -> str | None:
    """The CLI's help for ``command``, or None when there is no such command."""
    done = subprocess.run(
        [sys.executable, "-m", "tta_codegen", command, "--help"],
        capture_output=True, text=True, cwd=ROOT, env=_env(None),
    )  # fmt: skip
    return done.stdout if done.returncode == 0 else None


def _env(log: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "server"), env.get("PYTHONPATH", "")) if p
    )
    # No user config: the zero-key default (the embedded model) and the defaults we ship.
    env["XDG_CONFIG_HOME"] = str(Path(tempfile.gettempdir()) / "tta-bench-no-user-config")
    for name in list(env):
        if name.startswith("TTA_CODEGEN_"):
            del env[name]
    if log is not None:
        env["TTA_CODEGEN_CANDIDATES_LOG"] = str(log)
    return env


def _argv(problem: dict[str, Any], implement: bool, single: bool, allow: bool) -> list[str]:
    cli = [sys.executable, "-m", "tta_codegen"]
    if implement:
        argv = [*cli, "implement", "--file", "solution.py", "--symbol", problem["entry_point"]]
    else:
        argv = [*cli, "generate", description(problem), "--file", "solution.py"]
    # The file is judged as written: failing answers must be written too.
    argv += ["--json", "--yes", *(["--allow-failing"] if allow else [])]
    if single:
        argv.append("--no-refine")
    return argv


async def judge(problem: dict[str, Any], text: str, ws: Path) -> bool:
    """The hidden tests on ``text`` as solution.py, in the gate sandbox."""
    inp = GateInput(
        path="solution.py",
        text=text,
        language="python",
        workspace_root=ws,
        extra_files={TEST_FILE: test_file(problem)},
        test_targets=[TEST_FILE],
    )
    results = await run_gates(inp, JUDGE)
    gate = next((g for g in results if g.name == "tests"), None)
    if gate is None or gate.skipped:
        raise BenchmarkError("the judge's tests gate did not run (is pytest installed?)")
    return gate.passed


def parses(text: str) -> bool:
    try:
        compile(text, "solution.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


async def run_one(
    problem: dict[str, Any],
    mode: str,
    scratch: Path,
    implement: bool,
    allow: bool,
    max_tokens: int,
) -> dict[str, Any]:
    ws = scratch / f"{problem['task_id'].replace('/', '_')}-{mode}"
    ws.mkdir(parents=True)
    (ws / "solution.py").write_text(problem["prompt"], encoding="utf-8")
    (ws / "pyproject.toml").write_text(project_config(max_tokens), encoding="utf-8")
    log = scratch / f"{ws.name}.candidates.jsonl"
    started = time.perf_counter()
    done = await asyncio.to_thread(
        subprocess.run,
        _argv(problem, implement, mode == "single_shot", allow),
        cwd=ws, capture_output=True, text=True, env=_env(log), timeout=900,
    )  # fmt: skip
    wall = time.perf_counter() - started
    try:
        answer: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        answer = {"status": "no-json", "error": (done.stderr or done.stdout)[-300:]}
    final = (ws / "solution.py").read_text(encoding="utf-8")
    written = final != problem["prompt"]
    row: dict[str, Any] = {
        "task_id": problem["task_id"],
        "status": answer.get("status"),
        "exit": done.returncode,
        "iterations": answer.get("iterations"),
        "seconds": round(wall, 2),
        "written": written,
        "syntax_ok": written and parses(final),
        "passed": written and await judge(problem, final, ws),
        "gates": {g["name"]: g["passed"] for g in answer.get("gates") or []},
        "error": answer.get("error"),
    }
    row["completed_not_parsing"] = row["status"] == "completed" and not row["syntax_ok"]
    if log.is_file():
        files = [json.loads(line)["file"] for line in log.read_text(encoding="utf-8").splitlines()]
        verdicts = {f: await judge(problem, f, ws) for f in dict.fromkeys(files)}
        row["candidates"] = len(files)
        row["candidates_passing"] = sum(verdicts[f] for f in files)
        row["any_candidate_passes"] = any(verdicts.values())
    return row


def _p95(xs: list[float]) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    walls = [r["seconds"] for r in rows]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    solved = sum(r["passed"] for r in rows)
    out: dict[str, Any] = {
        "problems": n,
        "solved": solved,
        "pass_at_1": round(solved / n, 3),
        "syntax_valid_rate": round(sum(r["syntax_ok"] for r in rows) / n, 3),
        "completed_not_parsing": sum(r["completed_not_parsing"] for r in rows),
        "truncated": statuses.get("truncated", 0),
        "statuses": statuses,
        "mean_seconds": round(statistics.fmean(walls), 2),
        "p95_seconds": round(_p95(walls), 2),
        "solved_ids": [r["task_id"] for r in rows if r["passed"]],
    }
    with_candidates = [r for r in rows if "candidates" in r]
    if with_candidates:
        ceiling = sum(r["any_candidate_passes"] for r in with_candidates)
        out["pass_at_k_ceiling"] = round(ceiling / n, 3)
        out["ceiling_solved"] = ceiling
        out["selection_share_of_ceiling"] = round(solved / ceiling, 3) if ceiling else None
        out["mean_candidates"] = round(
            statistics.fmean(r["candidates"] for r in with_candidates), 2
        )
    return out


async def run(limit: int | None, max_tokens: int, log: Any = print) -> dict[str, Any]:
    problems = load_problems(limit)
    implement_help = await asyncio.to_thread(cli_help, "implement")
    implement = implement_help is not None
    generate_help = await asyncio.to_thread(cli_help, "generate")
    allow = "--allow-failing" in (implement_help or generate_help or "")
    load_before = (
        Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    )
    commit = await asyncio.to_thread(_commit)
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tta-bench-he-cli-") as tmp:
        scratch = Path(tmp)
        for i, problem in enumerate(problems):
            # Modes interleaved per problem: a load change hits both alike.
            for mode in MODES:
                row = await run_one(problem, mode, scratch, implement, allow, max_tokens)
                rows[mode].append(row)
                log(
                    f"[{i + 1}/{len(problems)}] {problem['task_id']} {mode}: "
                    f"{'PASS' if row['passed'] else 'fail'} {row['status']} "
                    f"{row['seconds']:.1f} s"
                    + (f" cand {row.get('candidates_passing')}/{row.get('candidates')}"
                       if "candidates" in row else "")
                )  # fmt: skip
    load_after = (
        Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    )
    summary = {m: summarise(rows[m]) for m in MODES}
    single, pipe = summary["single_shot"], summary["pipeline"]
    return {
        "benchmark": "HumanEval via the CLI (humaneval_bench.py)",
        "command": "implement" if implement else "generate --file (no implement command yet)",
        "model": "embedded (zero-key default)",
        "problems": len(problems),
        "max_tokens": max_tokens,
        "n_threads": N_THREADS,
        "commit": commit,
        "machine": machine(),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "total_seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "pipeline_vs_single": {
            "pass_ratio": round(pipe["solved"] / single["solved"], 2) if single["solved"] else None,
            "wall_ratio": round(pipe["mean_seconds"] / single["mean_seconds"], 2)
            if single["mean_seconds"]
            else None,
        },
        "per_problem": rows,
    }


def table(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        "| | single shot | pipeline |",
        "|---|---|---|",
    ]

    def row(label: str, key: str, fmt: str = "{}") -> None:
        cells = [fmt.format(s[m][key]) if s[m].get(key) is not None else "-" for m in MODES]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")

    row("pass@1", "pass_at_1", "{:.1%}")
    row("solved", "solved")
    row("pass@K ceiling (any candidate)", "pass_at_k_ceiling", "{:.1%}")
    row("syntax-valid", "syntax_valid_rate", "{:.1%}")
    row("`completed` but not parsing", "completed_not_parsing")
    row("truncated", "truncated")
    row("mean wall / problem", "mean_seconds", "{} s")
    row("p95 wall / problem", "p95_seconds", "{} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.humaneval_bench")
    ap.add_argument("--limit", type=int, help="first N problems (default: all 164)")
    ap.add_argument("--max-tokens", type=int, default=512, help="token limit, both modes")
    ap.add_argument("--out", type=Path, default=ROOT / ".tools" / "benchmarks" / "humaneval.json")
    args = ap.parse_args(argv)
    try:
        report = asyncio.run(
            run(args.limit, args.max_tokens, lambda m: print(m, file=sys.stderr, flush=True))
        )
    except BenchmarkError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    print(f"\nJSON: {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
