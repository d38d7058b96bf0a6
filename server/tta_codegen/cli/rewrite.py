"""``tta-codegen implement`` and ``tta-codegen refine``: rewrite part of an existing file.

``implement`` fills a stub's body (the function at ``--line`` or named ``--symbol``),
keeping its decorators, signature and docstring, as ``tta.generate`` does on a stub;
``refine`` rewrites ``--lines A-B`` following an instruction, as ``tta.refine`` does.
Both deliver like ``generate`` (:func:`run_and_deliver`): the same flags, the same exit
codes, nothing written unless the answer is ``completed`` or ``--allow-failing`` is given.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from tta_codegen.cli._files import FileProblem, check_writable, line_count, read_text
from tta_codegen.cli.app import EXIT_USAGE, app
from tta_codegen.cli.generate import Delivery, _fail, cli_config, run_and_deliver
from tta_codegen.cli.trust import trust_option
from tta_codegen.request import (
    implement_request,
    language_for,
    refine_request,
    whole_lines,
)
from tta_codegen.stubs import find_stub

_LINES = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


_DELIVERY_FLAGS = ("as_json", "show_diff", "assume_yes", "allow_failing", "use_context")


def _common(f: Callable[..., None]) -> Callable[..., None]:
    """The options implement and refine share with generate; the delivery flags reach the
    command as one :class:`Delivery` (``delivery=``)."""

    @functools.wraps(f)
    def command(**kwargs: Any) -> None:
        delivery = Delivery(**{flag: kwargs.pop(flag) for flag in _DELIVERY_FLAGS})
        f(delivery=delivery, **kwargs)

    options = [
        click.option("--model", metavar="ID", help="Model id from the config (default: routing)."),
        click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON."),
        click.option(
            "--refine/--no-refine",
            "refine_loop",
            default=None,
            help="Run the quality-gate refinement loop or not.",
        ),
        click.option(
            "--diff", "show_diff", is_flag=True, help="Print a unified diff instead of writing."
        ),
        click.option(
            "--yes", "-y", "assume_yes", is_flag=True, help="Write without asking in a terminal."
        ),
        click.option(
            "--allow-failing",
            is_flag=True,
            help="Write even when gates fail or the reply was cut off (exit code still 3).",
        ),
        click.option(
            "--context/--no-context",
            "use_context",
            default=True,
            help="Add workspace context (rules, related code, repo map).",
        ),
        click.option(
            "--file",
            "file_",
            required=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="The file to change (written only on success).",
        ),
        trust_option,
    ]
    decorated: Callable[..., None] = command
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _read(err: Console, file_: Path, *, will_write: bool) -> str:
    """The file's text; when it is to be written, refused now if it cannot be (before any
    model call: a read-only or unwritable file costs nothing)."""
    try:
        if will_write:
            check_writable(file_)
        return read_text(file_)
    except FileProblem as exc:
        _fail(err, str(exc), EXIT_USAGE)


@app.command()
@click.argument("description", required=False, default="")
@click.option("--line", type=click.IntRange(min=1), help="A 1-based line on or in the function.")
@click.option("--symbol", metavar="NAME", help="The function's name (or Class.method).")
@_common
def implement(
    description: str,
    file_: Path,
    line: int | None,
    symbol: str | None,
    model: str | None,
    refine_loop: bool | None,
    trust_workspace: bool,
    delivery: Delivery,
) -> None:
    """Write the body of a stub in --file (body only a docstring, pass, ... or
    raise NotImplementedError), keeping its signature, decorators and docstring."""
    err = Console(stderr=True, emoji=False)
    if (line is None) == (symbol is None):
        raise click.UsageError("give the function with either --line N or --symbol NAME")
    text = _read(err, file_, will_write=not delivery.show_diff)
    path = str(file_.resolve())
    if language_for(path) != "python":
        _fail(err, f"{file_}: implement works on Python files (.py)", EXIT_USAGE)
    if line is not None and line > max(line_count(text), 1):
        _fail(err, f"--line {line} is outside the file (1..{line_count(text)})", EXIT_USAGE)
    stub = find_stub(text, line=None if line is None else line - 1, symbol=symbol)
    if stub is None:
        where = f"on line {line}" if line is not None else f"named {symbol!r}"
        _fail(
            err,
            f"{file_}: no stub {where} (a function whose body is only a docstring, pass, ... "
            "or raise NotImplementedError; the file must parse)",
            EXIT_USAGE,
        )
    config = cli_config(err, model, trusted=trust_workspace)
    request = implement_request(
        path=path,
        language="python",
        text=text,
        stub=stub,
        description=description,
        model=model,
        refine=refine_loop,
    )
    run_and_deliver(err, config, request, target=file_, new_file=False, delivery=delivery)


@app.command()
@click.argument("instruction")
@click.option("--lines", "lines", required=True, metavar="A-B", help="1-based lines to rewrite.")
@_common
def refine(
    instruction: str,
    file_: Path,
    lines: str,
    model: str | None,
    refine_loop: bool | None,
    trust_workspace: bool,
    delivery: Delivery,
) -> None:
    """Rewrite --lines A-B of --file following INSTRUCTION (like tta.refine)."""
    err = Console(stderr=True, emoji=False)
    if not instruction.strip():
        raise click.BadParameter("must not be empty (say what to change)", param_hint="INSTRUCTION")
    m = _LINES.match(lines)
    if m is None:
        raise click.BadParameter(f"{lines!r} is not A-B (e.g. 3-12)", param_hint="--lines")
    first, last = int(m.group(1)), int(m.group(2))
    text = _read(err, file_, will_write=not delivery.show_diff)
    count = line_count(text)
    if not 1 <= first <= last <= count:
        _fail(err, f"--lines {lines} is outside the file (1..{count}, A ≤ B)", EXIT_USAGE)
    offsets = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]
    start = offsets[first - 1]
    end = offsets[last] if last < len(offsets) else len(text)
    start, end = whole_lines(text, start, end)
    if not text[start:end].strip():
        _fail(err, f"--lines {lines} holds no code to rewrite", EXIT_USAGE)
    config = cli_config(err, model, trusted=trust_workspace)
    path = str(file_.resolve())
    request = refine_request(
        path=path,
        language=language_for(path),
        text=text,
        start=start,
        end=end,
        instruction=instruction,
        model=model,
        refine=refine_loop,
    )
    run_and_deliver(err, config, request, target=file_, new_file=False, delivery=delivery)
