"""``tta-codegen generate``: one generation from the terminal, through the shared engine.

This module only turns flags into a :class:`GenerationRequest`, runs
:meth:`Engine.generate` with the CLI's sink, and turns the result into output and an
exit code (0 completed, 1 the generation failed, 2 bad usage or configuration, 3 gates
failed or the reply was cut off). Files are touched only after the generation completed
(or with ``--allow-failing``): ``--file`` is rewritten atomically with the code inserted,
``--out`` is created; without either the code goes to stdout.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from tta_codegen.cli import _interrupt as interruptible
from tta_codegen.cli._files import (
    FileProblem,
    check_writable,
    insertion_point,
    read_text,
    splice_code,
    write_atomic,
)
from tta_codegen.cli._prompt import confirm
from tta_codegen.cli._sink import TerminalSink
from tta_codegen.cli.app import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_WHOLE,
    EXIT_OK,
    EXIT_USAGE,
    app,
    fail,
)
from tta_codegen.cli.trust import trust_option, warn_untrusted
from tta_codegen.config import Config, load_config
from tta_codegen.engine import GenerationResult
from tta_codegen.models.ledger_pg import open_ledger
from tta_codegen.outcomes.events import Decision, OutcomeDraft, record_sync, run_source
from tta_codegen.prompts.builder import PromptBuilder
from tta_codegen.prompts.loader import for_cli
from tta_codegen.request import GenerationRequest, insert_request, language_for
from tta_codegen.textdiff import unified_diff
from tta_codegen.wiring import engine_for_run


def _fail(console: Console, message: str, code: int) -> NoReturn:
    fail(message, code)  # the CLI's one error path (cli/app.py)


@dataclass(frozen=True)
class Delivery:
    """How a run's answer is delivered: the flags generate, implement and refine share."""

    as_json: bool
    show_diff: bool
    assume_yes: bool
    allow_failing: bool
    use_context: bool

    def __post_init__(self) -> None:
        if self.show_diff and self.assume_yes:
            raise click.UsageError(
                "use either --diff (show, don't write) or --yes (write), not both"
            )


def parse_vars(items: tuple[str, ...]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--var")
        variables[key.strip()] = value
    return variables


async def run_generation(
    config: Config,
    request: GenerationRequest,
    sink: TerminalSink,
    root: Path,
    *,
    use_context: bool = False,
) -> GenerationResult:
    """One generation through the engine the server also runs (same context stage: index,
    retrieval, repo map and project rules when ``use_context``)."""
    async with engine_for_run(config, workspace_root=root, use_context=use_context) as engine:
        return await engine.generate(request, sink)


@app.command()
@click.argument("description", required=False, default="")
@click.option(
    "--file",
    "file_",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Insert the code into this existing file (written only on success).",
)
@click.option(
    "--line",
    type=click.IntRange(min=1),
    help="With --file: insert before this 1-based line (default: at the end).",
)
@click.option("--template", metavar="ID", help="Prompt template from the library.")
@click.option(
    "--var", "var", multiple=True, metavar="KEY=VALUE", help="Template variable (repeatable)."
)
@click.option("--model", metavar="ID", help="Model id from the config (default: routing).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the code to this new file instead of stdout.",
)
@click.option("--force", is_flag=True, help="With --out: overwrite an existing file.")
@click.option("--language", metavar="ID", help="Language id (default: from the file suffix).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.option(
    "--refine/--no-refine", default=None, help="Run the quality-gate refinement loop or not."
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print a unified diff of what would change instead of writing (with --file/--out).",
)
@click.option(
    "--yes",
    "-y",
    "assume_yes",
    is_flag=True,
    help="Write without asking (in a terminal, the default is to show the diff and ask).",
)
@click.option(
    "--context/--no-context",
    "use_context",
    default=None,
    help="Add workspace context (rules, related code, repo map). Default: on with --file.",
)
@click.option(
    "--allow-failing",
    is_flag=True,
    help="Write the code even when gates fail or the reply was cut off (exit code still 3).",
)
@trust_option
def generate(
    description: str,
    file_: Path | None,
    line: int | None,
    template: str | None,
    var: tuple[str, ...],
    model: str | None,
    out: Path | None,
    force: bool,
    language: str | None,
    as_json: bool,
    refine: bool | None,
    use_context: bool | None,
    show_diff: bool,
    assume_yes: bool,
    allow_failing: bool,
    trust_workspace: bool,
) -> None:
    """Generate code for DESCRIPTION and print it, write it (--out) or insert it (--file)."""
    err = Console(stderr=True, emoji=False)
    if not description.strip() and template is None:
        raise click.BadParameter(
            "must not be empty (or give --template ID)", param_hint="DESCRIPTION"
        )
    if line is not None and file_ is None:
        raise click.UsageError("--line needs --file")
    if file_ is not None and out is not None:
        raise click.UsageError("use either --file (insert) or --out (new file), not both")
    if show_diff and file_ is None and out is None:
        raise click.UsageError("--diff needs --file or --out")
    delivery = Delivery(
        as_json=as_json,
        show_diff=show_diff,
        assume_yes=assume_yes,
        allow_failing=allow_failing,
        use_context=file_ is not None if use_context is None else use_context,
    )
    if force and out is None:
        raise click.UsageError("--force only applies to --out")
    variables = parse_vars(var)
    if variables and template is None:
        raise click.UsageError("--var fills a template: add --template ID")
    if out is not None and out.exists() and not force:
        _fail(err, f"{out} already exists (add --force to overwrite it)", EXIT_USAGE)
    target = file_ if file_ is not None else out
    if target is not None and not show_diff:
        # Before any model call: a file or folder that cannot take the code costs nothing.
        try:
            check_writable(target)
        except FileProblem as exc:
            _fail(err, str(exc), EXIT_USAGE)

    config = cli_config(err, model, trusted=trust_workspace)

    # Absolute, as an editor sends them: context and prompt roots are found from it.
    text, offset, path = "", 0, str(out.resolve()) if out else "untitled"
    if file_ is not None:
        try:
            text = read_text(file_)
            offset = insertion_point(text, line).offset
        except FileProblem as exc:
            _fail(err, str(exc), EXIT_USAGE)
        path = str(file_.resolve())
    request = insert_request(
        description=description,
        path=path,
        language=language or language_for(path),
        text=text,
        offset=offset,
        model=model,
        template=template,
        variables=variables,
        refine=refine,
    )

    run_and_deliver(
        err, config, request, target=file_ if file_ is not None else out, new_file=file_ is None,
        delivery=delivery,
    )  # fmt: skip


def run_and_deliver(
    err: Console,
    config: Config,
    request: GenerationRequest,
    *,
    target: Path | None,
    new_file: bool,
    delivery: Delivery,
) -> NoReturn:
    """Run one generation and deliver it the same way for generate, implement and refine.

    The file gets exactly the text the gates judged (``request.text`` with the generated
    code in ``[start, end)``), and only when the answer is ``completed`` — or, with
    ``--allow-failing``, ``gates_failed`` / ``truncated`` (exit 3 either way).
    """
    as_json, show_diff, assume_yes = delivery.as_json, delivery.show_diff, delivery.assume_yes
    allow_failing = delivery.allow_failing
    draft = _draft(config, request, Path.cwd())

    def decided(decision: Decision) -> None:
        # --yes and the prompt's answer are the CLI's review; CI runs are marked as CI.
        record_sync(open_ledger(config.ledger), draft, decision)

    sink = TerminalSink(err, show_code=not as_json)
    try:
        with sink:
            result = interruptible.run(
                run_generation(config, request, sink, Path.cwd(), use_context=delivery.use_context)
            )
    except KeyboardInterrupt:
        decided("cancelled")
        _fail(err, "cancelled; nothing was written", EXIT_INTERRUPTED)
    draft.finish(result, result.text)

    text, start, end = request.text, request.start, request.end
    delivered = result.status in ("completed", "gates_failed", "truncated") and bool(result.text)
    writable = result.status == "completed" or (allow_failing and delivered)
    written: str | None = None
    if delivered and target is not None and not as_json:
        after = splice_code(text, start, end, result.text)
        patch = unified_diff(str(target), "" if new_file else text, after, new_file=new_file)
        if show_diff:
            click.echo(patch, nl=False)
            err.print(_summary(result, sink, None), markup=False, highlight=False, soft_wrap=True)
            sys.exit(_exit_code(result))
        if writable and not assume_yes and _interactive():
            # Review before keep: show what would change and ask; nothing is written on "no".
            err.print(patch, markup=False, highlight=False, end="")
            if not confirm(f"Write {target}?"):
                decided("discarded")
                err.print("nothing written", markup=False)
                sys.exit(_exit_code(result))
    if writable and target is not None and not show_diff:
        try:
            if not new_file and read_text(target) != text:
                raise FileProblem(
                    f"{target} changed while generating; it was left as it is "
                    "(the code is in the output)"
                )
            write_atomic(target, splice_code(text, start, end, result.text))
            written = str(target)
        except FileProblem as exc:
            result.status, result.error = "failed", str(exc)
    if result.error_kind != "prompt":
        # Written or printed whole code is the user's to keep; code that was not whole
        # (exit 3, not written) or no code at all is not.
        kept = result.status == "completed" or written is not None
        decided("accepted" if kept else _ended(result.status))

    if as_json:
        click.echo(json.dumps(result.to_answer(), ensure_ascii=False))
    elif result.text and written is None:
        # Not written (stdout asked for, not whole, or the file could not take it): print
        # it so nothing is lost.
        click.echo(result.text, nl=not result.text.endswith("\n"))

    summary = _summary(result, sink, written)
    err.print(summary, markup=False, highlight=False, soft_wrap=True)
    sys.exit(_exit_code(result))


def _exit_code(result: GenerationResult) -> int:
    if result.status == "completed":
        return EXIT_OK
    if result.status in ("gates_failed", "truncated"):
        return EXIT_NOT_WHOLE
    # A bad template or variable is the user's input, not a failed generation.
    return EXIT_USAGE if result.error_kind == "prompt" else EXIT_FAILED


def cli_config(err: Console, model: str | None, *, trusted: bool) -> Config:
    """The config from the working directory, or exit 2 with why it cannot be used.

    ``trusted`` is ``--trust-workspace``: without it (or a recorded ``tta-codegen trust``)
    the workspace file's keys that can send a key somewhere or run a program are ignored,
    with one line saying which.
    """
    loaded = load_config(Path.cwd(), trusted=trusted)
    warn_untrusted(err, loaded.trust_message())
    if loaded.issues:
        _fail(err, loaded.error_message(), EXIT_USAGE)
    config = loaded.config
    if not config.models:
        _fail(
            err,
            "no model is configured: add one to tta-codegen.toml (see docs/cli.md), or install "
            "the embedded model with pip install 'tta-codegen[local]'",
            EXIT_USAGE,
        )
    if model is not None and config.model(model) is None:
        known = ", ".join(m.id for m in config.models)
        _fail(err, f"unknown model {model!r} (configured: {known})", EXIT_USAGE)
    return config


def _draft(config: Config, request: GenerationRequest, root: Path) -> OutcomeDraft:
    draft = OutcomeDraft.start(request.kind, run_source(), request.template, request.language)
    if request.template:
        template = request.template

        def category() -> str | None:
            found = PromptBuilder(config, workspace_root=root).library(request).find(template)
            return None if found is None else found.meta.category

        draft.category_of = category
    return draft


def _ended(status: str) -> Decision:
    return "cancelled" if status == "cancelled" else "failed"


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _summary(result: GenerationResult, sink: TerminalSink, written: str | None) -> str:
    kept = f"written to {written} (--allow-failing)" if written else "nothing written"
    if result.status == "gates_failed":
        failing = [g.name for g in result.gates if not g.passed and not g.skipped]
        return (
            f"tta-codegen: gates failed ({', '.join(failing) or 'see gates'}): {kept}; "
            "the code is in the output"
        )
    if result.status == "truncated":
        return (
            "tta-codegen: the reply was cut off at the token limit and could not be "
            f"continued ([generation] max_tokens): {kept}; the code is in the output"
        )
    if result.status != "completed":
        reason = " ".join((result.error or result.status).split())
        if result.error_kind == "prompt":
            # The user's template or variables, not a failed generation: say what to run.
            return f"tta-codegen: {for_cli(reason)}"
        return f"tta-codegen: generation failed: {reason}"
    tokens = result.usage.completion_tokens or sink.tokens
    rate = sink.tokens_per_s
    bits = [result.model or "?", f"{tokens} tokens"]
    if rate is not None:
        bits.append(f"{rate:.0f} tok/s")
    bits.append(f"{result.total_s:.1f}s")
    if result.cost_usd:
        bits.append(f"${result.cost_usd:.4f}")
    line = "done: " + " · ".join(bits)
    return line + (f" → {written}" if written else "")
