from tta_codegen.context.chunker import chunk_file

SOURCE = '''"""Order helpers."""

from __future__ import annotations

import json
from . import money
from ..core import base

TAX = 0.2


@cache
def parse_order(raw: str, *, strict: bool = True) -> dict[str, object]:
    """Parse an order from its JSON text."""
    return json.loads(raw)


class OrderBook(base.Book):
    """All open orders."""

    limit = 10

    def add(self, order):
        """Add one order."""
        self.orders.append(order)

    async def flush(self) -> None:
        pass
'''


def by_name(rec):
    return {c.name: c for c in rec.chunks}


def test_python_symbols_with_line_ranges_and_signatures() -> None:
    rec = chunk_file("/ws/shop/orders.py", "shop/orders.py", SOURCE)
    chunks = by_name(rec)
    module = chunks["shop.orders"]
    assert module.kind == "module" and module.start == 1 and '"""Order helpers."""' in module.text
    fn = chunks["parse_order"]
    assert (fn.kind, fn.start, fn.end) == ("function", 12, 15)
    assert fn.text.startswith("@cache\ndef parse_order(")
    cls = chunks["OrderBook"]
    assert cls.kind == "class" and cls.start == 18 and "limit = 10" in cls.text
    assert "def add" not in cls.text
    add = chunks["OrderBook.add"]
    assert (add.kind, add.start, add.end) == ("method", 23, 25)
    assert chunks["OrderBook.flush"].kind == "method"
    assert rec.outline == [
        (13, "def parse_order(raw: str, *, strict: bool = True) -> dict[str, object]"),
        (18, "class OrderBook(base.Book)"),
        (23, "    def add(self, order)"),
        (27, "    async def flush(self) -> None"),
    ]
    assert set(rec.defines) == {"parse_order", "OrderBook", "add", "flush"}


def test_imports_resolve_relative_modules() -> None:
    rec = chunk_file("/ws/shop/orders.py", "shop/orders.py", SOURCE)
    assert "json" in rec.imports
    assert "shop" in rec.imports and "shop.money" in rec.imports
    assert "core" in rec.imports and "core.base" in rec.imports


def test_terms_are_identifier_parts_and_include_the_class() -> None:
    rec = chunk_file("/ws/shop/orders.py", "shop/orders.py", SOURCE)
    add_terms = by_name(rec)["OrderBook.add"].terms.split()
    assert {"order", "book", "orderbook", "add", "orders"} <= set(add_terms)
    assert "self" not in add_terms


def test_syntax_error_falls_back_to_blocks() -> None:
    text = "def broken(:\n    pass\n\n" + "x = 1\n" * 50
    rec = chunk_file("/ws/b.py", "b.py", text)
    assert rec.chunks and all(c.kind == "block" for c in rec.chunks)
    assert rec.chunks[0].start == 1


def test_markdown_is_cut_at_headings() -> None:
    text = "# Title\n\nIntro.\n\n## Install\n\npip install x\n\n## Use\n\nrun it\n"
    rec = chunk_file("/ws/README.md", "README.md", text)
    assert [c.start for c in rec.chunks] == [1, 5, 9]
    assert [line for _, line in rec.outline] == ["# Title", "## Install", "## Use"]


def test_secrets_never_reach_chunks_or_terms() -> None:
    text = 'KEY = "sk-proj-abcdefghijklmnopqrstuvwx0123"\n\ndef f():\n    return KEY\n'
    rec = chunk_file("/ws/k.py", "k.py", text)
    for c in rec.chunks:
        assert "abcdefghijklmnop" not in c.text and "abcdefghijklmnop" not in c.terms
    assert any("[REDACTED api-key]" in c.text for c in rec.chunks)


def test_long_chunks_are_truncated_for_display_but_fully_indexed() -> None:
    body = "".join(f"    value_{i} = compute_thing_{i}()\n" for i in range(200))
    rec = chunk_file("/ws/l.py", "l.py", "def big():\n" + body)
    chunk = rec.chunks[0]
    assert chunk.end == 201
    assert "more lines)" in chunk.text
    assert "199" in chunk.terms.split()  # compute_thing_199 was indexed


def test_terms_repeat_a_frequent_token_at_most_three_times_most_frequent_first() -> None:
    text = "def f(alpha):\n    alpha = alpha + beta\n    return alpha + alpha + gamma\n"
    rec = chunk_file("/ws/t.py", "t.py", text)
    assert rec.chunks[0].terms.split() == ["alpha", "alpha", "alpha", "beta", "gamma"]
