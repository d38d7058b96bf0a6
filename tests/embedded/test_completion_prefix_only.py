"""Inline completion on the REAL embedded model: prefix only, stopped where the suffix begins."""

from __future__ import annotations

import pytest

from tta_codegen.config import ModelConfig, ProviderConfig
from tta_codegen.models.base import ChatMessage, FimPrompt, ModelRequest, TextDelta
from tta_codegen.models.llamacpp import LlamaCppProvider

pytestmark = pytest.mark.slow

MODEL = ModelConfig(id="smollm2-135m-instruct", provider="embedded")


async def test_fim_request_continues_the_prefix_and_never_writes_the_next_line() -> None:
    p = LlamaCppProvider("embedded", ProviderConfig(kind="llamacpp"))
    below = "print(square(3))"
    request = ModelRequest(
        [ChatMessage("user", "unused: the chat prompt is for models without FIM")],
        max_tokens=48,
        temperature=0.0,
        task_type="completion",
        fim=FimPrompt("def square(x):\n    return", "\n\n" + below + "\n"),
    )
    text = "".join([i.text async for i in p.stream(MODEL, request) if isinstance(i, TextDelta)])
    assert p.last_run is not None
    # The prompt was the prefix alone (no chat template around it): a handful of tokens.
    assert p.last_run.prompt_tokens < 20, p.last_run
    # Suffix-aware stopping: the line after the cursor is a stop string.
    assert below not in text, text
