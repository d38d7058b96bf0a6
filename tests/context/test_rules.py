"""Rule files as a request reads them when their places are reused for a while
(``context/rules.py``): created, edited or deleted files count on the next read; a
re-pointed symlink counts when the editor reports it (or when the window is over)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tta_codegen.context import rules
from tta_codegen.context.rules import RulesReader


@pytest.fixture(autouse=True)
def _long_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # Longer than any test: only what the test does ends the window.
    monkeypatch.setattr(rules, "RESOLVE_S", 3600.0)


def texts(reader: RulesReader, root: Path, configured: list[str] | None = None) -> dict[str, str]:
    return {r.source: r.text for r in reader.read([root], configured or [])}


def bump(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_created_edited_and_deleted_rule_files_count_on_the_next_read(tmp_path: Path) -> None:
    reader = RulesReader()
    assert texts(reader, tmp_path) == {}
    (tmp_path / "AGENTS.md").write_text("Use tabs.\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "style.md").write_text("Short names.\n")
    assert texts(reader, tmp_path, ["docs/style.md"]) == {
        "AGENTS.md": "Use tabs.",
        "docs/style.md": "Short names.",
    }
    (tmp_path / "AGENTS.md").write_text("Use spaces.\n")
    bump(tmp_path / "AGENTS.md")
    (tmp_path / "docs" / "style.md").unlink()
    assert texts(reader, tmp_path, ["docs/style.md"]) == {"AGENTS.md": "Use spaces."}


def _repointed_link(tmp_path: Path, name: str) -> tuple[RulesReader, Path]:
    """A rules file that is a link to rules/a.md, read once, then pointed at rules/b.md."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.md").write_text("Rule A.\n")
    (tmp_path / "rules" / "b.md").write_text("Rule B.\n")
    link = tmp_path / name
    link.symlink_to(tmp_path / "rules" / "a.md")
    reader = RulesReader()
    assert texts(reader, tmp_path) == {"rules/a.md": "Rule A."}
    link.unlink()
    link.symlink_to(tmp_path / "rules" / "b.md")
    return reader, link


def test_a_repointed_symlink_counts_once_reported(tmp_path: Path) -> None:
    reader, link = _repointed_link(tmp_path, "CLAUDE.md")
    assert texts(reader, tmp_path) == {"rules/a.md": "Rule A."}  # the place is reused
    reader.files_changed([str(tmp_path / "src" / "app.py")])  # unrelated: still reused
    assert texts(reader, tmp_path) == {"rules/a.md": "Rule A."}
    reader.files_changed([str(link)])  # the editor reported the link changed
    assert texts(reader, tmp_path) == {"rules/b.md": "Rule B."}


def test_the_places_are_worked_out_again_after_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, _ = _repointed_link(tmp_path, "AGENTS.md")
    monkeypatch.setattr(rules, "RESOLVE_S", 0.0)
    assert texts(reader, tmp_path) == {"rules/b.md": "Rule B."}


def test_outside_and_secret_files_stay_skipped(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "outside.md").write_text("Not ours.\n")
    (ws / ".env").write_text("KEY=1\n")
    reader = RulesReader()
    for _ in range(2):  # worked out, then reused
        assert texts(reader, ws, ["../outside.md", ".env"]) == {}
