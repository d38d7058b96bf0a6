"""The library's rules: variables, errors, broken templates, reloading and the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tta_codegen.prompts.library import PromptLibrary
from tta_codegen.prompts.loader import PromptError, builtin_prompts_dir
from tta_codegen.prompts.roots import PromptRoot

from .conftest import builtins, template, write


def test_missing_required_variable_names_it_and_the_template(library: PromptLibrary) -> None:
    with pytest.raises(PromptError) as err:
        library.render_template("circuit-breaker", {}, builtins())
    message = str(err.value)
    assert "'circuit-breaker'" in message and "'name'" in message
    assert "what the breaker protects" in message
    with pytest.raises(PromptError, match="'name'"):
        library.render_template("circuit-breaker", {"name": "  "}, builtins())


def test_unknown_template_and_unknown_variable(library: PromptLibrary) -> None:
    with pytest.raises(PromptError, match=r"unknown template 'nope' \(see tta.listPrompts\)"):
        library.render_template("nope", {}, builtins())
    with pytest.raises(PromptError, match=r"has no variable 'nmae' \(its variables: name,"):
        library.render_template("circuit-breaker", {"nmae": "x"}, builtins())
    with pytest.raises(PromptError, match="'language' is filled from the request"):
        library.render_template("circuit-breaker", {"name": "x", "language": "go"}, builtins())


def test_values_typed_as_text_take_the_default_type(library: PromptLibrary) -> None:
    text = library.render_template(
        "circuit-breaker", {"name": "pay", "failure_threshold": "7"}, builtins()
    )
    assert "failure_threshold=7," in text
    with pytest.raises(PromptError, match="'failure_threshold' must be a int, got 'many'"):
        library.render_template(
            "circuit-breaker", {"name": "pay", "failure_threshold": "many"}, builtins()
        )


def test_strict_undefined_in_a_shared_block_names_variable_and_template(
    library: PromptLibrary, user_root: Path
) -> None:
    # A shared block may use anything, so only rendering can catch this one.
    write(user_root / "_base" / "requirements.j2", "Requirements: {{ team_style }}\n")
    with pytest.raises(PromptError) as err:
        library.render_template("circuit-breaker", {"name": "pay"}, builtins())
    assert "'circuit-breaker'" in str(err.value) and "'team_style' is undefined" in str(err.value)


def test_user_template_added_and_shadowing_a_builtin(
    library: PromptLibrary, user_root: Path
) -> None:
    write(user_root / "team" / "greeting.j2", template())
    write(
        user_root / "circuit-breaker.j2", template("Team breaker", "Use our breaker for {{ who }}.")
    )
    greeting = library.get("greeting")
    assert greeting.meta.category == "team" and greeting.origin == "user"
    shadow = library.get("circuit-breaker")
    assert shadow.origin == "user" and shadow.meta.title == "Team breaker"
    assert shadow.shadows and shadow.shadows[0].endswith("agents/circuit-breaker.j2")
    assert shadow.meta.category == "custom"  # a file at the top of the folder
    text = library.render_template("circuit-breaker", {"who": "payments"}, builtins())
    assert "Use our breaker for payments." in text
    assert sum(1 for t in library.templates() if t.id == "circuit-breaker") == 1


BROKEN = {
    "bad-toml.j2": ('{#---\ntitle = "x"\ndescription = y\n---#}\nhi\n', 3),
    "unterminated.j2": ('{#---\ntitle = "x"\ndescription = "y"\nvariables = [\n---#}\nhi\n', 4),
    "no-header.j2": ("Just text {{ language }}\n", 1),
    "bad-key.j2": ('{#---\ntitle = "x"\ndescription = "y"\ncolour = "red"\n---#}\nhi\n', 4),
    "bad-var.j2": (
        '{#---\ntitle = "x"\ndescription = "y"\n\n[variables.n]\nrequired = true\n'
        "default = 3\n---#}\n{{ n }}\n",
        5,
    ),
    "bad-syntax.j2": ('{#---\ntitle = "x"\ndescription = "y"\n---#}\nline\n{% if %}\n', 6),
    "undeclared.j2": ('{#---\ntitle = "x"\ndescription = "y"\n---#}\n\nHello {{ whom }}\n', 6),
    "bad-include.j2": (
        '{#---\ntitle = "x"\ndescription = "y"\n---#}\n{% include \'_base/nope.j2\' %}\n',
        5,
    ),
}


def test_broken_templates_are_reported_with_file_and_line_and_skipped(
    library: PromptLibrary, user_root: Path
) -> None:
    for name, (source, _) in BROKEN.items():
        write(user_root / "broken" / name, source)
    write(user_root / "team" / "greeting.j2", template())
    # A broken override falls back to the built-in it meant to replace.
    write(user_root / "refine.j2", "{#---\ntitle = 3\n---#}\n")
    problems = {Path(p.file).name: p for p in library.problems}
    assert set(problems) == {*BROKEN, "refine.j2"}
    for name, (_, line) in BROKEN.items():
        assert problems[name].line == line, (name, problems[name])
        assert problems[name].file == str(user_root / "broken" / name)
    assert "not valid TOML" in problems["bad-toml.j2"].reason
    assert "no metadata header" in problems["no-header.j2"].reason
    assert "colour: unknown key" in problems["bad-key.j2"].reason
    assert "required variable cannot have a default" in problems["bad-var.j2"].reason
    assert "syntax error" in problems["bad-syntax.j2"].reason
    assert "undeclared variable 'whom'" in problems["undeclared.j2"].reason
    assert "'_base/nope.j2' not found" in problems["bad-include.j2"].reason
    # The rest keep working.
    assert "Say hello to world." in library.render_template(
        "greeting", {"who": "world"}, builtins()
    )
    assert library.get("refine").origin == "builtin"
    assert len(library.templates()) == 26  # 25 built-in + greeting
    with pytest.raises(PromptError, match=r"template 'bad-syntax' is broken: .*bad-syntax\.j2:6:"):
        library.get("bad-syntax")


def test_duplicate_ids_in_one_folder_keep_the_first(
    library: PromptLibrary, user_root: Path
) -> None:
    write(user_root / "a" / "greeting.j2", template("First"))
    write(user_root / "b" / "greeting.j2", template("Second"))
    assert library.get("greeting").meta.title == "First"
    (problem,) = library.problems
    assert problem.file.endswith("b/greeting.j2") and "duplicate id 'greeting'" in problem.reason


def test_changes_are_picked_up_on_next_use(library: PromptLibrary, user_root: Path) -> None:
    library.refresh()
    loads = library.loads
    library.refresh()
    assert library.loads == loads  # nothing changed: nothing reread
    path = write(user_root / "greeting.j2", template())
    library.refresh()
    assert library.get("greeting").meta.title == "Greeting"
    write(path, template("Greeting v2", "Wave at {{ who }}."))
    # Same size and mtime granularity must not hide the edit: bump mtime explicitly.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    library.refresh()
    assert library.get("greeting").meta.title == "Greeting v2"
    assert "Wave at you." in library.render_template("greeting", {"who": "you"}, builtins())
    path.unlink()
    library.refresh()
    assert library.find("greeting") is None
    # max_age throttles the scan.
    write(path, template())
    library.refresh(max_age=3600)
    assert library.find("greeting") is None
    library.refresh()
    assert library.find("greeting") is not None


def test_nested_edits_count_and_dot_folders_do_not(library: PromptLibrary, user_root: Path) -> None:
    """The scan before every render walks subfolders (an edit there counts) and skips
    dot-folders (an editor's or VCS's copies are no templates)."""
    path = write(user_root / "team" / "py" / "greeting.j2", template())
    write(user_root / ".backup" / "other.j2", template("Other"))
    library.refresh()
    assert library.get("greeting").meta.title == "Greeting"
    assert library.find("other") is None
    write(path, template("Greeting v2"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    library.refresh()
    assert library.get("greeting").meta.title == "Greeting v2"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% set x = [] %}{{ x.append(1) }}",
    ],
)
def test_sandbox_refuses_python_internals(
    library: PromptLibrary, user_root: Path, body: str
) -> None:
    write(user_root / "evil.j2", template(body=body, variables=" "))
    with pytest.raises(PromptError, match="unsafe"):
        library.render_template("evil", {}, builtins())


@pytest.mark.parametrize(
    "include",
    ["../../../../../../etc/hostname", "/etc/hostname", "../secret.txt"],
)
def test_templates_cannot_read_files_outside_the_prompt_folders(
    library: PromptLibrary, user_root: Path, include: str
) -> None:
    write(user_root.parent / "secret.txt", "TOP-SECRET")
    write(user_root / "reader.j2", template(body=f"{{% include {include!r} %}}", variables=" "))
    with pytest.raises(PromptError):
        library.render_template("reader", {}, builtins())
    problems = [p for p in library.problems if p.file.endswith("reader.j2")]
    assert problems and "not found" in problems[0].reason


def test_libraries_share_parsed_templates_until_a_file_changes(tmp_path: Path) -> None:
    """Each workspace has its own library; a template file settled on disk is parsed once for
    all of them (the warm process parses the built-ins once for every fork), keyed on its
    size and mtime, so any edit is read again and checked in each library's own folders."""
    shared = tmp_path / "shared"
    path = write(shared / "greeting.j2", template("Shared"))
    settled = path.stat().st_mtime_ns - 10_000_000_000  # 10 s ago: no longer racy
    os.utime(path, ns=(settled, settled))

    def library_in(ws: Path) -> PromptLibrary:
        roots = [
            PromptRoot(ws / ".tta-codegen" / "prompts", "workspace"),
            PromptRoot(shared, "user"),
        ]
        return PromptLibrary([*roots, PromptRoot(builtin_prompts_dir(), "builtin", True)])

    assert library_in(tmp_path / "a").get("greeting").meta.title == "Shared"
    # Same size, same mtime: the parse is reused, even though the text changed underneath.
    path.write_text(template("Sharex"), encoding="utf-8")
    os.utime(path, ns=(settled, settled))
    assert library_in(tmp_path / "b").get("greeting").meta.title == "Shared"
    # Any change of mtime (an editor's save) is read again.
    os.utime(path, ns=(settled + 1, settled + 1))
    assert library_in(tmp_path / "c").get("greeting").meta.title == "Sharex"
    # A broken edit is a problem at once, and fixed again when fixed.
    path.write_text("{#---\ntitle = 3\n---#}\n", encoding="utf-8")
    os.utime(path, ns=(settled + 2, settled + 2))
    broken = library_in(tmp_path / "d")
    assert broken.find("greeting") is None and "greeting.j2" in broken.problems[0].file
    path.write_text(template("Fixed"), encoding="utf-8")
    os.utime(path, ns=(settled + 3, settled + 3))
    assert library_in(tmp_path / "e").get("greeting").meta.title == "Fixed"
    # The checks that depend on the other folders still run per library: a workspace whose
    # shared block lacks what the template extends reports it, from the same parse.
    ws = tmp_path / "f"
    write(ws / ".tta-codegen" / "prompts" / "_base" / "task.j2", "{% block task %}{% endblock %")
    shadowed = library_in(ws)
    assert shadowed.find("greeting") is None
    assert any("syntax error" in p.reason for p in shadowed.problems)
