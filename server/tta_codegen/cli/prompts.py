"""``tta-codegen prompts list|show``: the prompt library from the terminal.

``list`` shows every usable template (workspace, configured folders, user folder and
built-ins merged by id); ``show ID`` prints one template's metadata and source, and with
``--render`` the prompt it produces, which is how a template author checks their work.
Broken templates are reported on stderr (file:line: reason) and skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tta_codegen.cli.app import EXIT_OK, EXIT_USAGE, app
from tta_codegen.config import load_config
from tta_codegen.prompts.builder import SYSTEM_FILE
from tta_codegen.prompts.library import PromptLibrary, PromptTemplate, library_for
from tta_codegen.prompts.loader import PromptError, for_cli
from tta_codegen.prompts.meta import BUILTIN_VARIABLES
from tta_codegen.prompts.roots import prompt_roots
from tta_codegen.request import LANGUAGE_BY_SUFFIX

_WORKSPACE = click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Workspace whose .tta-codegen/prompts/ and config to use.",
)


def _library(workspace: Path) -> PromptLibrary:
    root = workspace.resolve()
    loaded = load_config(root)
    for issue in loaded.issues:
        click.echo(f"config: {issue}", err=True)
    library = library_for(prompt_roots(loaded.config.prompts, root))
    library.refresh()
    for problem in library.problems:
        click.echo(f"skipped broken template: {problem}", err=True)
    return library


def _fail(message: str) -> None:
    click.echo(f"tta-codegen: {message}", err=True)
    sys.exit(EXIT_USAGE)


@app.group("prompts")
def prompts_group() -> None:
    """The prompt template library (built-in, user and workspace templates)."""


@prompts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as tta.listPrompts).")
@_WORKSPACE
def list_command(as_json: bool, workspace: Path) -> None:
    """List the templates, by category."""
    library = _library(workspace)
    templates = library.templates()
    if as_json:
        click.echo(json.dumps([t.listing() for t in templates], indent=2))
        sys.exit(EXIT_OK)
    width = max((len(t.id) for t in templates), default=10)
    category = None
    for t in templates:
        if t.meta.category != category:
            category = t.meta.category
            click.echo(f"{'' if category == templates[0].meta.category else chr(10)}{category}:")
        origin = "" if t.origin == "builtin" else f"  [{t.origin}]"
        click.echo(f"  {t.id.ljust(width)}  {t.meta.title}{origin}")
    sys.exit(EXIT_OK)


@prompts_group.command("show")
@click.argument("template_id", metavar="ID")
@click.option("--render", "do_render", is_flag=True, help="Print the prompt it produces.")
@click.option("--var", "var", multiple=True, metavar="KEY=VALUE", help="With --render: a variable.")
@click.option("--language", default="python", show_default=True, help="With --render.")
@click.option("--selection", default="", help="With --render: text of a selection.")
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
@_WORKSPACE
def show_command(
    template_id: str,
    do_render: bool,
    var: tuple[str, ...],
    language: str,
    selection: str,
    as_json: bool,
    workspace: Path,
) -> None:
    """Show template ID: its metadata and source (or, with --render, the prompt)."""
    library = _library(workspace)
    try:
        template = library.get(template_id)
    except PromptError as exc:
        _fail(for_cli(str(exc)))
        return
    if do_render:
        _render(library, template, var, language, selection)
    elif as_json:
        click.echo(json.dumps(template.listing(), indent=2))
    else:
        _describe(template)
    sys.exit(EXIT_OK)


def _describe(template: PromptTemplate) -> None:
    meta = template.meta
    click.echo(f"{meta.id}: {meta.title}")
    click.echo(f"  category:   {meta.category}")
    click.echo(f"  task type:  {meta.task_type}")
    click.echo(f"  applies to: {meta.applies_to}")
    click.echo(f"  file:       {template.path} ({template.origin})")
    for shadowed in template.shadows:
        click.echo(f"  overrides:  {shadowed}")
    click.echo(f"  {meta.description}")
    if meta.variables:
        click.echo("variables:")
    for name, spec in meta.variables.items():
        state = "required" if spec.required else f"default {spec.default!r}"
        example = f" (e.g. {spec.example!r})" if spec.example is not None else ""
        click.echo(f"  {name} [{state}]{example}: {spec.description}")
    click.echo("")
    click.echo(template.path.read_text(encoding="utf-8"), nl=False)


def _render(
    library: PromptLibrary,
    template: PromptTemplate,
    items: tuple[str, ...],
    language: str,
    selection: str,
) -> None:
    variables: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"--var {item!r} is not KEY=VALUE")
        variables[key.strip()] = value
    builtins: dict[str, Any] = dict.fromkeys(BUILTIN_VARIABLES, "")
    suffix = next((s for s, lang in LANGUAGE_BY_SUFFIX.items() if lang == language), "")
    builtins.update(language=language, path=f"example{suffix}", selection=selection)
    if template.meta.applies_to == "selection":
        builtins["instruction"] = builtins["description"] = template.meta.action_instruction
    try:
        system = library.render_file(SYSTEM_FILE, builtins)
        task = library.render_template(template.id, variables, builtins)
    except PromptError as exc:
        _fail(str(exc))
        return
    click.echo("--- system ---")
    click.echo(system.strip())
    click.echo("--- user ---")
    click.echo(task.strip())
