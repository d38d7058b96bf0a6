"""Turns a request (and its context) into chat messages, through the template library.

The system message is ``_base/system.j2``; the user message is the task: the template
the request names (``request.template`` filled with ``request.variables``), else the
default for its kind (``_base/generate.j2`` for generation and tests, the ``refine``
template for a rewrite). Every template sees the built-in variables
(:data:`~tta_codegen.prompts.meta.BUILTIN_VARIABLES`) so it can ask the model to follow
the project's patterns that the context stage found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tta_codegen.config import Config
from tta_codegen.context.types import ContextResult
from tta_codegen.context.window import cursor_window
from tta_codegen.models.base import ChatMessage
from tta_codegen.prompts.library import PromptLibrary, library_for
from tta_codegen.prompts.loader import PromptError
from tta_codegen.prompts.roots import find_workspace_root, prompt_roots
from tta_codegen.request import GenerationRequest

# How long after a full scan of the template folders a request trusts a check of the
# folders alone (see prompts/library.py for what that means for an edited template).
RESCAN_S = 1.0
SYSTEM_FILE = "_base/system.j2"
GENERATE_FILE = "_base/generate.j2"
REFINE_TEMPLATE = "refine"


class PromptBuilder:
    def __init__(self, config: Config, workspace_root: Path | None = None) -> None:
        self.config = config
        # None: each request's document decides (nearest folder with .tta-codegen/prompts).
        self.workspace_root = workspace_root

    def library(self, request: GenerationRequest | None = None) -> PromptLibrary:
        root = self.workspace_root
        if root is None and request is not None and request.path:
            root = find_workspace_root(Path(request.path))
        library = library_for(prompt_roots(self.config.prompts, root))
        library.refresh(trust_folders_s=RESCAN_S)
        return library

    def task_type(self, request: GenerationRequest) -> str:
        """The task type for model selection: the template's, else the request kind's."""
        if request.template:
            found = self.library(request).find(request.template)
            if found is not None:
                return found.meta.task_type
        return request.task_type

    def build(self, request: GenerationRequest, context: ContextResult | None) -> list[ChatMessage]:
        library = self.library(request)
        variables = builtin_variables(request, context)
        system = library.render_file(SYSTEM_FILE, variables)
        template_id = request.template or (REFINE_TEMPLATE if request.kind == "refine" else None)
        if template_id is None:
            if request.variables:
                raise PromptError("variables were given without a template to fill")
            user = library.render_file(GENERATE_FILE, variables)
        else:
            template = library.get(template_id)
            if template.meta.applies_to == "selection" and request.start == request.end:
                raise PromptError(
                    f"template {template_id!r} rewrites a selection: select the code and run it "
                    "as a code action (tta.refine) instead of generating at a position"
                )
            user = library.render_template(template_id, request.variables, variables)
        return [ChatMessage("system", system.strip()), ChatMessage("user", user.strip())]


def builtin_variables(request: GenerationRequest, context: ContextResult | None) -> dict[str, Any]:
    window = cursor_window(request.text, request.start, request.end)
    before, after = window.before, window.after
    if context is not None and context.before is not None and context.after is not None:
        # The context stage's window is redacted and sized to the budget: prefer it.
        before, after = context.before, context.after
    rewriting = request.kind == "refine"
    return {
        "language": request.language,
        "path": request.path,
        "before": before,
        "after": after,
        "selection": request.text[request.start : request.end],
        "description": request.description,
        "instruction": request.description if rewriting else "",
        "context": context.text if context else "",
        "rules": context.rules if context else "",
    }
