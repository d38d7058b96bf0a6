"""``tta-codegen models [--refresh] [--json]``: the configured models with price and health.

``--refresh`` first downloads each OpenAI-compatible provider's model list (OpenRouter's
``/api/v1/models`` carries prices and context lengths) into the user cache dir; prices
the config leaves unset are then taken from it, here and in the server.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from tta_codegen.cli.app import EXIT_FAILED, EXIT_OK, EXIT_USAGE, app
from tta_codegen.cli.trust import trust_option
from tta_codegen.config import Config, load_config
from tta_codegen.models.catalog import fetch_catalog, save_cache
from tta_codegen.models.errors import ModelError
from tta_codegen.models.listing import model_listing
from tta_codegen.wiring import build_router


async def _refresh(config: Config) -> list[str]:
    """Fetch and cache every OpenAI-compatible provider's catalog; returns the errors."""
    errors: list[str] = []
    for name, pconf in config.providers.items():
        if pconf.kind != "openai":
            continue
        try:
            entries = await fetch_catalog(name, pconf)
        except ModelError as exc:
            errors.append(f"{name}: {exc}")
            continue
        path = await asyncio.to_thread(save_cache, name, pconf.base_url, entries)
        priced = sum(1 for e in entries if e.input_cost_per_mtok is not None)
        click.echo(f"{name}: {len(entries)} models ({priced} priced) cached in {path}", err=True)
    return errors


async def _listing(config: Config) -> list[dict[str, Any]]:
    """The same listing as ``tta.listModels``: health from the ledger's recent history
    (this process has sent nothing, so no breaker has a say)."""
    router = build_router(config)
    try:
        return await model_listing(router)
    finally:
        await router.aclose()


def _price(value: float, free: bool) -> str:
    return "free" if free else f"${value:g}"


@app.command("models")
@click.option("--refresh", is_flag=True, help="Download provider catalogs (prices) first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Workspace whose tta-codegen.toml / pyproject.toml to read.",
)
@trust_option
def models_command(refresh: bool, as_json: bool, workspace: Path, trust_workspace: bool) -> None:
    """List the configured models with price (per million tokens) and health."""
    loaded = load_config(workspace.resolve(), trusted=trust_workspace)
    if loaded.ignored:
        click.echo(f"tta-codegen: {loaded.trust_message()}", err=True)
    for issue in loaded.issues:
        click.echo(f"config: {issue}", err=True)
    code = EXIT_OK
    if refresh:
        errors = asyncio.run(_refresh(loaded.config))
        for err in errors:
            click.echo(f"refresh failed: {err}", err=True)
        code = EXIT_FAILED if errors else EXIT_OK
    listing = asyncio.run(_listing(loaded.config))
    if as_json:
        click.echo(json.dumps(listing, indent=2))
    elif not listing:
        click.echo("no models configured: add [providers.NAME] and [[models]] to tta-codegen.toml")
    else:
        header = (
            f"{'model':<40} {'provider':<12} {'in/Mtok':>9} {'out/Mtok':>9} {'context':>8}  health"
        )
        click.echo(header)
        for m in listing:
            ctx = str(m["context_window"] or "-")
            mark = "*" if m["default"] else " "
            click.echo(
                f"{mark}{m['id']:<39} {m['provider']:<12} "
                f"{_price(m['input_cost_per_mtok'], m['free']):>9} "
                f"{_price(m['output_cost_per_mtok'], m['free']):>9} {ctx:>8}  {m['health']}"
            )
    if not loaded.ok:
        code = EXIT_USAGE
    sys.exit(code)
