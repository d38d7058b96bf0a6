"""The model layer: providers, routing and fallback. Knows nothing of documents or edits."""
