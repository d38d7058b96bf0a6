"""Finds and renders prompt templates in a sandboxed Jinja2 environment.

The sandbox and StrictUndefined matter: templates may come from a workspace the user
merely opened, so they must not reach Python internals, and a missing variable must be
an error naming it, not silently empty text in a prompt.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment


class PromptError(Exception):
    """A template is missing, broken, or was given bad variables."""


def builtin_prompts_dir() -> Path:
    """The shipped library: inside the wheel, or ``prompts/`` beside ``server/`` in a checkout."""
    packaged = importlib.resources.files("tta_codegen").joinpath("_builtin_prompts")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "prompts"


def make_environment(search_path: list[Path]) -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(env: jinja2.Environment, name: str, variables: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(**variables)
    except jinja2.TemplateNotFound as exc:
        raise PromptError(f"prompt template {exc.name!r} not found") from exc
    except jinja2.UndefinedError as exc:
        raise PromptError(f"prompt template {name!r}: {exc.message}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(
            f"prompt template {exc.filename or name}:{exc.lineno}: {exc.message}"
        ) from exc
    except jinja2.exceptions.SecurityError as exc:
        raise PromptError(f"prompt template {name!r} tried something unsafe: {exc}") from exc
