"""Start-up (issue 18): process start -> ``initialize`` answered, beside bare pygls, one run.

    python -m benchmarks startup            # or: python -m benchmarks.startup_bench [--runs N]

Each run starts, in turn (interleaved, so load hits every line alike):

- ``python -c pass``: the interpreter alone, the floor;
- ``tta-codegen --help``;
- a bare pygls ``LanguageServer`` with no features (what pygls + lsprotocol cost);
- ``tta-codegen serve`` with an empty cache (``initialize`` answered by pygls itself: the
  first start for a client and server version), and again with the cache the previous
  start left (the early answer, ``lsp/fastinit.py``).

Every server gets the same VS Code client capabilities; after ``initialize`` it is sent
``initialized`` and a ``tta.listPrompts`` command (for pygls: ``shutdown``), so *ready* is
when the server really serves, not only when it said hello. The JSON has the machine and
the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from benchmarks._common import ROOT, BenchmarkError, machine, summary_ms

BARE_PYGLS = "from pygls.lsp.server import LanguageServer\nLanguageServer('bare', '1').start_io()\n"


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read(out: IO[bytes]) -> dict[str, Any]:
    length = 0
    while True:
        line = out.readline()
        if not line:
            raise BenchmarkError("the server closed its stdout before answering")
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif line == b"\r\n" and length:
            message: dict[str, Any] = json.loads(out.read(length))
            return message


def _capabilities() -> dict[str, Any]:
    from lsprotocol.converters import get_converter
    from pytest_lsp import client_capabilities

    caps: dict[str, Any] = get_converter().unstructure(client_capabilities("visual-studio-code"))
    return caps


def _tta_command() -> list[str]:
    script = Path(sys.executable).parent / "tta-codegen"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "tta_codegen"]


def time_process(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of a command that just runs and exits (its output discarded)."""
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.returncode != 0:
        raise BenchmarkError(f"{argv} exited {done.returncode}")
    return time.perf_counter() - t0


def time_server(
    argv: list[str], env: dict[str, str], root: Path, caps: dict[str, Any], command: bool
) -> tuple[float, float]:
    """(start -> initialize answered, start -> first request after it answered)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        params = {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": caps}
        proc.stdin.write(
            _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
        )
        proc.stdin.flush()
        answer = _read(proc.stdout)
        t_init = time.perf_counter() - t0
        if answer.get("id") != 1 or "result" not in answer:
            raise BenchmarkError(f"{argv}: bad initialize answer {answer}")
        proc.stdin.write(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        if command:
            request: dict[str, Any] = {
                "jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
                "params": {"command": "tta.listPrompts", "arguments": [{}]},
            }  # fmt: skip
        else:
            request = {"jsonrpc": "2.0", "id": 2, "method": "shutdown"}
        proc.stdin.write(_frame(request))
        proc.stdin.flush()
        while True:
            message = _read(proc.stdout)
            if message.get("id") == 2 and "method" not in message:
                break
            if "id" in message and "method" in message:  # the server asks (configuration...)
                result: Any = [None] if message["method"] == "workspace/configuration" else None
                proc.stdin.write(_frame({"jsonrpc": "2.0", "id": message["id"], "result": result}))
                proc.stdin.flush()
        t_ready = time.perf_counter() - t0
        if "error" in message:
            raise BenchmarkError(f"{argv}: {request['method']} failed: {message}")
        if command:
            proc.stdin.write(_frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
        proc.stdin.write(_frame({"jsonrpc": "2.0", "method": "exit"}))
        proc.stdin.flush()
        proc.wait(60)  # a hang guard; exit takes milliseconds
        return t_init, t_ready
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run(runs: int = 20, log: Any = print) -> dict[str, Any]:
    report: dict[str, Any] = {"machine": machine(), "runs": runs}
    caps = _capabilities()
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "python_pass", "help", "bare_pygls_initialize", "bare_pygls_ready",
            "cold_initialize", "cold_ready", "warm_initialize", "warm_ready",
        )
    }  # fmt: skip
    tta = _tta_command()
    with tempfile.TemporaryDirectory(prefix="tta-bench-start-") as tmp:
        root = Path(tmp) / "ws"
        root.mkdir()
        (root / "app.py").write_text("def main():\n    return 0\n")
        bare = Path(tmp) / "bare_pygls.py"
        bare.write_text(BARE_PYGLS)
        env = dict(os.environ)
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
            env[name] = str(Path(tmp) / name.lower())
        warm_cache = Path(tmp) / "warm-cache"
        env["XDG_CACHE_HOME"] = str(warm_cache)
        time_server([*tta, "serve"], env, root, caps, command=True)  # fills the warm cache
        for i in range(runs):
            samples["python_pass"].append(time_process([sys.executable, "-c", "pass"], env))
            samples["help"].append(time_process([*tta, "--help"], env))
            a, b = time_server([sys.executable, str(bare)], env, root, caps, command=False)
            samples["bare_pygls_initialize"].append(a)
            samples["bare_pygls_ready"].append(b)
            cold = Path(tmp) / f"cold-{i}"
            a, b = time_server(
                [*tta, "serve"], {**env, "XDG_CACHE_HOME": str(cold)}, root, caps, command=True
            )
            shutil.rmtree(cold, ignore_errors=True)
            samples["cold_initialize"].append(a)
            samples["cold_ready"].append(b)
            a, b = time_server([*tta, "serve"], env, root, caps, command=True)
            samples["warm_initialize"].append(a)
            samples["warm_ready"].append(b)
            log(f"startup run {i + 1}/{runs}: warm initialize {a * 1000:.0f} ms")
    for key, xs in samples.items():
        report[key] = summary_ms(xs)
    p50 = {k: report[k]["p50_ms"] for k in samples}
    report["ratios_p50"] = {
        "warm_initialize_over_bare_pygls": round(p50["warm_initialize"] / p50["bare_pygls_initialize"], 2),
        "cold_initialize_over_bare_pygls": round(p50["cold_initialize"] / p50["bare_pygls_initialize"], 2),
        "warm_initialize_minus_python_ms": round(p50["warm_initialize"] - p50["python_pass"], 1),
        "help_minus_python_ms": round(p50["help"] - p50["python_pass"], 1),
    }  # fmt: skip
    report["targets_ms"] = {"initialize": 300, "help": 150}
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["command"] = " ".join(tta)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.startup_bench")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    result = run(args.runs, lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
