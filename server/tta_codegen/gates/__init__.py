"""Quality gates: run checks on generated code, in a sandbox, and report. Never calls models."""
