"""Finds and renders prompt templates in a sandboxed Jinja2 environment.

The sandbox and StrictUndefined matter: templates may come from a workspace the user
merely opened, so they must not reach Python internals or read files outside the
template folders, and a missing variable must be an error naming it and the template,
not silently empty text in a prompt.

Template names resolve two ways: ``@<id>`` is a library template by id (the library
decides which file wins), anything else (``_base/task.j2``) is a path searched in the
template folders in precedence order, so a workspace can override a shared block too.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment


class PromptError(Exception):
    """A template is missing, broken, or was given bad variables.

    Messages point at the editor's commands (the language server shows them as they are);
    :func:`for_cli` rewords those pointers for the terminal.
    """


# Editor pointers in PromptError messages, and what the CLI says instead.
_CLI_POINTERS = (
    ("(see tta.listPrompts)", "(see tta-codegen prompts list)"),
    (
        "select the code and run it as a code action (tta.refine) instead of generating at a "
        "position",
        "rewrite existing code with tta-codegen refine --file F --lines A-B INSTRUCTION "
        "instead of generate",
    ),
)


def for_cli(message: str) -> str:
    """``message`` with its editor pointers replaced by the CLI's own commands."""
    for editor, cli in _CLI_POINTERS:
        message = message.replace(editor, cli)
    return message


@functools.cache
def builtin_prompts_dir() -> Path:
    """The shipped library: inside the wheel, or ``prompts/`` beside ``server/`` in a checkout.

    Looked up once: it is where this package is installed, and every request asks."""
    packaged = importlib.resources.files("tta_codegen").joinpath("_builtin_prompts")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "prompts"


class LibraryLoader(jinja2.BaseLoader):
    """Loads ``@id`` names from an id→file table and other names from folders, in order."""

    def __init__(self, search_path: Sequence[Path], by_id: Mapping[str, Path]) -> None:
        self.search_path = list(search_path)
        self.by_id = dict(by_id)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self._find(template)
        try:
            source = path.read_text(encoding="utf-8")
            mtime = path.stat().st_mtime_ns
        except (OSError, UnicodeDecodeError) as exc:
            raise jinja2.TemplateNotFound(template, f"{path}: {exc}") from exc

        def uptodate() -> bool:
            try:
                return path.stat().st_mtime_ns == mtime
            except OSError:
                return False

        return source, str(path), uptodate

    def _find(self, template: str) -> Path:
        if template.startswith("@"):
            found = self.by_id.get(template[1:])
            if found is None:
                raise jinja2.TemplateNotFound(template)
            return found
        # split_template_path refuses ".." so an include can never leave the folders.
        pieces = split_template_path(template)
        for root in self.search_path:
            candidate = root.joinpath(*pieces)
            if candidate.is_file():
                return candidate
        raise jinja2.TemplateNotFound(template)


def make_environment(
    search_path: Sequence[Path], by_id: Mapping[str, Path] | None = None
) -> jinja2.Environment:
    return ImmutableSandboxedEnvironment(
        loader=LibraryLoader(search_path, by_id or {}),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(env: jinja2.Environment, name: str, variables: Mapping[str, Any]) -> str:
    """Render ``name``; every failure becomes a :class:`PromptError` naming the template."""
    label = name[1:] if name.startswith("@") else name
    try:
        return env.get_template(name).render(**variables)
    except jinja2.TemplateNotFound as exc:
        raise PromptError(f"prompt template {label!r}: {exc.name!r} not found") from exc
    except jinja2.UndefinedError as exc:
        raise PromptError(f"prompt template {label!r}: {exc.message}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(
            f"prompt template {label!r}: {exc.filename or exc.name}:{exc.lineno}: {exc.message}"
        ) from exc
    except jinja2.exceptions.SecurityError as exc:
        raise PromptError(f"prompt template {label!r} tried something unsafe: {exc}") from exc
    except jinja2.TemplateError as exc:
        raise PromptError(f"prompt template {label!r}: {exc}") from exc
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        # Template code doing arithmetic or filters on the wrong kind of value.
        raise PromptError(f"prompt template {label!r}: {type(exc).__name__}: {exc}") from exc
