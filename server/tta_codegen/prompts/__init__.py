"""The prompt library: Jinja2 templates in ``prompts/`` rendered into chat messages."""
