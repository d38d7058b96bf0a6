"""Threads of the embedded model: llama-cpp-python's defaults unless configured (issue 18)."""

from __future__ import annotations

import pytest

from tta_codegen.config import ProviderConfig
from tta_codegen.models import llamacpp
from tta_codegen.models.llamacpp import LlamaCppProvider, default_threads


@pytest.mark.parametrize(
    ("cpus", "expected"), [(2, (1, 2)), (8, (4, 8)), (1, (1, 1)), (None, (1, 1))]
)
def test_half_the_cpus_generate_all_of_them_read_the_prompt(
    monkeypatch: pytest.MonkeyPatch, cpus: int | None, expected: tuple[int, int]
) -> None:
    monkeypatch.setattr(llamacpp.os, "cpu_count", lambda: cpus)
    assert default_threads() == expected


def test_configured_threads_are_used_for_both() -> None:
    configured = LlamaCppProvider("e", ProviderConfig(kind="llamacpp", n_threads=3))
    assert configured.threads == (3, 3)
    assert LlamaCppProvider("e", ProviderConfig(kind="llamacpp")).threads == default_threads()
