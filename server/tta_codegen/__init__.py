"""tta-codegen: a language server that streams AI-generated code into the editor."""

__version__ = "0.1.0"
