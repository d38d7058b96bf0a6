"""The kept line index (issue 19, item 19) answers exactly as pygls' own document does.

Random incremental edits, in every position encoding, on text with every kind of line
break (CRLF pairs split and joined included): after each, the source, the lines and every
offset/position conversion must match a plain pygls TextDocument given the same edits.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from tta_codegen.lsp.positions import position_at
from tta_codegen.lsp.textindex import IndexedTextDocument

ALPHABET = st.sampled_from(["a", "é", "😀", "\n", "\r", "\r\n", "\u2028", " "])
TEXT = st.lists(ALPHABET, max_size=30).map("".join)
ENCODINGS = [types.PositionEncodingKind.Utf16, types.PositionEncodingKind.Utf32,
             types.PositionEncodingKind.Utf8]  # fmt: skip


EDITS = st.lists(
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), TEXT, st.booleans()), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(TEXT, EDITS, st.sampled_from(ENCODINGS))
def test_indexed_document_matches_pygls(
    source: str, changes: list[tuple[int, int, str, bool]], encoding: str
) -> None:
    codec = PositionCodec(encoding)
    plain = TextDocument("file:///x.py", source, position_codec=codec)
    indexed = IndexedTextDocument("file:///x.py", source, position_codec=codec)
    for a, b, text, full in changes:
        # Positions a client can send: inside the document (both ends may split a CRLF).
        start, end = sorted((a % (len(plain.source) + 1), b % (len(plain.source) + 1)))
        change: types.TextDocumentContentChangeEvent = types.TextDocumentContentChangePartial(
            range=types.Range(position_at(plain, start), position_at(plain, end)), text=text
        )
        if full:  # what a full-sync client sends for the same edit: the whole new text
            after = plain.source[:start] + text + plain.source[end:]
            change = types.TextDocumentContentChangeWholeDocument(text=after)
        plain.apply_change(change)
        indexed.apply_change(change)
        assert indexed.source == plain.source
        assert list(indexed.lines) == list(plain.lines)
        for offset in range(len(plain.source) + 2):
            if plain.source:  # pygls' own fails on an empty document (UnboundLocalError)
                expected = plain.server_position_at_offset(offset)
                assert indexed.server_position_at_offset(offset) == expected
            assert position_at(indexed, offset) == position_at(plain, offset)
        for line in range(len(plain.lines) + 2):
            for character in range(5):
                pos = types.Position(line, character)
                assert indexed.offset_at_position(pos) == plain.offset_at_position(pos)


def test_full_change_and_empty_document() -> None:
    doc = IndexedTextDocument("file:///x.py", "")
    assert list(doc.lines) == [] and position_at(doc, 0) == types.Position(0, 0)
    doc.apply_change(types.TextDocumentContentChangeWholeDocument(text="a\nb"))
    assert list(doc.lines) == ["a\n", "b"]
    assert position_at(doc, 3) == types.Position(1, 1)


def test_streaming_edits_into_a_large_document_never_resplit_it() -> None:
    """What a generation does: insert a line at a time, each followed by conversions."""
    source = "".join(f"line_{i} = {i}\n" for i in range(20_000))
    doc = IndexedTextDocument("file:///big.py", source)
    offset = doc.offset_at_position(types.Position(10_000, 0))
    for k in range(200):
        at = position_at(doc, offset)
        doc.apply_change(
            types.TextDocumentContentChangePartial(
                range=types.Range(at, at), text=f"generated_{k} = {k}\n"
            )
        )
        offset = doc.offset_at_position(types.Position(10_001 + k, 0))
        assert doc.lines[10_000 + k] == f"generated_{k} = {k}\n"
    assert doc.rebuilds == 1  # the first index, then only patches
    assert doc.source.count("\n") == 20_200


def test_full_sync_changes_are_patched_too() -> None:
    source = "".join(f"line_{i} = {i}\n" for i in range(20_000))
    doc = IndexedTextDocument("file:///big.py", source)
    assert len(doc.lines) == 20_000
    text = source
    for k in range(50):
        at = text.index(f"line_{10_000 + k} = ")
        text = text[:at] + f"generated_{k} = {k}\n" + text[at:]
        doc.apply_change(types.TextDocumentContentChangeWholeDocument(text=text))
        assert doc.lines[10_000 + 2 * k] == f"generated_{k} = {k}\n"
    assert doc.rebuilds == 1 and doc.source == text
