"""PromptBuilder: requests become messages through the library, with overrides by folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tta_codegen.config import Config
from tta_codegen.context.types import ContextResult
from tta_codegen.prompts.builder import PromptBuilder
from tta_codegen.prompts.loader import PromptError
from tta_codegen.prompts.settings import PromptsConfig
from tta_codegen.request import GenerationRequest

from .conftest import template, write

SOURCE = "import os\n\n\ndef f(x):\n    return x\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config" / "tta-codegen" / "prompts"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def request(ws: Path, **kw: Any) -> GenerationRequest:
    fields: dict[str, Any] = {
        "kind": "generate",
        "path": str(ws / "src" / "app.py"),
        "language": "python",
        "text": SOURCE,
        "start": 11,
        "end": 11,
        "description": "",
    }
    fields.update(kw)
    return GenerationRequest(**fields)


def test_template_request_renders_the_template_with_context(ws: Path, home: Path) -> None:
    builder = PromptBuilder(Config(), workspace_root=ws)
    context = ContextResult(text="class Settings: ...", rules="Use structlog.")
    system, user = builder.build(
        request(
            ws,
            template="circuit-breaker",
            variables={"name": "payments"},
            description="also expose Prometheus metrics",
        ),
        context,
    )
    assert system.role == "system" and "Use structlog." in system.content
    assert user.role == "user"
    assert "Write an async circuit breaker protecting `payments`" in user.content
    assert "class Settings: ..." in user.content
    assert "Additional instructions from the user: also expose Prometheus metrics" in user.content
    assert "import os\n\n<CURSOR>" in user.content


def test_without_template_the_description_is_the_task(ws: Path, home: Path) -> None:
    builder = PromptBuilder(Config(), workspace_root=ws)
    _, user = builder.build(request(ws, description="a function add(a, b)"), None)
    assert "Task: a function add(a, b)" in user.content
    with pytest.raises(PromptError, match="variables were given without a template"):
        builder.build(request(ws, description="x", variables={"a": 1}), None)


def test_refine_uses_the_refine_template_and_shows_the_selection(ws: Path, home: Path) -> None:
    builder = PromptBuilder(Config(), workspace_root=ws)
    start = SOURCE.index("def f")
    req = request(ws, kind="refine", start=start, end=len(SOURCE), description="rename x to value")
    system, user = builder.build(req, None)
    assert "replaces the selection" in system.content
    assert "Rewrite the selected code: rename x to value" in user.content
    assert "<SELECTION>def f(x):\n    return x\n</SELECTION>" in user.content
    assert builder.task_type(req) == "refinement"


def test_task_type_comes_from_the_template(ws: Path, home: Path) -> None:
    builder = PromptBuilder(Config(), workspace_root=ws)
    assert builder.task_type(request(ws)) == "code_generation"
    assert builder.task_type(request(ws, template="unit-tests")) == "tests"
    assert builder.task_type(request(ws, template="circuit-breaker")) == "code_generation"
    assert builder.task_type(request(ws, template="no-such")) == "code_generation"


def test_selection_template_needs_a_selection(ws: Path, home: Path) -> None:
    builder = PromptBuilder(Config(), workspace_root=ws)
    with pytest.raises(PromptError, match="'add-docstrings-type-hints' rewrites a selection"):
        builder.build(request(ws, template="add-docstrings-type-hints"), None)


def test_unknown_template_error(ws: Path, home: Path) -> None:
    builder = PromptBuilder(Config(), workspace_root=ws)
    with pytest.raises(PromptError, match=r"unknown template 'nope' \(see tta.listPrompts\)"):
        builder.build(request(ws, template="nope"), None)


def test_override_precedence_workspace_then_paths_then_user_then_builtin(
    ws: Path, home: Path, tmp_path: Path
) -> None:
    config = Config(prompts=PromptsConfig(paths=["team-prompts"]))
    builder = PromptBuilder(config, workspace_root=ws)
    team = ws / "team-prompts"
    local = ws / ".tta-codegen" / "prompts"

    def rendered() -> str:
        return builder.build(request(ws, template="circuit-breaker", variables={"who": "p"}), None)[
            1
        ].content

    def origin() -> str:
        library = builder.library()
        return library.get("circuit-breaker").origin

    builtin = builder.build(request(ws, template="circuit-breaker", variables={"name": "p"}), None)[
        1
    ].content
    assert "Write an async circuit breaker" in builtin
    write(home / "circuit-breaker.j2", template(body="USER {{ who }}"))
    assert "USER p" in rendered() and origin() == "user"
    write(team / "agents" / "circuit-breaker.j2", template(body="TEAM {{ who }}"))
    assert "TEAM p" in rendered() and origin() == "config"
    write(local / "circuit-breaker.j2", template(body="WORKSPACE {{ who }}"))
    assert "WORKSPACE p" in rendered() and origin() == "workspace"
    assert len(builder.library().get("circuit-breaker").shadows) == 3
    # New ids from every folder are listed side by side.
    write(home / "mine.j2", template())
    write(local / "ours.j2", template())
    ids = {t.id for t in builder.library().templates()}
    assert {"mine", "ours", "circuit-breaker", "refine"} <= ids


def test_missing_configured_folder_is_reported(ws: Path, home: Path) -> None:
    builder = PromptBuilder(Config(prompts=PromptsConfig(paths=["nowhere"])), workspace_root=ws)
    problems = builder.library().problems
    assert [(p.file, p.reason) for p in problems] == [
        (str(ws / "nowhere"), "prompt folder does not exist")
    ]
    assert builder.library().find("refine") is not None


def test_workspace_shared_block_override_applies_to_every_template(ws: Path, home: Path) -> None:
    write(ws / ".tta-codegen" / "prompts" / "_base" / "requirements.j2", "Team rule: use attrs.\n")
    builder = PromptBuilder(Config(), workspace_root=ws)
    _, user = builder.build(request(ws, template="redis-pool-manager"), None)
    assert "Team rule: use attrs." in user.content
    assert "mypy --strict" not in user.content


def test_without_a_known_workspace_the_document_finds_it(ws: Path, home: Path) -> None:
    write(ws / ".tta-codegen" / "prompts" / "ours.j2", template(body="OURS {{ who }}"))
    builder = PromptBuilder(Config())  # as the engine builds it: no workspace given
    req = request(ws, template="ours", variables={"who": "x"})
    assert "OURS x" in builder.build(req, None)[1].content
    elsewhere = request(ws.parent, template="ours", variables={"who": "x"})
    with pytest.raises(PromptError, match="unknown template 'ours'"):
        builder.build(elsewhere, None)
