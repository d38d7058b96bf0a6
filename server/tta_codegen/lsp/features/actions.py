"""Code actions that run refine/tests commands: presets on a selection, fixes on diagnostics.

Prompt-library templates add their own selection actions (``features/prompt_library.py``);
these are the ones that are not templates: "Generate tests", "Simplify", and a
``quickfix`` "Fix with AI" on any diagnostic (ours or another server's) that rewrites the
smallest enclosing function or statement with the diagnostic's message.
"""

from __future__ import annotations

import ast
from typing import Any

from lsprotocol import types

from tta_codegen.lsp.client import range_json
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.stubs import WHOLE_PARSE_CHARS, parse_around

SIMPLIFY = "Simplify this code without changing its behaviour; keep names and public signatures."


def register(server: TtaLanguageServer) -> None:
    server.code_action_providers.append(actions_for)


def enclosing_lines(source: str, line: int, line_start: int | None = None) -> tuple[int, int]:
    """0-based [first, last] lines of the smallest function (else statement) around ``line``.

    A long document is not parsed whole (seconds and gigabytes for 20 MB, on every code
    action): only the top-level statements around the line (``stubs.parse_around``).
    """
    if len(source) > WHOLE_PARSE_CHARS:
        parsed = parse_around(
            source, line, line_start, lambda tree, n: _enclosing(tree, n - 1, n - 1)[0] == 0
        )
        if parsed is None:
            return line, line
        tree, _, _, lineno = parsed
        shift = line - (lineno - 1)
        first, last = _enclosing(tree, lineno - 1, lineno - 1)
        return first + shift, last + shift
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return line, line
    return _enclosing(tree, line, line)


def _enclosing(tree: ast.Module, line: int, fallback: int) -> tuple[int, int]:
    best: tuple[int, int] | None = None
    best_stmt: tuple[int, int] | None = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        first, last = node.lineno - 1, node.end_lineno - 1
        decorators = getattr(node, "decorator_list", None) or []
        if decorators:
            first = min(first, min(d.lineno for d in decorators) - 1)
        if not first <= line <= last:
            continue
        size = last - first
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if best is None or size < best[1] - best[0]:
                best = (first, last)
        elif best_stmt is None or size < best_stmt[1] - best_stmt[0]:
            best_stmt = (first, last)
    return best or best_stmt or (fallback, fallback)


def actions_for(ls: TtaLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    doc_args: dict[str, Any] = {"textDocument": {"uri": uri}}
    actions: list[types.CodeAction] = []
    rng = params.range
    if rng.start != rng.end:
        actions.append(
            types.CodeAction(
                title="TTA: Generate tests",
                kind=types.CodeActionKind.RefactorRewrite,
                command=types.Command(
                    title="Generate tests",
                    command="tta.generateTests",
                    arguments=[{**doc_args, "range": range_json(rng)}],
                ),
            )
        )
        actions.append(
            types.CodeAction(
                title="TTA: Simplify",
                kind=types.CodeActionKind.RefactorRewrite,
                command=types.Command(
                    title="Simplify",
                    command="tta.refine",
                    arguments=[{**doc_args, "range": range_json(rng), "instruction": SIMPLIFY}],
                ),
            )
        )
    diagnostics = list(params.context.diagnostics or [])
    if diagnostics:
        doc = ls.workspace.get_text_document(uri)
        source, lines = doc.source, doc.lines  # a kept index (lsp/textindex.py), not a split
        for diag in diagnostics[:5]:
            at = diag.range.start.line
            line_start = doc.offset_at_position(types.Position(line=at, character=0))
            first, last = enclosing_lines(source, at, line_start)
            end_line = min(last + 1, len(lines))
            target = types.Range(
                types.Position(line=first, character=0),
                types.Position(line=end_line, character=0)
                if end_line < len(lines) or source.endswith("\n")
                else types.Position(line=last, character=len(lines[last]) if lines else 0),
            )
            who = f" ({diag.source})" if diag.source else ""
            instruction = (
                f"Fix this problem reported on line {diag.range.start.line + 1}{who}: "
                f"{diag.message}. Change only what the fix needs."
            )
            actions.append(
                types.CodeAction(
                    title=f"TTA: Fix with AI: {diag.message[:60]}",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diag],
                    command=types.Command(
                        title="Fix with AI",
                        command="tta.refine",
                        arguments=[
                            {**doc_args, "range": range_json(target), "instruction": instruction}
                        ],
                    ),
                )
            )
    return actions
