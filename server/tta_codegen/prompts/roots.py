"""Where templates come from, in precedence order (the first folder holding an id wins).

1. ``.tta-codegen/prompts/`` in the workspace (the team's templates, versioned with the code);
2. the folders in ``[prompts] paths`` (relative ones are relative to the workspace);
3. ``<user config dir>/tta-codegen/prompts/`` (``$XDG_CONFIG_HOME``, else ``~/.config``);
4. the built-in library shipped in the wheel.

The same order applies to shared blocks such as ``_base/requirements.j2``, so a workspace
can change what every template asks for by overriding one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tta_codegen.config import user_config_path
from tta_codegen.prompts.loader import builtin_prompts_dir
from tta_codegen.prompts.settings import PromptsConfig

Origin = Literal["workspace", "config", "user", "builtin"]
WORKSPACE_PROMPTS = Path(".tta-codegen") / "prompts"


@dataclass(frozen=True)
class PromptRoot:
    path: Path
    origin: Origin
    must_exist: bool = False  # a folder named in the config that is missing is reported


def user_prompts_dir() -> Path:
    return user_config_path().parent / "prompts"


def find_workspace_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that has ``.tta-codegen/prompts/``.

    Used when the caller does not know the workspace (the CLI, an engine built without
    one): the document's own location then decides, the way ``.editorconfig`` does.
    """
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_PROMPTS).is_dir():
            return folder
    return None


def prompt_roots(settings: PromptsConfig, workspace_root: Path | None) -> tuple[PromptRoot, ...]:
    roots: list[PromptRoot] = []
    if workspace_root is not None:
        roots.append(PromptRoot(workspace_root / WORKSPACE_PROMPTS, "workspace"))
    base = workspace_root or Path.cwd()
    for raw in settings.paths:
        path = Path(raw).expanduser()
        roots.append(PromptRoot(path if path.is_absolute() else base / path, "config", True))
    roots.append(PromptRoot(user_prompts_dir(), "user"))
    roots.append(PromptRoot(builtin_prompts_dir(), "builtin", True))
    return tuple(roots)
