from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tta_codegen.prompts.library import PromptLibrary
from tta_codegen.prompts.loader import builtin_prompts_dir
from tta_codegen.prompts.meta import BUILTIN_VARIABLES
from tta_codegen.prompts.roots import PromptRoot


def builtins(**over: Any) -> dict[str, Any]:
    """Built-in variables as the builder fills them, for rendering in tests."""
    values: dict[str, Any] = dict.fromkeys(BUILTIN_VARIABLES, "")
    values.update(language="python", path="app/service.py", before="import os\n", after="\n")
    values.update(over)
    return values


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def template(
    title: str = "Greeting", body: str = "Say hello to {{ who }}.", *, variables: str = ""
) -> str:
    """A small valid user template."""
    default_vars = '[variables.who]\nrequired = true\nexample = "world"\n'
    return (
        "{#---\n"
        f'title = "{title}"\n'
        'description = "A test template."\n'
        f"{variables or default_vars}"
        "---#}\n"
        '{% extends "_base/task.j2" %}\n'
        "{% block task %}" + body + "{% endblock %}\n"
    )


@pytest.fixture
def user_root(tmp_path: Path) -> Path:
    root = tmp_path / "user-prompts"
    root.mkdir()
    return root


@pytest.fixture
def library(user_root: Path) -> PromptLibrary:
    """The built-in library under a writable user folder."""
    return PromptLibrary(
        [PromptRoot(user_root, "user"), PromptRoot(builtin_prompts_dir(), "builtin", True)]
    )
