"""What a request sees of templates edited on disk when the library trusts a check of its
folders for a while (``refresh(trust_folders_s=...)``, what the prompt builder does).

The rule (prompts/library.py): added, removed or renamed templates count on the next
request; a body edited in place counts on the next request; a header edited in place
counts when the window is over or at once when the editor reports the change.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.prompts.conftest import builtins, template, write
from tta_codegen.prompts.library import PromptLibrary, files_changed, library_for
from tta_codegen.prompts.loader import builtin_prompts_dir
from tta_codegen.prompts.roots import PromptRoot

WINDOW = 3600.0  # longer than any test: only what the test does ends it


@pytest.fixture
def library(user_root: Path) -> PromptLibrary:
    """The shared library of these folders (the one :func:`files_changed` reaches)."""
    return library_for(
        [PromptRoot(user_root, "user"), PromptRoot(builtin_prompts_dir(), "builtin", True)]
    )


def settle(folder: Path) -> None:
    """Date the folder (and its subfolders) back, as if nothing changed there lately:
    a folder changed within the scan's clock tick is not trusted (and rescanned)."""
    old = time.time_ns() - 60 * 1_000_000_000
    for dirpath, _dirs, _files in os.walk(folder):
        os.utime(dirpath, ns=(old, old))


def bump(path: Path) -> None:
    """An in-place edit whose mtime surely differs (mtime granularity)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_a_new_template_counts_on_the_next_request(library: PromptLibrary, user_root: Path) -> None:
    write(user_root / "team" / "greeting.j2", template())
    settle(user_root)
    library.refresh(trust_folders_s=WINDOW)
    loads = library.loads
    library.refresh(trust_folders_s=WINDOW)
    assert library.loads == loads  # nothing changed: the folders' stats were enough
    write(user_root / "team" / "farewell.j2", template("Farewell"))
    library.refresh(trust_folders_s=WINDOW)
    assert library.get("farewell").meta.title == "Farewell"
    (user_root / "team" / "farewell.j2").rename(user_root / "team" / "goodbye.j2")
    library.refresh(trust_folders_s=WINDOW)
    assert library.find("farewell") is None and library.find("goodbye") is not None
    (user_root / "team" / "goodbye.j2").unlink()
    library.refresh(trust_folders_s=WINDOW)
    assert library.find("goodbye") is None


def test_a_new_folder_of_templates_counts_on_the_next_request(
    library: PromptLibrary, user_root: Path
) -> None:
    settle(user_root)
    library.refresh(trust_folders_s=WINDOW)
    write(user_root / "team" / "greeting.j2", template())
    library.refresh(trust_folders_s=WINDOW)
    assert library.find("greeting") is not None


def test_a_body_edited_in_place_renders_at_once(library: PromptLibrary, user_root: Path) -> None:
    path = write(user_root / "greeting.j2", template())
    settle(user_root)
    library.refresh(trust_folders_s=WINDOW)
    assert "Say hello to you." in library.render_template("greeting", {"who": "you"}, builtins())
    write(path, template(body="Wave at {{ who }}."))
    bump(path)
    library.refresh(trust_folders_s=WINDOW)
    assert "Wave at you." in library.render_template("greeting", {"who": "you"}, builtins())


def test_a_header_edited_in_place_counts_when_reported_or_after_the_window(
    library: PromptLibrary, user_root: Path
) -> None:
    path = write(user_root / "greeting.j2", template())
    settle(user_root)
    library.refresh(trust_folders_s=WINDOW)
    write(path, template("Greeting v2"))
    bump(path)
    library.refresh(trust_folders_s=WINDOW)
    assert library.get("greeting").meta.title == "Greeting"  # within the window, unreported
    files_changed([str(path)])  # the editor saved it (didSave / didChangeWatchedFiles)
    library.refresh(trust_folders_s=WINDOW)
    assert library.get("greeting").meta.title == "Greeting v2"
    write(path, template("Greeting v3"))
    bump(path)
    library.refresh(trust_folders_s=0.0)  # the window is over: a full scan
    assert library.get("greeting").meta.title == "Greeting v3"


def test_a_folder_changed_around_the_scan_is_not_trusted(
    library: PromptLibrary, user_root: Path
) -> None:
    """A change in the same clock tick as the scan would leave the folder's mtime as the
    scan saw it: a folder that recent is scanned in full again."""
    path = write(user_root / "greeting.j2", template())
    os.utime(user_root)  # changed just now
    library.refresh(trust_folders_s=WINDOW)
    write(path, template("Greeting v2"))
    bump(path)
    library.refresh(trust_folders_s=WINDOW)
    assert library.get("greeting").meta.title == "Greeting v2"


def test_reported_changes_elsewhere_keep_the_window(
    library: PromptLibrary, user_root: Path, tmp_path: Path
) -> None:
    root = user_root
    write(root / "greeting.j2", template())
    settle(root)
    library.refresh(trust_folders_s=WINDOW)
    loads = library.loads
    files_changed([str(tmp_path / "src" / "app.py"), str(tmp_path / "notes.md")])
    write(root / "greeting.j2", template("Greeting v2"))
    bump(root / "greeting.j2")
    library.refresh(trust_folders_s=WINDOW)
    assert library.loads == loads and library.get("greeting").meta.title == "Greeting"
    files_changed([str(root)])  # the folder itself (deleted, renamed) concerns it
    library.refresh(trust_folders_s=WINDOW)
    assert library.get("greeting").meta.title == "Greeting v2"
