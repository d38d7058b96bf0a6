"""The editor fixtures of the LSP tests, shared with the reliability suite."""

from tests.lsp.conftest import editor, make_editor

__all__ = ["editor", "make_editor"]
