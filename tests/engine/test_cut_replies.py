"""How the engine treats replies that are not one clean code block, against the fake provider.

The real engine, router and gates (`syntax`, `definition`); only the model's HTTP server is
a fake on loopback. The rule under test (docs/refine.md): a reply cut off *after* complete
top-level definitions that include what was asked delivers only those, whole; a cut
inside what was asked stays ``truncated``; prose and a second block around the code never
reach it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.provider import FakeProvider, Reply
from tta_codegen.config import Config
from tta_codegen.engine import BufferSink, Engine, GenerationResult
from tta_codegen.models.registry import ProviderRegistry
from tta_codegen.models.router import ModelRouter
from tta_codegen.request import GenerationRequest

ASKED = "a function is_prime(n) that checks whether n is prime"
PRIME = (
    "def is_prime(n):\n"
    "    if n < 2:\n"
    "        return False\n"
    "    return all(n % i for i in range(2, int(n**0.5) + 1))\n"
)
CONTINUE = "cut off by the length limit"


@pytest.fixture(autouse=True)
def xdg_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger lives under tmp_path, never in the real home."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


async def generate(
    fake: FakeProvider, root: Path, *, description: str = ASKED, continuations: int = 2
) -> tuple[GenerationResult, BufferSink]:
    config = Config.model_validate(
        {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url}},
            "models": [{"id": "fake-a", "provider": "fake"}],
            "routing": {"default": "fake-a"},
            "gates": {"enabled": ["syntax", "definition"]},
            "refine": {"enabled": False},  # one candidate: the reply's own treatment
            "generation": {"max_continuations": continuations},
        }
    )
    (root / "prime.py").write_text("")
    request = GenerationRequest(
        kind="generate", path=str(root / "prime.py"), language="python", text="",
        start=0, end=0, description=description, workspace_root=str(root),
    )  # fmt: skip
    router = ModelRouter(config, ProviderRegistry(config))
    sink = BufferSink()
    try:
        return await Engine(config, router).generate(request, sink), sink
    finally:
        await router.aclose()


def cut(text: str, **kw: Any) -> Reply:
    return Reply.text(text, size=7, finish_reason="length", **kw)


async def test_a_cut_after_the_asked_function_delivers_it_whole_without_continuing(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(cut(f"```python\n{PRIME}\n\ndef main():\n    for n in range(10):\n        print(n, "))
    result, sink = await generate(fake, tmp_path)
    assert result.status == "completed", result
    assert result.text == sink.text == PRIME  # the cut-off main() is gone, not half there
    assert [g.name for g in result.gates] == ["syntax", "definition"]
    assert len(fake.requests) == 1  # nothing asked is missing: no continuation
    assert any("cut off after the code asked for" in n for n in sink.notes)


async def test_a_cut_inside_the_asked_function_stays_truncated(
    fake: FakeProvider, tmp_path: Path
) -> None:
    # A complete helper before it does not make the cut-off is_prime whole.
    fake.add(cut("```python\ndef helper():\n    return 2\n\n\ndef is_prime(n):\n    if n <"))
    result, _ = await generate(fake, tmp_path, continuations=0)
    assert result.status == "truncated", result
    assert result.text.rstrip().endswith("if n <")


async def test_a_cut_inside_the_only_function_is_continued_then_truncated(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(cut("    for i in range(2, n):\n"), match=CONTINUE)
    fake.add(cut("```python\ndef is_prime(n):\n    if n < 2:\n        return False\n"))
    result, _ = await generate(fake, tmp_path, continuations=1)
    assert result.status == "truncated", result
    assert len(fake.requests) == 2  # the cut was inside what was asked: worth continuing


async def test_nothing_asked_by_name_means_nothing_kept_from_a_cut_reply(
    fake: FakeProvider, tmp_path: Path
) -> None:
    # Without a name to check, the complete first function may not be the answer at all.
    fake.add(cut(f"```python\n{PRIME}\n\ndef main():\n    print("))
    result, _ = await generate(
        fake, tmp_path, description="check whether numbers are prime", continuations=0
    )
    assert result.status == "truncated", result


async def test_prose_before_and_after_the_block_is_dropped(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(
        Reply.text(
            "Here's a Python function that checks if a number is prime:\n\n"
            f"```python\n{PRIME}```\n\nThis function first checks whether n is below 2.",
            size=5,
        )
    )
    result, sink = await generate(fake, tmp_path)
    assert result.status == "completed", result
    assert result.text == sink.text == PRIME


async def test_only_the_first_of_two_blocks_is_the_code(fake: FakeProvider, tmp_path: Path) -> None:
    fake.add(Reply.text(f"```python\n{PRIME}```\n\nUsage:\n\n```python\nprint(is_prime(7))\n```\n"))
    result, _ = await generate(fake, tmp_path)
    assert result.status == "completed", result
    assert result.text == PRIME


async def test_an_unclosed_fence_at_the_end_of_the_reply_is_not_whole(
    fake: FakeProvider, tmp_path: Path
) -> None:
    # The model stopped ("stop"), but the block never closed: nothing proves the end.
    fake.add(Reply.text(f"```python\n{PRIME}"))
    result, _ = await generate(fake, tmp_path, continuations=0)
    assert result.status == "truncated", result


async def test_an_unclosed_fence_after_the_asked_function_keeps_it(
    fake: FakeProvider, tmp_path: Path
) -> None:
    fake.add(Reply.text(f"```python\n{PRIME}\n\nprint(is_prime(7))\nprint(is_pr"))
    result, sink = await generate(fake, tmp_path, continuations=0)
    assert result.status == "completed", result
    assert result.text == sink.text == PRIME + "\n\nprint(is_prime(7))\n"
