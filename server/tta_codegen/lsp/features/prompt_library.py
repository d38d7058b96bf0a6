"""The prompt library in the editor: ``tta.listPrompts`` and one code action per
selection template (``tta.refine`` with the template's instruction).

Broken user templates are reported once per change with ``window/showMessage`` and
skipped; the rest of the library keeps working. Reading the template folders happens
in a worker thread, except the throttled check the (synchronous) code action hook makes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from tta_codegen.background import spawn
from tta_codegen.lsp.client import range_json
from tta_codegen.lsp.params import EmptyParams, parse_params
from tta_codegen.lsp.server import TtaLanguageServer
from tta_codegen.prompts.library import PromptLibrary, PromptTemplate, library_for
from tta_codegen.prompts.roots import prompt_roots

log = logging.getLogger(__name__)

# Editors ask for code actions on every cursor move: look at the folders at most this often.
CODE_ACTION_RESCAN_S = 2.0
_reported: dict[int, tuple[str, ...]] = {}


def register(server: TtaLanguageServer) -> None:
    server.command("tta.listPrompts")(cmd_list_prompts)
    server.on_initialized.append(_prime)
    server.code_action_providers.append(prompt_code_actions)


def workspace_library(ls: TtaLanguageServer) -> PromptLibrary:
    return library_for(prompt_roots(ls.loaded.config.prompts, ls.workspace_root))


def report_problems(ls: TtaLanguageServer, library: PromptLibrary) -> None:
    """Tell the user about broken templates, once per distinct set of problems."""
    problems = tuple(str(p) for p in library.problems)
    if _reported.get(id(library)) == problems:
        return
    _reported[id(library)] = problems
    if not problems:
        return
    log.warning("prompt templates skipped: %s", "; ".join(problems))
    ls.window_show_message(
        types.ShowMessageParams(
            type=types.MessageType.Warning,
            message="tta-codegen: skipped broken prompt template(s): " + "; ".join(problems),
        )
    )


async def refresh(ls: TtaLanguageServer, library: PromptLibrary) -> None:
    await asyncio.to_thread(library.refresh)
    report_problems(ls, library)


async def cmd_list_prompts(ls: TtaLanguageServer, *args: Any) -> list[dict[str, Any]]:
    parse_params(EmptyParams, args, "tta.listPrompts", optional=True)
    library = workspace_library(ls)
    await refresh(ls, library)
    return [t.listing() for t in library.templates()]


async def _prime(ls: TtaLanguageServer) -> None:
    await refresh(ls, workspace_library(ls))


def prompt_code_actions(
    ls: TtaLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    rng = params.range
    uri = params.text_document.uri
    if rng.start == rng.end or not ls.editor.is_open(uri):
        return []
    library = workspace_library(ls)
    if library.stale(CODE_ACTION_RESCAN_S):
        spawn(refresh(ls, library))
    return [
        _action(template, uri, rng, params.context.diagnostics)
        for template in library.templates()
        if template.meta.applies_to == "selection"
        # A code action cannot ask for values: templates needing some are for tta.generate.
        and not any(v.required for v in template.meta.variables.values())
    ]


def _action(
    template: PromptTemplate,
    uri: str,
    rng: types.Range,
    diagnostics: Sequence[types.Diagnostic],
) -> types.CodeAction:
    meta = template.meta
    instruction = meta.action_instruction
    argument: dict[str, Any] = {
        "textDocument": {"uri": uri},
        "range": range_json(rng),
        "instruction": instruction,
        "template": meta.id,
    }
    title = meta.title
    attached: list[types.Diagnostic] | None = None
    if "diagnostic" in meta.variables and diagnostics:
        # The problems the editor shows for this range are what "fix" means here.
        text = "\n".join(
            f"- {d.source + ': ' if d.source else ''}{d.message} (line {d.range.start.line + 1})"
            for d in diagnostics
        )
        argument["instruction"] = f"{instruction}:\n{text}"
        argument["variables"] = {"diagnostic": text}
        title = f"{meta.title}: {diagnostics[0].message.splitlines()[0][:60]}"
        attached = list(diagnostics)
    return types.CodeAction(
        title=f"{title} (tta-codegen)",
        kind=types.CodeActionKind.RefactorRewrite,
        diagnostics=attached,
        command=types.Command(title=meta.title, command="tta.refine", arguments=[argument]),
    )
