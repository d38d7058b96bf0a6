"""Fill-in-the-middle wire formats: which one a model speaks, and the request bodies.

The providers own their transports; this module owns what a FIM request looks like on
each of them, so the three HTTP shapes and the raw template live side by side:

- ``kind = "openai"`` with ``fim = true``: ``POST {base_url}/completions`` with ``prompt``
  (the code before the cursor) and ``suffix`` (the code after it). vLLM, llama.cpp's
  server, DeepSeek and Mistral's Codestral (``base_url = ".../v1/fim"``) speak it.
- ``kind = "ollama"`` with ``fim = true``: ``POST /api/generate`` with ``prompt`` and
  ``suffix`` (Ollama applies the model's own FIM template).
- ``fim_template``: a raw completion of the template filled with prefix and suffix
  (``/completions`` without ``suffix``; Ollama ``raw: true``; the embedded runtime).
- the embedded model without a template: prefix only, stopped when it starts writing
  the line that already follows the cursor (SmolLM2 has no FIM tokens).
"""

from __future__ import annotations

from typing import Any, Literal

from tta_codegen.models.base import FimPrompt, ModelRequest
from tta_codegen.models.settings import ModelConfig

FimMode = Literal["native", "template"]


def fim_mode(model: ModelConfig, request: ModelRequest) -> FimMode | None:
    """How this model completes this request; None means the chat messages."""
    if request.fim is None:
        return None
    if model.fim_template:
        return "template"
    return "native" if model.fim else None


def render_template(template: str, fim: FimPrompt) -> str:
    # str.replace, not str.format: code is full of braces.
    return template.replace("{prefix}", fim.prefix).replace("{suffix}", fim.suffix)


def suffix_stops(suffix: str) -> list[str]:
    """Stop strings for a model that cannot see the suffix: the next line after the cursor.

    A prefix-only model that writes the line already below the cursor has finished the
    middle; stopping there saves the tokens (post-processing trims the overlap anyway).
    """
    rest = suffix.split("\n", 1)[1] if "\n" in suffix else ""
    for line in rest.splitlines():
        if line.strip():
            return [line.strip()] if len(line.strip()) >= 4 else []
    return []


def openai_completions_body(
    model: ModelConfig, request: ModelRequest, mode: FimMode
) -> dict[str, Any]:
    fim = request.fim
    assert fim is not None
    body: dict[str, Any] = {
        "model": model.id,
        "stream": True,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }
    if mode == "template":
        body["prompt"] = render_template(model.fim_template or "", fim)
    else:
        body["prompt"] = fim.prefix
        body["suffix"] = fim.suffix
    if request.stop:
        body["stop"] = request.stop[:4]  # OpenAI accepts at most four
    return body


def ollama_generate_body(
    model: ModelConfig, request: ModelRequest, mode: FimMode
) -> dict[str, Any]:
    fim = request.fim
    assert fim is not None
    options: dict[str, Any] = {
        "temperature": request.temperature,
        "num_predict": request.max_tokens,
    }
    if request.stop:
        options["stop"] = request.stop
    if model.context_window:
        options["num_ctx"] = model.context_window
    body: dict[str, Any] = {"model": model.id, "stream": True, "options": options}
    if mode == "template":
        body["prompt"] = render_template(model.fim_template or "", fim)
        body["raw"] = True  # the template already holds the model's own tokens
    else:
        body["prompt"] = fim.prefix
        body["suffix"] = fim.suffix
    return body
