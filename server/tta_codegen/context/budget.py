"""Packs rules, the cursor window, examples and the repo map into ``context.max_tokens``.

Shares, in order: project rules up to 30 % of the budget (they are short and they are
the point), the text around the cursor up to 30 % (at least 2,000 characters, whatever
the budget: without it the model cannot place the code), examples up to what is left
minus a 15 % reserve, then the repo map in everything that remains. What a part does
not use flows to the next. Every decision is logged at debug level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from tta_codegen.context.retrieve import Example
from tta_codegen.context.rules import RuleFile
from tta_codegen.context.tokens import estimate_tokens
from tta_codegen.context.types import ContextPart, ContextResult
from tta_codegen.context.window import cursor_window
from tta_codegen.redact import redact

log = logging.getLogger(__name__)

RULES_SHARE = 0.30
WINDOW_SHARE = 0.30
MAP_RESERVE = 0.15
WINDOW_MIN_CHARS = 2_000
WINDOW_MAX_CHARS = 12_000

EXAMPLES_HEADER = (
    "## Related code from this workspace\n"
    "Existing code of the project, for reference: reuse these helpers and follow their "
    "conventions; do not repeat them in your answer.\n"
)
MAP_HEADER = "## Repository map (files related to this one, with their signatures)\n"


@dataclass
class Budget:
    max_tokens: int
    chars_per_token: float
    used: int = 0

    def tokens(self, text: str) -> int:
        return estimate_tokens(text, self.chars_per_token)

    def chars(self, tokens: int) -> int:
        return max(0, int(tokens * self.chars_per_token))

    @property
    def left(self) -> int:
        return max(0, self.max_tokens - self.used)


def _fence(language: str, text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text}\n{fence}"


def pack(
    *,
    budget: Budget,
    rules: list[RuleFile],
    text: str,
    start: int,
    end: int,
    current_rel: str,
    examples: list[Example],
    languages: dict[str, str],
    repo_map: Callable[[int], tuple[str, list[str]]] | None,
) -> ContextResult:
    result = ContextResult(max_tokens=budget.max_tokens)

    # 1. Project rules → system prompt.
    rule_room = budget.chars(int(budget.max_tokens * RULES_SHARE))
    rule_texts: list[str] = []
    for rule in rules:
        block = f"From {rule.source}:\n{rule.text}"
        if rule_room <= 0:
            log.debug("context: skipped rules %s (no budget left)", rule.source)
            continue
        if len(block) > rule_room:
            block = block[: max(0, rule_room - 40)].rstrip() + "\n[... rules truncated]"
        rule_room -= len(block) + 2
        rule_texts.append(block)
        _add(result, budget, "rules", rule.source, block, rule.reason)
    result.rules = redact("\n\n".join(rule_texts))

    # 2. The text around the cursor (sent by the prompt builder, counted here).
    window_chars = budget.chars(int(budget.max_tokens * WINDOW_SHARE))
    window_chars = min(WINDOW_MAX_CHARS, max(WINDOW_MIN_CHARS, window_chars))
    window = cursor_window(text, start, end, window_chars)
    result.before, result.after = redact(window.before), redact(window.after)
    lo = start - len(window.before)
    hi = end + len(window.after)
    first = text.count("\n", 0, lo) + 1
    last = text.count("\n", 0, hi) + 1
    _add(
        result,
        budget,
        "current_file",
        f"{current_rel}:{first}-{last}",
        result.before + "<CURSOR>" + result.after,
        "the text around the cursor",
    )

    # 3. Retrieved examples.
    reserve = int(budget.max_tokens * MAP_RESERVE) if repo_map is not None else 0
    example_room = max(0, budget.left - reserve)
    blocks: list[str] = []
    for ex in examples:
        h = ex.hit
        what = f"{h.kind} {h.name}" if h.kind != "block" else "block"
        header = f"### {ex.rel} lines {h.start}-{h.end} ({what})"
        block = f"{header}\n{_fence(languages.get(h.path, ''), redact(h.text))}"
        cost = budget.tokens(block) + 1
        if cost > example_room:
            log.debug("context: skipped %s:%d-%d (%d tokens > %d left)", ex.rel, h.start,
                      h.end, cost, example_room)  # fmt: skip
            continue
        example_room -= cost
        blocks.append(block)
        _add(result, budget, "example", f"{ex.rel}:{h.start}-{h.end}", block,
             "; ".join(ex.reasons) + f" (score {ex.score:.2f})")  # fmt: skip
    sections: list[str] = []
    if blocks:
        sections.append(EXAMPLES_HEADER + "\n" + "\n\n".join(blocks))
        budget.used += budget.tokens(EXAMPLES_HEADER)

    # 4. The repo map, in what is left.
    if repo_map is not None and budget.left > 0:
        room = budget.chars(budget.left) - len(MAP_HEADER)
        outline, files = repo_map(room) if room > 200 else ("", [])
        if outline:
            outline = redact(outline)
            sections.append(MAP_HEADER + outline)
            budget.used += budget.tokens(MAP_HEADER)
            _add(result, budget, "repo_map", ", ".join(files[:8]) + ("…" if len(files) > 8 else ""),
                 outline, "files ranked by the reference graph (imports and names used), "
                 "personalised to the current file and the retrieved code")  # fmt: skip
    result.text = redact("\n\n".join(sections))
    result.used_tokens = budget.used
    log.debug("context: %d of %d tokens used", budget.used, budget.max_tokens)
    return result


def _add(
    result: ContextResult, budget: Budget, kind: str, source: str, text: str, reason: str
) -> None:
    tokens = budget.tokens(text)
    budget.used += tokens
    result.parts.append(ContextPart(kind, source, text, reason, tokens))
    log.debug("context: + %s %s (%d tokens): %s", kind, source, tokens, reason)
