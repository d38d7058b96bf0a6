"""Side by side: command -> edited file with Aider, our CLI and our server, same fake model.

All three talk to the same in-process fake provider, which spends the same model time
(time to first token plus a fixed token rate) on a one-file edit: add a function to a small
module. Aider runs from its own venv (``.tools/aider-venv``, git-ignored, created on
demand with ``--with-aider``); it is asked for its "whole" edit format, the one whose reply
we can script, and otherwise keeps its defaults (its lint runs, as our gates do). Our CLI
runs as a fresh process like Aider; the server is timed warm (already initialised, as an
editor keeps it) and cold (process start, initialize, open, generate).

Timed: from starting the command to the file (or the editor's document) holding the edit.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.provider import FakeProvider, Reply, Rule
from tests.lsp.harness import provider_settings, server_env, start_editor, stop_editor

from benchmarks._common import ROOT, BenchmarkError, summary_ms
from benchmarks.lsp_bench import wait_for_index

AIDER_VERSION = "0.86.2"
AIDER_VENV = ROOT / ".tools" / "aider-venv"

ORIGINAL = '"""Shapes."""\n\n\ndef area(w, h):\n    return w * h\n'
ADDED = "def perimeter(w, h):\n    return 2 * (w + h)\n"
EDITED = ORIGINAL + "\n\n" + ADDED
DESCRIPTION = "add a function perimeter(w, h) that returns the perimeter of a rectangle"


@dataclass
class E2EConfig:
    runs: int = 3
    first_delay: float = 0.1
    stream_s: float = 0.1  # the rest of the model time, spread over the chunks
    chunks: int = 20
    with_aider: bool = False


def _timed_reply(text: str, cfg: E2EConfig) -> Reply:
    size = max(1, -(-len(text) // cfg.chunks))
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    delay = cfg.stream_s / max(1, len(chunks) - 1)
    return Reply(chunks=chunks, first_delay=cfg.first_delay, delay=delay)


def ensure_aider() -> Path:
    """The aider executable of the benchmark's own venv, installed if missing."""
    aider = AIDER_VENV / "bin" / "aider"
    if aider.exists():
        out = subprocess.run([str(aider), "--version"], capture_output=True, text=True)
        if AIDER_VERSION in out.stdout:
            return aider
    base = getattr(sys, "_base_executable", sys.executable)
    t0 = time.perf_counter()
    print(f"installing aider-chat=={AIDER_VERSION} into {AIDER_VENV} (about 1-2 minutes)…")
    steps = [
        [base, "-m", "venv", "--clear", str(AIDER_VENV)],
        [str(AIDER_VENV / "bin" / "pip"), "install", "-q", f"aider-chat=={AIDER_VERSION}"],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchmarkError(
                f"cannot install Aider ({' '.join(argv)} exited {done.returncode}):\n"
                + (done.stderr or done.stdout)[-2000:]
            )
    print(f"aider installed in {time.perf_counter() - t0:.0f} s")
    if not aider.exists():
        raise BenchmarkError(f"aider-chat installed but {aider} is missing")
    return aider


async def _run(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise BenchmarkError(f"{argv[0]} did not finish within {timeout:.0f} s") from exc
    took = time.perf_counter() - t0
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise BenchmarkError(f"{' '.join(argv[:3])}… exited {proc.returncode}:\n{text[-2000:]}")
    return took, text


def _check_edited(path: Path, who: str) -> None:
    text = path.read_text(encoding="utf-8")
    if "def perimeter(w, h):" not in text or "def area(w, h):" not in text:
        raise BenchmarkError(f"{who} did not produce the edited file; it holds:\n{text}")
    compile(text, str(path), "exec")


async def bench_aider(
    fake: FakeProvider, home: Path, cfg: E2EConfig, aider: Path
) -> dict[str, Any]:
    fake.rules = [Rule(_timed_reply(f"m.py\n```python\n{EDITED}```\n", cfg))]
    times: list[float] = []
    for i in range(cfg.runs):
        ws = home / f"aider{i}"
        ws.mkdir(parents=True)
        (ws / "m.py").write_text(ORIGINAL)
        env = server_env(home=ws)
        env.update(
            HOME=str(ws / "home"),
            OPENAI_API_KEY="benchmark",  # the fake checks no key; litellm wants one set
            # litellm otherwise fetches its model price list from GitHub at start.
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        argv = [
            str(aider), "--message", DESCRIPTION, "--yes-always", "--no-git",
            "--openai-api-base", fake.base_url, "--model", "openai/fake-a",
            "--edit-format", "whole", "--no-check-update", "--no-show-release-notes",
            "--analytics-disable", "--no-show-model-warnings", "--no-pretty", "m.py",
        ]  # fmt: skip
        asked = len(fake.requests)
        took, out = await _run(argv, ws, env)
        if len(fake.requests) <= asked:
            raise BenchmarkError(f"aider never called the fake provider:\n{out[-2000:]}")
        _check_edited(ws / "m.py", "aider")
        times.append(took)
    return {
        "version": AIDER_VERSION,
        "edit_format": "whole",
        "command_to_edited_file": summary_ms(times),
    }


def _cli_command() -> list[str]:
    script = Path(sys.executable).parent / "tta-codegen"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tta_codegen"]


async def bench_cli(
    fake: FakeProvider, home: Path, cfg: E2EConfig, *, warm: bool = False
) -> dict[str, Any]:
    """``tta-codegen generate --file`` from command to edited file: a process per command,
    or (``warm``) each command forked from the warm process (``tta-codegen daemon``),
    started before the runs in a private runtime folder and stopped after them."""
    fake.rules = [Rule(_timed_reply(f"```python\n{ADDED}```\n", cfg))]
    times: list[float] = []
    runtime = Path(tempfile.mkdtemp(prefix="tta-bench-run-"))  # short: a socket's path
    runtime.chmod(0o700)
    extra = {"TTA_CODEGEN_NO_DAEMON": "", "XDG_RUNTIME_DIR": str(runtime)} if warm else {}
    report: dict[str, Any] = {
        "command": "tta-codegen generate … --file m.py",
        "gates": "default",
        "warm_process": warm,
    }
    try:
        if warm:
            took, _ = await _run([*_cli_command(), "daemon", "start"], home, server_env(extra))
            report["daemon_start_ms"] = round(took * 1000, 1)
        for i in range(cfg.runs):
            ws = home / f"cli{'w' if warm else ''}{i}"
            ws.mkdir(parents=True)
            (ws / "m.py").write_text(ORIGINAL)
            (ws / "tta-codegen.toml").write_text(
                f'[providers.fake]\nkind = "openai"\nbase_url = "{fake.base_url}"\n\n'
                '[[models]]\nid = "fake-a"\nprovider = "fake"\n\n[routing]\ndefault = "fake-a"\n'
            )
            argv = [*_cli_command(), "generate", DESCRIPTION, "--file", "m.py", "--trust-workspace"]
            took, _ = await _run(argv, ws, server_env(extra, home=ws))
            _check_edited(ws / "m.py", "tta-codegen generate")
            times.append(took)
        if warm:  # every run was a fork of it, or the figure is not what it says
            _, out = await _run([*_cli_command(), "daemon", "status"], home, server_env(extra))
            if f" {cfg.runs} command(s) served" not in out:
                raise BenchmarkError(f"the warm process did not serve every run: {out.strip()}")
    finally:
        if warm:
            await _run([*_cli_command(), "daemon", "stop"], home, server_env(extra))
        shutil.rmtree(runtime, ignore_errors=True)
    report["command_to_edited_file"] = summary_ms(times)
    report["minus_model_time_p50_ms"] = round(
        report["command_to_edited_file"]["p50_ms"] - (cfg.first_delay + cfg.stream_s) * 1000, 1
    )
    return report


async def bench_server(fake: FakeProvider, home: Path, cfg: E2EConfig) -> dict[str, Any]:
    fake.rules = [Rule(_timed_reply(f"```python\n{ADDED}```\n", cfg))]
    settings = provider_settings(fake.base_url, ["fake-a"])
    warm: list[float] = []
    cold: list[float] = []
    for i in range(cfg.runs):
        ws = home / f"srv{i}"
        ws.mkdir(parents=True)
        t0 = time.perf_counter()
        editor = await start_editor(ws, settings, env=server_env(home=ws))
        try:
            for j in range(2):
                uri = editor.open(f"m{j}.py", ORIGINAL)
                t1 = time.perf_counter()
                answer = await editor.execute(
                    "tta.generate",
                    {
                        "textDocument": {"uri": uri},
                        "position": {"line": ORIGINAL.count("\n"), "character": 0},
                        "description": DESCRIPTION,
                    },
                )
                t2 = time.perf_counter()
                if answer["status"] != "completed" or "def perimeter" not in editor.text(uri):
                    raise BenchmarkError(f"the server did not make the edit: {answer}")
                if j == 0:
                    cold.append(t2 - t0)
                    # Warm runs start once the first indexing is over, as in a real session.
                    await wait_for_index(editor, 60)
                else:
                    warm.append(t2 - t1)
        finally:
            await stop_editor(editor)
    return {
        "gates": "default",
        "warm_command_to_edited_document": summary_ms(warm),
        "cold_process_start_to_edited_document": summary_ms(cold),
    }


async def run(cfg: E2EConfig, log: Any = print) -> dict[str, Any]:
    aider = ensure_aider() if cfg.with_aider else None
    fake = FakeProvider()
    await fake.start()
    home = Path(tempfile.mkdtemp(prefix="tta-bench-e2e-"))
    report: dict[str, Any] = {
        "task": "add one function to a 5-line module",
        "model_time_s": round(cfg.first_delay + cfg.stream_s, 3),
        "runs": cfg.runs,
    }
    try:
        log("end to end: our CLI…")
        report["cli"] = await bench_cli(fake, home, cfg)
        log("end to end: our CLI, warm process…")
        report["cli_warm"] = await bench_cli(fake, home, cfg, warm=True)
        log("end to end: our server…")
        report["server"] = await bench_server(fake, home, cfg)
        if aider is not None:
            log("end to end: aider…")
            report["aider"] = await bench_aider(fake, home, cfg, aider)
            a = report["aider"]["command_to_edited_file"]["p50_ms"]
            report["ratio_aider_to_cli"] = round(
                a / report["cli"]["command_to_edited_file"]["p50_ms"], 2
            )
            report["ratio_aider_to_cli_warm"] = round(
                a / report["cli_warm"]["command_to_edited_file"]["p50_ms"], 2
            )
            report["ratio_aider_to_server_warm"] = round(
                a / report["server"]["warm_command_to_edited_document"]["p50_ms"], 2
            )
        else:
            report["aider"] = "not run (add --with-aider to install and time it)"
    finally:
        await fake.stop()
        await asyncio.to_thread(shutil.rmtree, home, True)
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return report
