"""LSP features, one module each; each exposes ``register(server)``.

``lsp.server.create_server`` registers them in the order of :data:`FEATURES`, which
matters where several features hook the same event:

- ``actions`` before ``prompt_library``: code actions list the presets (Generate tests,
  Simplify, Fix with AI) before the prompt library's templates.
- ``context_index`` before ``prompt_library`` and ``trust``: on ``initialized`` the
  workspace index starts first (generations made meanwhile use what is indexed so far),
  then the templates are read, then the trust notice is shown.
- ``context_index`` before ``review`` on ``didOpen``: the index sees the text before a
  test file's pending change starts tracking it.

A feature module registers handlers and hooks only in ``register``; importing it changes
nothing.
"""

from __future__ import annotations

from tta_codegen.lsp.features import (
    actions,
    completion,
    context_index,
    generate,
    generate_tests,
    list_models,
    outcomes,
    prompt_library,
    review,
    stats,
    trust,
)

FEATURES = (
    actions,
    completion,
    context_index,
    generate,
    generate_tests,
    list_models,
    outcomes,
    prompt_library,
    review,
    stats,
    trust,
)
