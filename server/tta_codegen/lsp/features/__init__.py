"""LSP features, one module each; every module here registers its handlers on the
server object when imported (``lsp.server`` imports them all)."""
