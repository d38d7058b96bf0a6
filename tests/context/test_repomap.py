from pathlib import Path

from tta_codegen.context.index import IndexSettings, WorkspaceIndex
from tta_codegen.context.repomap import (
    ReferenceGraph,
    personalized_pagerank,
    rank_files,
    render_map,
)
from tta_codegen.context.store import IndexStore


def test_pagerank_flows_along_edges_from_the_seed() -> None:
    graph = {"a": [("b", 1.0)], "b": [("c", 1.0)], "c": [], "z": [("a", 1.0)]}
    rank = personalized_pagerank({"a": 1.0}, lambda n: graph[n])
    assert rank["a"] > 0 and rank["b"] > 0 and rank["c"] > 0
    assert "z" not in rank  # nothing flows backwards
    assert abs(sum(rank.values()) - 1.0) < 0.01


def make(tmp_path: Path) -> WorkspaceIndex:
    root = tmp_path / "ws"
    files = {
        "app/main.py": "from app import db\n\n\ndef main():\n    return load_settings_file()\n",
        "app/db.py": "def connect_database(url):\n    pass\n\n\ndef close_database(c):\n    pass\n",
        "app/settings.py": "def load_settings_file():\n    pass\n",
        "app/unrelated.py": "def paint_picture():\n    pass\n",
    }
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    index = WorkspaceIndex([root], IndexStore(tmp_path / "i.sqlite3"), IndexSettings(workers=0))
    index.scan()
    return index


def test_imported_and_referenced_files_rank_above_unrelated_ones(tmp_path: Path) -> None:
    index = make(tmp_path)
    main = str(tmp_path / "ws" / "app" / "main.py")
    ranked = [index.rel(p) for p, _ in rank_files(ReferenceGraph(index), {main: 1.0})]
    others = [r for r in ranked if r != "app/main.py"]
    assert set(others[:2]) == {"app/db.py", "app/settings.py"}
    assert "app/unrelated.py" not in ranked


def test_map_lists_signatures_within_its_size(tmp_path: Path) -> None:
    index = make(tmp_path)
    main = str(tmp_path / "ws" / "app" / "main.py")
    ranked = rank_files(ReferenceGraph(index), {main: 1.0})
    text, shown = render_map(index, ranked, 10_000, exclude={main})
    assert "app/main.py" not in shown
    assert "app/db.py:\n  1: def connect_database(url)\n  5: def close_database(c)" in text
    small, shown_small = render_map(index, ranked, 40, exclude={main})
    assert len(small) <= 40 and len(shown_small) <= 1
