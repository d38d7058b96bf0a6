"""Offsets to LSP positions in the negotiated encoding, including the document's end.

pygls' own conversion fails on an empty document and places the end of a document
without a final newline on a line that does not exist; the edit session needs both.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition


def position_at(doc: TextDocument, offset: int) -> types.Position:
    lines = doc.lines
    offset = max(0, offset)
    if offset < len(doc.source):
        # A lookup in an IndexedTextDocument (lsp/textindex.py), not a walk over every line.
        at = doc.server_position_at_offset(offset)
        return doc.position_codec.position_to_client_units(
            lines, ServerTextPosition(at.line, at.character)
        )
    if lines and not lines[-1].endswith(("\n", "\r")):
        last = len(lines) - 1
        return types.Position(line=last, character=doc.position_codec.client_num_units(lines[last]))
    return types.Position(line=len(lines), character=0)
