"""Turns a request (and its context) into chat messages, through the template library."""

from __future__ import annotations

from tta_codegen.config import Config
from tta_codegen.context.types import ContextResult
from tta_codegen.context.window import cursor_window
from tta_codegen.models.base import ChatMessage
from tta_codegen.prompts.loader import builtin_prompts_dir, make_environment, render
from tta_codegen.request import GenerationRequest


class PromptBuilder:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._env = make_environment([builtin_prompts_dir()])

    def build(self, request: GenerationRequest, context: ContextResult | None) -> list[ChatMessage]:
        window = cursor_window(request.text, request.start, request.end)
        variables = {
            "language": request.language,
            "path": request.path,
            "before": window.before,
            "after": window.after,
            "description": request.description,
            "context": context.text if context else "",
            "rules": context.rules if context else "",
        }
        system = render(self._env, "_base/system.j2", variables)
        user = render(self._env, "_base/generate.j2", variables)
        return [ChatMessage("system", system.strip()), ChatMessage("user", user.strip())]
