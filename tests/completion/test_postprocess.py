"""The pure core of inline completion: prompt budgets, post-processing, cache, scheduler."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen.completion.cache import CachedSuggestion, CompletionCache
from tta_codegen.completion.postprocess import finish, next_nonblank
from tta_codegen.completion.prompt import build_prompt
from tta_codegen.completion.scheduler import CompletionScheduler
from tta_codegen.models.base import FimPrompt
from tta_codegen.models.fim import render_template, suffix_stops


def _prompt(before: str, after: str, language: str = "python"):
    return build_prompt(
        before + after, len(before), language, max_prefix_chars=10_000, max_suffix_chars=10_000
    )


def test_block_opened_by_the_cursor_line_is_completed_to_its_end() -> None:
    p = _prompt("def add(a, b):", "\n\nprint(add(1, 2))\n")
    raw = "\n    total = a + b\n    return total\n\ndef other():\n    pass\n"
    assert finish(raw, p) == "\n    total = a + b\n    return total"


def test_mid_line_completes_that_line_only_and_trims_the_overlap() -> None:
    p = _prompt("result = compute(", ")\nnext_line()\n")
    assert finish("a, b)\nmore()", p) == "a, b"


def test_never_repeats_the_next_line() -> None:
    p = _prompt("    x = 1\n    ", "\n    return x\n")
    assert finish("y = 2\n    return x\n", p) == "y = 2"


def test_fences_from_a_chat_model_are_dropped_and_indentation_kept() -> None:
    p = _prompt("class A:\n    def f(self):\n        ", "\n")
    raw = "```python\n        return 42\n```\nSome prose."
    assert finish(raw, p) == "return 42"


def test_whitespace_only_is_dropped() -> None:
    assert finish("  \n\n ", _prompt("x = ", "\n")) is None


def test_braces_include_the_closing_bracket_of_the_block_opened() -> None:
    p = _prompt("function f(a) {", "\n\nf(1);\n", "javascript")
    raw = "\n  return a + 1;\n}\n\nfunction g() {}\n"
    assert finish(raw, p) == "\n  return a + 1;\n}"


def test_budgets_cut_at_line_boundaries_and_keep_the_cursor_line() -> None:
    text = "".join(f"line{i} = {i}\n" for i in range(200)) + "tail = "
    p = build_prompt(text, len(text), "python", max_prefix_chars=100, max_suffix_chars=10)
    assert p.prefix.endswith("tail = ")
    assert p.prefix.startswith("line") and len(p.prefix) <= 100


def test_templates_and_prefix_only_stops() -> None:
    t = "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
    assert render_template(t, FimPrompt("a{b}", "}c")) == (
        "<|fim_prefix|>a{b}<|fim_suffix|>}c<|fim_middle|>"
    )
    assert suffix_stops("\n\n    return total\n") == ["return total"]


_code = st.text(alphabet='ab(){}:=;  \n\t"x1', max_size=60)


@settings(max_examples=400, deadline=None)
@given(before=_code, after=_code, raw=_code)
def test_property_completion_never_repeats_the_text_after_the_cursor(
    before: str, after: str, raw: str
) -> None:
    p = _prompt(before, after)
    out = finish(raw, p)
    if out is None:
        return
    assert out.strip(), "whitespace-only suggestions are dropped"
    tail = after.split("\n", 1)[0].strip()
    if tail:
        assert "\n" not in out
        assert not out.rstrip().endswith(tail)
    else:
        stop = next_nonblank(after)
        if stop:
            assert stop not in [line.strip() for line in out.split("\n")]


def test_cache_answers_with_the_rest_while_typing_what_was_predicted() -> None:
    cache = CompletionCache(4)
    cache.put("u", CachedSuggestion("def f(", "\n", "a, b):", "m"))
    hit = cache.get("u", "def f(a, ", "\n")
    assert hit is not None and hit.remaining == "b):" and hit.typed == "a, "
    assert cache.get("u", "def f(x", "\n") is None  # typed something else
    assert cache.get("u", "def f(a", "\nchanged") is None  # the text after changed


async def test_scheduler_supersedes_and_debounces() -> None:
    sched = CompletionScheduler()
    started: list[int] = []

    async def work(i: int) -> int:
        started.append(i)
        await asyncio.sleep(0)
        return i

    first = asyncio.ensure_future(sched.run("doc", 0.05, lambda: work(1)))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(sched.run("doc", 0.05, lambda: work(2)))
    assert await first is None  # superseded: answered empty
    assert await second == 2
    assert started == [2] and sched.model_calls == 1
