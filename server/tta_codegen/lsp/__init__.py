"""The LSP client of the engine: handlers, the streaming edit session, progress, cancel."""
