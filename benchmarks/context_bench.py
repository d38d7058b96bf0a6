"""Context index benchmark: index build, incremental update, retrieval latency and quality.

    python -m benchmarks.context_bench                 # stdlib + 10,000-file tree
    python -m benchmarks.context_bench --tree stdlib   # one tree
    python -m benchmarks.context_bench --root DIR      # any folder

Prints one JSON object. Each tree runs in its own process, so peak RSS is per tree.
Measured: full index (cold cache), rescan after a restart with nothing changed,
incremental update of one edited file (median/max of 10 edits), retrieval latency
p50/p95 and self-retrieval recall@5 (functions queried by their own docstring), the
latency of a whole ``gather`` (retrieval + repo map + packing), and peak RSS.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from tta_codegen.config import Config
from tta_codegen.context.index import IndexSettings, WorkspaceIndex
from tta_codegen.context.provider import WorkspaceContext
from tta_codegen.context.retrieve import Query, retrieve
from tta_codegen.context.settings import ContextConfig
from tta_codegen.context.store import IndexStore, index_path_for
from tta_codegen.request import insert_request

_WORDS = (
    "account buffer cache channel checksum client codec config cursor datagram decoder "
    "digest encoder entry event frame gateway handler header index inventory invoice "
    "journal ledger lexer mailbox manifest matrix message metric order packet parser "
    "payload pipeline planner policy queue quota record registry report request route "
    "sampler schedule schema segment session shard signal snapshot socket stream "
    "subscriber table tenant thread ticket timer token topic tracker transaction vector "
    "voucher widget window worker"
)
WORDS = _WORDS.split()
_VERBS = (
    "parse load save merge split render validate compute encode decode flush open close "
    "send receive resolve rotate compress expand filter sort index publish retry"
)
VERBS = _VERBS.split()


_SYLLABLES = "ka lo mi nu re sa ti vo ze bra clo dri fle gru pla sti tro wen yar qui"
SYLLABLES = _SYLLABLES.split()


def _vocabulary(rng: random.Random, n: int) -> list[str]:
    """Made-up domain words, so docstrings differ the way real ones do."""
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))))
    return sorted(words)


def make_tree(root: Path, n_files: int, seed: int = 7) -> None:
    """A synthetic Python project: packages of modules that import each other."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng, 4000)
    per_pkg = 50
    for i in range(n_files):
        pkg = f"pkg{i // per_pkg:03d}"
        d = root / pkg
        d.mkdir(parents=True, exist_ok=True)
        if i % per_pkg == 0:
            (d / "__init__.py").write_text(f'"""Package {pkg}."""\n')
            continue
        lines = [f'"""Module {i}: {rng.choice(WORDS)} {rng.choice(WORDS)} helpers."""', ""]
        for _ in range(3):
            j = rng.randrange(n_files)
            if j % per_pkg:
                lines.append(f"from pkg{j // per_pkg:03d} import mod{j:05d}")
        lines.append("")
        for k in range(rng.randint(2, 5)):
            verb, a, b = rng.choice(VERBS), rng.choice(WORDS), rng.choice(WORDS)
            name = f"{verb}_{a}_{b}_{k}"
            lines += [
                "",
                f"def {name}({a}, {b}=None):",
                f'    """{verb.capitalize()} the {a} into a {b}, keeping the {rng.choice(vocab)} '
                f'{rng.choice(vocab)} of every {rng.choice(vocab)} {rng.choice(vocab)}."""',
                f"    result = [{a}, {b}]",
                f"    for item in {a}:",
                "        result.append(item)",
                "    return result",
            ]
        lines += ["", f"class {rng.choice(WORDS).capitalize()}{i}:", '    """A holder."""', "",
                  "    def run(self):", "        return None", ""]  # fmt: skip
        (d / f"mod{i:05d}.py").write_text("\n".join(lines))


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _ms(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {
        "p50_ms": round(statistics.median(xs) * 1000, 2),
        "p95_ms": round(xs[min(len(xs) - 1, int(len(xs) * 0.95))] * 1000, 2),
        "max_ms": round(xs[-1] * 1000, 2),
    }


def _samples(db: Path, n: int, seed: int = 1) -> list[tuple[str, int, str]]:
    """(path, start line, docstring) of ``n`` functions that have a real docstring."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT path, start, text FROM chunks WHERE kind IN ('function', 'method')"
    ).fetchall()
    conn.close()
    rng = random.Random(seed)
    rng.shuffle(rows)
    out: list[tuple[str, int, str]] = []
    for path, start, text in rows:
        src = textwrap.dedent(text.split("\n... (")[0])
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        fn = tree.body[0] if tree.body else None
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        doc = ast.get_docstring(fn)
        if doc and len(doc) >= 20:
            out.append((path, start, doc))
        if len(out) >= n:
            break
    return out


def _edit_targets(index: WorkspaceIndex, n: int) -> list[Path]:
    py = sorted(p for p in index.files if p.endswith(".py"))
    rng = random.Random(3)
    return [Path(p) for p in rng.sample(py, min(n, len(py)))]


def bench_tree(root: Path, ignore: list[str], workers: int, queries: int) -> dict[str, Any]:
    cache = Path(tempfile.mkdtemp(prefix="tta-bench-"))
    work = Path(tempfile.mkdtemp(prefix="tta-bench-tree-"))
    try:
        settings = IndexSettings(ignore=tuple(ignore), workers=workers)
        db = index_path_for([root], cache)
        t0 = time.perf_counter()
        cpu0 = _cpu()
        index = WorkspaceIndex([root], IndexStore(db), settings)
        scan = index.scan()
        full_s = time.perf_counter() - t0
        main_cpu, workers_cpu = (a - b for a, b in zip(_cpu(), cpu0, strict=True))
        index.store.close()

        # A restart: a new index object on the same database, nothing changed on disk.
        t0 = time.perf_counter()
        index = WorkspaceIndex([root], IndexStore(db), settings)
        rescan = index.scan()
        rescan_s = time.perf_counter() - t0

        # Incremental: edit copies of real files placed in the tree's own index via
        # update_text (an editor buffer) and update_file (a save) on a scratch root.
        times_text: list[float] = []
        for path in _edit_targets(index, 10):
            text = path.read_text(encoding="utf-8", errors="replace")
            edited = text + "\n\ndef added_by_benchmark_edit():\n    return 42\n"
            t0 = time.perf_counter()
            index.update_text(path, edited)
            times_text.append(time.perf_counter() - t0)
            index.update_text(path, text)  # put it back

        samples = _samples(db, queries)
        latencies: list[float] = []
        found = 0
        for path, start, doc in samples:
            q = Query(description=doc, code="", current_path=None, exclude_lines=None)
            t0 = time.perf_counter()
            hits = retrieve(index, q, 5)
            latencies.append(time.perf_counter() - t0)
            if any(e.hit.path == path and e.hit.start == start for e in hits):
                found += 1
        stats = index.store.stats()
        index.store.close()

        gather_times = asyncio.run(_bench_gather(root, cache, ignore, workers, samples[:50]))
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {
            "root": str(root),
            "files": scan.files,
            "indexed_files": stats["files"],
            "chunks": stats["chunks"],
            "index_mb": round(os.path.getsize(db) / 1e6, 1),
            "full_index_s": round(full_s, 2),
            # CPU seconds, independent of how busy the machine was: the wall time on two
            # idle cores is about max(main, workers / 2).
            "full_index_cpu_s": {"main": round(main_cpu, 2), "workers": round(workers_cpu, 2)},
            "load_average_1m": round(os.getloadavg()[0], 2),
            "workers": workers,
            "rescan_unchanged_s": round(rescan_s, 2),
            "rescan_parsed": rescan.parsed,
            "incremental_update": _ms(times_text),
            "retrieval": {**_ms(latencies), "queries": len(samples)},
            "recall_at_5": round(found / len(samples), 3) if samples else None,
            "gather": _ms(gather_times) if gather_times else None,
            "peak_rss_mb": round(rss_mb, 1),
            "peak_worker_rss_mb": round(child_mb, 1),
        }
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


async def _bench_gather(
    root: Path, cache: Path, ignore: list[str], workers: int, samples: list[tuple[str, int, str]]
) -> list[float]:
    cfg = ContextConfig(ignore=ignore, index_workers=workers)
    config = Config(context=cfg)
    provider = WorkspaceContext([root], cfg, cache_dir=cache)
    await provider.start()
    times: list[float] = []
    texts = {
        p: await asyncio.to_thread(Path(p).read_text, encoding="utf-8", errors="replace")
        for p, _, _ in samples
    }
    for path, start, doc in samples:
        text = texts[path]
        offset = sum(len(line) for line in text.splitlines(keepends=True)[: start - 1])
        request = insert_request(
            path=path, language="python", text=text, offset=offset, description=doc
        )
        t0 = time.perf_counter()
        await provider.gather(request, config)
        times.append(time.perf_counter() - t0)
    await provider.close()
    return times


def _child(args: argparse.Namespace, tree: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.context_bench", "--one", tree,
           "--files", str(args.files), "--workers", str(args.workers),
           "--queries", str(args.queries)]  # fmt: skip
    if args.root:
        cmd += ["--root", args.root]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run_one(args: argparse.Namespace, tree: str) -> dict[str, Any]:
    if tree == "stdlib":
        root = Path(sysconfig.get_paths()["stdlib"])
        # Installed packages are not the standard library.
        return bench_tree(root, ["site-packages/", "dist-packages/"], args.workers, args.queries)
    if tree == "root":
        return bench_tree(Path(args.root).resolve(), [], args.workers, args.queries)
    base = Path(tempfile.mkdtemp(prefix="tta-bench-gen-"))
    try:
        t0 = time.perf_counter()
        make_tree(base / "project", args.files)
        generated_s = time.perf_counter() - t0
        result = bench_tree(base / "project", [], args.workers, args.queries)
        result["generated_s"] = round(generated_s, 2)
        return result
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", choices=["stdlib", "synthetic", "both"], default="both")
    parser.add_argument("--root", help="benchmark this folder instead")
    parser.add_argument("--files", type=int, default=10_000, help="synthetic tree size")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args, args.one)))
        return
    trees = (
        ["root"] if args.root else (["stdlib", "synthetic"] if args.tree == "both" else [args.tree])
    )
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "targets": {
            "full_stdlib_index_s": 10,
            "incremental_ms": 50,
            "retrieval_p95_ms": 30,
            "rss_mb": 300,
            "recall_at_5": 0.8,
        },
    }
    for tree in trees:
        report[tree] = _child(args, tree)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
