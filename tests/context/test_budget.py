from tta_codegen.context.budget import EXAMPLES_HEADER, MAP_HEADER, Budget, pack
from tta_codegen.context.retrieve import Example
from tta_codegen.context.rules import RuleFile
from tta_codegen.context.store import Hit
from tta_codegen.context.tokens import estimate_tokens


def example(i: int, lines: int) -> Example:
    text = "\n".join(f"    line_{i}_{n} = {n}" for n in range(lines))
    hit = Hit(i, f"/ws/m{i}.py", 1, lines, "function", f"f{i}", text, 1.0)
    return Example(hit, f"m{i}.py", 10.0 - i, [f"BM25 match on f{i}"])


def run(
    max_tokens: int, examples: list[Example], rules: list[RuleFile] | None = None, repo_map=None
):  # type: ignore[no-untyped-def]
    text = "import os\n" * 10
    return pack(budget=Budget(max_tokens, 4.0), rules=rules or [], text=text, start=50,
                end=50, current_rel="cur.py", examples=examples,
                languages={}, repo_map=repo_map)  # fmt: skip


def test_everything_fits_in_a_large_budget() -> None:
    result = run(100_000, [example(1, 5), example(2, 5)],
                 [RuleFile("AGENTS.md", "Use retries.", "well-known")],
                 repo_map=lambda room: ("m1.py:\n  1: def f1()", ["m1.py"]))  # fmt: skip
    kinds = [p.kind for p in result.parts]
    assert kinds == ["rules", "current_file", "example", "example", "repo_map"]
    assert "Use retries." in result.rules
    assert "### m1.py lines 1-5 (function f1)" in result.text
    assert "## Repository map" in result.text
    assert result.before == "import os\n" * 5 and result.after == "import os\n" * 5
    headers = estimate_tokens(EXAMPLES_HEADER) + estimate_tokens(MAP_HEADER)
    assert result.used_tokens == sum(p.tokens for p in result.parts) + headers


def test_examples_are_dropped_when_the_budget_is_small() -> None:
    big = [example(i, 40) for i in range(10)]
    result = run(1_000, big)
    examples = [p for p in result.parts if p.kind == "example"]
    assert 0 < len(examples) < 10
    assert result.used_tokens <= 1_000
    # The best (first) examples are the ones kept.
    assert examples[0].source == "m0.py:1-40"


def test_rules_are_truncated_to_their_share() -> None:
    rules = [RuleFile("AGENTS.md", "rule text " * 2_000, "well-known")]
    result = run(1_000, [], rules)
    assert "[... rules truncated]" in result.rules
    assert len(result.rules) <= 0.3 * 1_000 * 4 + 40


def test_secrets_in_examples_and_window_are_redacted() -> None:
    hit = Hit(1, "/ws/s.py", 1, 1, "module", "s", 'K = "sk-abcdefghijklmnopqrstuvwxyz"', 1.0)
    result = pack(budget=Budget(4000, 4.0), rules=[],
                  text='T = "sk-zyxwvutsrqponmlkjihgfedcba"\nx = 1\n', start=36, end=36,
                  current_rel="cur.py", examples=[Example(hit, "s.py", 1.0, ["r"])],
                  languages={}, repo_map=None)  # fmt: skip
    assert "abcdefghijklmnop" not in result.text
    assert "zyxwvutsrqponmlk" not in (result.before or "")
    assert "[REDACTED api-key]" in result.text and "[REDACTED api-key]" in (result.before or "")
