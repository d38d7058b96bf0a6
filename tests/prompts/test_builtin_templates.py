"""Every shipped template loads, validates and renders into a useful prompt."""

from __future__ import annotations

import pytest

from tta_codegen.prompts.library import PromptLibrary, PromptTemplate
from tta_codegen.prompts.loader import builtin_prompts_dir
from tta_codegen.prompts.roots import PromptRoot

from .conftest import builtins

LIBRARY = PromptLibrary([PromptRoot(builtin_prompts_dir(), "builtin", True)])
TEMPLATES = LIBRARY.templates()


def test_builtin_library_is_complete_and_clean() -> None:
    assert LIBRARY.problems == []
    assert len(TEMPLATES) >= 20
    by_category: dict[str, list[str]] = {}
    for t in TEMPLATES:
        by_category.setdefault(t.meta.category, []).append(t.id)
    assert {c: len(ids) >= 5 for c, ids in by_category.items()} == {
        "agents": True,
        "data": True,
        "api": True,
        "testing": True,
        "edit": True,
    }
    for expected in (
        "circuit-breaker",
        "retry-backoff",
        "redis-pool-manager",
        "fastapi-endpoint",
        "property-tests",
        "refine",
        "fix-diagnostic",
    ):
        assert LIBRARY.find(expected) is not None, expected
    # Each file's id is its name, so overriding by file name works as documented.
    assert all(t.path.stem == t.id and t.path.parent.name == t.meta.category for t in TEMPLATES)


def test_editing_templates_apply_to_a_selection_and_the_rest_do_not() -> None:
    edit = {t.id for t in TEMPLATES if t.meta.applies_to == "selection"}
    assert edit == {t.id for t in TEMPLATES if t.meta.category == "edit"}
    assert {t.meta.task_type for t in TEMPLATES if t.meta.category == "edit"} == {"refinement"}
    assert {t.meta.task_type for t in TEMPLATES if t.meta.category == "testing"} == {"tests"}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_renders_with_declared_samples(template: PromptTemplate) -> None:
    samples = {n: s.sample() for n, s in template.meta.variables.items() if s.required}
    extra = {}
    if template.meta.applies_to == "selection":
        instruction = template.meta.action_instruction
        extra = {
            "selection": "def f(x):\n    return x\n",
            "instruction": instruction,
            "description": instruction,
        }
    text = LIBRARY.render_template(
        template.id, samples, builtins(context="PROJECT-CONTEXT-MARKER", **extra)
    )
    # The project context from the context stage reaches the prompt, with the ask to follow it.
    assert "PROJECT-CONTEXT-MARKER" in text
    assert "pattern" in text.lower() and "project" in text.lower()
    for value in samples.values():
        assert str(value) in text
    # Declared defaults are used when nothing is passed.
    for name, spec in template.meta.variables.items():
        if not spec.required and spec.default not in ("", None):
            assert str(spec.default) in text, (template.id, name)
    assert "{{" not in text and "{%" not in text
    if template.meta.applies_to == "selection":
        assert "<SELECTION>def f(x):" in text
    else:
        assert "<CURSOR>" in text


def test_listing_has_the_contract_shape() -> None:
    entry = LIBRARY.get("circuit-breaker").listing()
    assert {"id", "title", "category", "description", "variables"} <= set(entry)
    assert entry["id"] == "circuit-breaker" and entry["category"] == "agents"
    by_name = {v["name"]: v for v in entry["variables"]}
    assert by_name["name"]["required"] is True and "default" not in by_name["name"]
    assert by_name["failure_threshold"] == {
        "name": "failure_threshold",
        "required": False,
        "default": 5,
        "description": "consecutive failures that open the circuit",
    }
