"""Inline completion: ghost text as the user types (fill-in-the-middle).

Plain functions and small classes, no editor or JSON-RPC: ``prompt`` turns a document
and a cursor into a FIM prompt, ``postprocess`` turns a model's raw continuation into
the suggestion, ``cache`` reuses a suggestion while the user types what it predicted,
``scheduler`` debounces and supersedes requests per document, ``service`` ties them to
the model router, ``acceptance`` keeps the shown/accepted counts. The LSP feature
(``lsp/features/completion.py``) is a thin handler over ``service``.
"""
