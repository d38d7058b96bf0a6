"""The streaming extractor: only code passes, whatever the chunking."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tta_codegen.extract import CodeExtractor, extract_code, looks_like_prose, whole_definitions

REPLIES = {
    "fenced": ("```python\ndef f():\n    return 1\n```\n", "def f():\n    return 1\n"),
    "prose around": (
        "Here is the function you asked for:\n\n```python\nx = 1\ny = 2\n```\n\nThis sets x.\n",
        "x = 1\ny = 2\n",
    ),
    "raw code": ("import os\nprint(os.sep)\n", "import os\nprint(os.sep)\n"),
    "raw code then prose": (
        "def g():\n    pass\n\nThis function does nothing at all.\n",
        "def g():\n    pass\n",
    ),
    "second block ignored": ("```py\na = 1\n```\nand\n```py\nb = 2\n```\n", "a = 1\n"),
    "tilde fence": ("~~~\nz = 3\n~~~\n", "z = 3\n"),
    "unclosed fence": ("```python\nq = 1\nr = 2", "q = 1\nr = 2"),
    "indented fence in a list": (
        "1. Code:\n   ```python\n   k = 1\n     m = 2\n   ```\n",
        "k = 1\n  m = 2\n",
    ),
    "backticks inside code": ("```python\ns = '```'\nt = `x`\n```\n", "s = '```'\nt = `x`\n"),
    "longer closing fence": ("````\na\n```\nb\n````\n", "a\n```\nb\n"),
    "blank lines kept inside, trailing dropped": ("```\na\n\nb\n\n\n```\n", "a\n\nb\n"),
    "crlf": ("```python\r\nv = 1\r\n```\r\n", "v = 1\r\n"),
    "prose only": ("I cannot help with that request, sorry.\n", ""),
    "prose then unfenced code": (
        "Sure, here is the code for you:\ndef h():\n    return 2\n",
        "def h():\n    return 2\n",
    ),
}


def test_known_replies() -> None:
    for name, (reply, code) in REPLIES.items():
        assert extract_code(reply) == code, name


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(sorted(REPLIES)),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=30),
)
def test_any_chunking_gives_the_same_code(key: str, cuts: list[int]) -> None:
    reply, code = REPLIES[key]
    points = sorted({c % (len(reply) + 1) for c in cuts})
    pieces = [reply[a:b] for a, b in zip([0, *points], [*points, len(reply)], strict=True)]
    ex = CodeExtractor()
    out = "".join(ex.feed(p) for p in pieces) + ex.finish()
    assert out == code


@settings(max_examples=200, deadline=None)
@given(
    body=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="`~\r"),
            max_size=30,
        ),
        max_size=8,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=40),
)
def test_fenced_random_code_round_trips(body: list[str], cuts: list[int]) -> None:
    lines = [line.replace("\n", " ") for line in body]
    code = "".join(f"{line}\n" for line in lines)
    # Trailing blank lines are dropped by design.
    expected = code
    while expected.endswith("\n\n") or expected == "\n" or (expected and not expected.strip()):
        expected = expected[:-1] if expected.endswith("\n") else expected
        if not expected.strip():
            expected = ""
            break
    reply = f"Intro text here:\n```python\n{code}```\nOutro text.\n"
    points = sorted({c % (len(reply) + 1) for c in cuts})
    pieces = [reply[a:b] for a, b in zip([0, *points], [*points, len(reply)], strict=True)]
    ex = CodeExtractor()
    out = "".join(ex.feed(p) for p in pieces) + ex.finish()
    whole = extract_code(reply)
    assert out == whole
    assert out.rstrip("\n \t") == expected.rstrip("\n \t") or out.strip() == expected.strip()


def test_partial_line_released_early_inside_fence() -> None:
    ex = CodeExtractor()
    assert ex.feed("```python\n") == ""
    assert ex.feed("def f") == "def f"  # a line starting with a letter cannot be a fence
    assert ex.feed("():\n") == "():\n"
    assert ex.feed("`") == ""  # could be a closing fence: held
    assert ex.feed("``\nprose after\n") == ""
    assert ex.done


def test_prose_heuristic() -> None:
    assert looks_like_prose("Here is the implementation you asked for:")
    assert looks_like_prose("This function returns the sum of two numbers.")
    assert not looks_like_prose("result = compute(x)")
    assert not looks_like_prose("def compute_total(items: list[int]) -> int:")
    assert not looks_like_prose("import os")
    assert not looks_like_prose("# Compute the thing")
    assert not looks_like_prose("return a + b")


def test_a_closing_fence_indented_with_the_body_closes_the_block() -> None:
    # Small models indent the closing fence like the body; llama.cpp's fence stop ends the
    # stream right there, so the block must count as closed (not cut off), in any chunking.
    reply = "```python\ndef f():\n    return 1\n    ```"
    for size in (1, 3, len(reply)):
        ex = CodeExtractor()
        out = "".join(ex.feed(reply[i : i + size]) for i in range(0, len(reply), size))
        out += ex.finish()
        assert out == "def f():\n    return 1\n" and ex.done and not ex.unclosed
    # A line of backticks with text after it is still not a fence.
    ex = CodeExtractor()
    out = ex.feed("```python\nx = 1\n    ```y\n") + ex.finish()
    assert "```y" in out and ex.unclosed


def test_a_reply_ending_on_the_closing_backticks_is_not_an_open_fence() -> None:
    # llama.cpp's fence stop ends the stream right after "```", before any newline: the
    # engine asks open_fence before finish() to tell a cut-off reply from a whole one.
    for ending in ("```", "    ```"):
        ex = CodeExtractor()
        ex.feed("```python\ndef f():\n    return 1\n" + ending)
        assert not ex.open_fence
    ex = CodeExtractor()
    ex.feed("```python\ndef f():\n    return 1\n")
    assert ex.open_fence  # really cut off
    ex.feed("    return")
    assert ex.open_fence


PRIME = "def is_prime(n):\n    return n > 1 and all(n % i for i in range(2, n))\n"


def test_whole_definitions_keeps_the_complete_statements_before_the_cut() -> None:
    assert whole_definitions(PRIME + "\n\ndef main():\n    x = [1,", ["is_prime"]) == PRIME
    with_imports = "import math\n\n" + PRIME + "\nprint(is_prime(3))\nprint(is_pr"
    kept = whole_definitions(with_imports, ["is_prime"])
    assert kept == "import math\n\n" + PRIME + "\nprint(is_prime(3))\n"
    # Several names asked for: all of them must be among the complete statements.
    two = PRIME + "\ndef twin(n):\n    return is_prime(n) and is_prime(n + 2)\n\nx = ("
    assert whole_definitions(two, ["is_prime", "twin"]) == two[: two.index("\nx = (")]


def test_whole_definitions_refuses_a_cut_inside_what_was_asked() -> None:
    # The asked-for function is the last statement: nothing shows that it ended.
    assert whole_definitions(PRIME, ["is_prime"]) is None
    assert (
        whole_definitions("def helper():\n    return 2\n\ndef is_prime(n):\n    if", ["is_prime"])
        is None
    )
    # A stub does not count as defined; a name nobody asked for does not help.
    assert whole_definitions("def is_prime(n):\n    pass\n\ndef x():\n  y", ["is_prime"]) is None
    assert whole_definitions(PRIME + "\ndef main():\n    pri", []) is None
    assert whole_definitions(PRIME + "\ndef main():\n    pri", ["other"]) is None


def test_whole_definitions_never_splits_a_statement() -> None:
    # Column-0 text inside a docstring, or an else branch, does not start a new statement.
    in_doc = 'def is_prime(n):\n    """Whether n is prime.\n\nNot a statement\n'
    assert whole_definitions(in_doc, ["is_prime"]) is None
    branch = "if True:\n    def is_prime(n):\n        return True\nelse:\n    def is_pr"
    assert whole_definitions(branch, ["is_prime"]) is None  # not a top-level def
    then_else = PRIME + "if True:\n    x = 1\nelse:\n    x = "
    assert whole_definitions(then_else, ["is_prime"]) == PRIME  # the if/else is dropped whole
