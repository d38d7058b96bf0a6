"""Builds provider clients from config, once per provider name, and closes them.

Provider modules are imported lazily by kind, so a heavy optional runtime (the embedded
model) costs nothing to users who never configure it.
"""

from __future__ import annotations

import importlib
from typing import Any

from tta_codegen.config import Config
from tta_codegen.models.base import Provider
from tta_codegen.models.errors import NoModelConfigured

# kind -> "module:Class"; each class is constructed as Class(name, ProviderConfig).
PROVIDER_KINDS: dict[str, str] = {
    "openai": "tta_codegen.models.openai:OpenAIProvider",
    "anthropic": "tta_codegen.models.anthropic:AnthropicProvider",
    "ollama": "tta_codegen.models.ollama:OllamaProvider",
    "llamacpp": "tta_codegen.models.llamacpp:LlamaCppProvider",
}


class ProviderRegistry:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._providers: dict[str, Provider] = {}

    def get(self, name: str) -> Provider:
        cached = self._providers.get(name)
        if cached is not None:
            return cached
        pconf = self.config.providers.get(name)
        if pconf is None:
            raise NoModelConfigured(f"unknown provider {name!r}")
        target = PROVIDER_KINDS.get(pconf.kind)
        if target is None:
            raise NoModelConfigured(f"provider {name!r}: unknown kind {pconf.kind!r}")
        module_name, _, class_name = target.partition(":")
        try:
            cls: Any = getattr(importlib.import_module(module_name), class_name)
        except ImportError as exc:
            raise NoModelConfigured(
                f"provider {name!r} (kind {pconf.kind!r}) cannot be loaded: {exc}"
            ) from exc
        provider: Provider = cls(name, pconf)
        self._providers[name] = provider
        return provider

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()
