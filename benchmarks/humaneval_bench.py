"""HumanEval through the CLI, as a user runs it: single shot vs the full candidate pipeline.

    python -m benchmarks.humaneval_bench                # all 164 problems
    python -m benchmarks.humaneval_bench --limit 20     # the first 20
    python -m benchmarks.humaneval_bench --limit 20 --out /tmp/he.json
    python -m benchmarks.humaneval_bench --start 93 --out b.json   # problems 93.. only
    python -m benchmarks.humaneval_bench --merge a.partial.json b.json --out all.json

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

The whole 164 take hours on 2 cores, so a run can be split: ``--start K`` skips the first K
problems (a second process on the other core), and ``--merge`` joins the shards' reports
(a final one or the ``.partial.json`` a stopped run leaves) into one, summarised afresh.
Each process runs one CLI at a time, so both modes of a problem still share its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
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
    if not head and (ROOT / "COMMIT").is_file():
        # A snapshot (git archive) of the tree, so the run is immune to later edits.
        return (ROOT / "COMMIT").read_text().strip() + "-snapshot"
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
    # One workspace path for both modes (emptied in between): the prompt names the file's
    # path, so two paths would be two prompts and two different greedy answers, and the
    # comparison would measure that noise instead of the pipeline.
    name = problem["task_id"].replace("/", "_")
    ws = scratch / name
    if ws.exists():
        await asyncio.to_thread(shutil.rmtree, ws)
    ws.mkdir(parents=True)
    (ws / "solution.py").write_text(problem["prompt"], encoding="utf-8")
    (ws / "pyproject.toml").write_text(project_config(max_tokens), encoding="utf-8")
    log = scratch / f"{name}-{mode}.candidates.jsonl"
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
        drawn = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        files = [c["file"] for c in drawn]
        verdicts = {f: await judge(problem, f, ws) for f in dict.fromkeys(files)}
        row["candidates"] = len(files)
        row["candidates_passing"] = sum(verdicts[f] for f in files)
        row["any_candidate_passes"] = any(verdicts.values())
        # Each candidate's own verdict beside what the gates said of it, so a selection
        # policy can be replayed from the JSON alone.
        row["drawn"] = [
            {
                "temperature": c.get("temperature"),
                "seconds": c.get("seconds"),
                "truncated": c.get("truncated"),
                "chosen": c.get("chosen"),
                "gates": {g["name"]: g["passed"] for g in c.get("gates") or []},
                "hidden_tests_pass": verdicts[c["file"]],
            }
            for c in drawn
        ]
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


async def run(
    limit: int | None,
    max_tokens: int,
    log: Any = print,
    partial: Path | None = None,
    start: int = 0,
) -> dict[str, Any]:
    """The report; with ``partial``, the summary so far is rewritten there after each problem
    (a long run stopped early still leaves its figures). ``start`` skips the first problems
    (one shard of a split run)."""
    problems = load_problems(None if limit is None else start + limit)[start:]
    implement_help = await asyncio.to_thread(cli_help, "implement")
    implement = implement_help is not None
    generate_help = await asyncio.to_thread(cli_help, "generate")
    allow = "--allow-failing" in (implement_help or generate_help or "")
    header = {
        "benchmark": "HumanEval via the CLI (humaneval_bench.py)",
        "command": "implement" if implement else "generate --file (no implement command yet)",
        "model": "embedded (zero-key default)",
        "start": start,
        "max_tokens": max_tokens,
        "n_threads": N_THREADS,
        "commit": await asyncio.to_thread(_commit),
        "machine": machine(),
        "loadavg_before": _loadavg(),
    }
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
            if partial is not None:
                so_far = {m: summarise(rows[m]) for m in MODES}
                text = json.dumps({**header, "done": i + 1, "summary": so_far, "per_problem": rows})
                await asyncio.to_thread(partial.write_text, text, "utf-8")
    return {
        **header,
        "problems": len(problems),
        "loadavg_after": _loadavg(),
        "total_seconds": round(time.perf_counter() - started, 1),
        **summarised(rows),
    }


def _loadavg() -> list[str]:
    path = Path("/proc/loadavg")
    return path.read_text().split()[:3] if path.exists() else []


def summarised(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The per-mode summaries, the pipeline-to-single-shot ratios and the rows themselves."""
    summary = {m: summarise(rows[m]) for m in MODES}
    single, pipe = summary["single_shot"], summary["pipeline"]
    return {
        "summary": summary,
        "pipeline_vs_single": {
            "pass_ratio": round(pipe["solved"] / single["solved"], 2) if single["solved"] else None,
            "wall_ratio": round(pipe["mean_seconds"] / single["mean_seconds"], 2)
            if single["mean_seconds"]
            else None,
        },
        "per_problem": rows,
    }


def _task_number(row: dict[str, Any]) -> int:
    return int(str(row["task_id"]).rsplit("/", 1)[-1])


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report from the shards of a split run: their rows in problem order, summarised
    afresh. A problem only counts when both modes finished it (a stopped shard may have
    run the single shot of a problem but not its pipeline); a problem two shards both ran
    is an error, not a silent pick."""
    if not reports:
        raise BenchmarkError("--merge needs at least one report")
    # A partial report from before the header was saved with it has no commit to compare.
    commits = {r["commit"] for r in reports if "commit" in r}
    if len(commits) > 1:
        raise BenchmarkError(f"the shards ran different commits: {sorted(map(str, commits))}")
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    seen: set[str] = set()
    for report in reports:
        per = report["per_problem"]
        both = {r["task_id"] for r in per["single_shot"]} & {r["task_id"] for r in per["pipeline"]}
        twice = both & seen
        if twice:
            raise BenchmarkError(f"problems in more than one shard: {sorted(twice)}")
        seen |= both
        for m in MODES:
            rows[m] += [r for r in per[m] if r["task_id"] in both]
    for m in MODES:
        rows[m].sort(key=_task_number)
    keep = ("benchmark", "command", "model", "max_tokens", "n_threads", "commit", "machine")
    header = {k: r[k] for r in reversed(reports) for k in keep if k in r}
    return {
        **header,
        "problems": len(rows["pipeline"]),
        "shards": [
            {
                "start": r.get("start"),
                "problems": len({x["task_id"] for x in r["per_problem"]["pipeline"]}),
                "loadavg_before": r.get("loadavg_before"),
                "loadavg_after": r.get("loadavg_after"),
                "total_seconds": r.get("total_seconds"),
                "stopped_early": "done" in r,
            }
            for r in reports
        ],
        **summarised(rows),
    }


def _report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchmarkError(f"{path}: not a benchmark report ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("per_problem"), dict):
        raise BenchmarkError(f"{path}: not a benchmark report (no per_problem rows)")
    return data


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
    ap.add_argument("--start", type=int, default=0, help="skip the first K problems (a shard)")
    ap.add_argument(
        "--merge", type=Path, nargs="+", metavar="REPORT",
        help="join the reports of a split run (final or .partial.json) instead of running",
    )  # fmt: skip
    ap.add_argument("--out", type=Path, default=ROOT / ".tools" / "benchmarks" / "humaneval.json")
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        if args.merge:
            report = merge([_report(p) for p in args.merge])
        else:
            report = asyncio.run(
                run(
                    args.limit,
                    args.max_tokens,
                    lambda m: print(m, file=sys.stderr, flush=True),
                    partial=args.out.with_suffix(".partial.json"),
                    start=args.start,
                )
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
