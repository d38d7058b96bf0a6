"""The index against real files and a real SQLite database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tta_codegen.context.index import IndexSettings, WorkspaceIndex
from tta_codegen.context.store import IndexStore, index_path_for
from tta_codegen.context.tokens import query_terms

PLANTED = "sk-proj-PLANTEDabcdefghijklmnopqrstu0123"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def open_index(root: Path, cache: Path, **kw: object) -> WorkspaceIndex:
    settings = IndexSettings(workers=0, **kw)  # type: ignore[arg-type]
    return WorkspaceIndex([root], IndexStore(index_path_for([root], cache)), settings)


WORKSPACE = {
    "app/config.py": (
        "def parseConfigFile(path):\n"
        '    """Read the TOML configuration file and return a dict."""\n'
        "    return {}\n\n\n"
        "def render_template(name):\n"
        '    """Render an HTML template by name."""\n'
        "    return name\n"
    ),
    "app/net.py": (
        "def retry_with_backoff(fn, attempts=3):\n"
        '    """Call fn again after a failure, waiting exponentially longer."""\n'
        "    return fn()\n"
    ),
    "app/client.py": "from app import net\n\n\ndef get(url):\n    return net.retry_with_backoff(url)\n",
    "docs/guide.md": "# Guide\n\nHow to configure the application with a config file.\n",
}


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write(root, WORKSPACE)
    return root


def names(index: WorkspaceIndex, query: str, n: int = 3) -> list[str]:
    return [h.name for h in index.search(query_terms(query), n)]


def test_bm25_ranks_the_right_function_with_identifier_splitting(ws: Path, tmp_path: Path) -> None:
    index = open_index(ws, tmp_path / "cache")
    result = index.scan()
    assert result.parsed == 4 and index.ready
    assert names(index, "parse the config file")[0] == "parseConfigFile"
    assert names(index, "exponential backoff retries")[0] == "retry_with_backoff"
    assert names(index, "html templates")[0] == "render_template"  # stemming: templates
    assert index.search(query_terms("nothing matches zzqqxx"), 5) == []


def test_imports_resolve_to_workspace_files(ws: Path, tmp_path: Path) -> None:
    index = open_index(ws, tmp_path / "cache")
    index.scan()
    assert index.resolve_imports(str(ws / "app" / "client.py")) == [str(ws / "app" / "net.py")]


def test_restart_reindexes_only_what_changed(ws: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = open_index(ws, cache)
    assert first.scan().parsed == 4
    first.store.close()

    again = open_index(ws, cache)  # a restart: facts come back from SQLite
    assert len(again.files) == 4
    result = again.scan()
    assert (result.parsed, result.unchanged) == (0, 4)
    assert names(again, "parse config file")[0] == "parseConfigFile"
    again.store.close()

    net = ws / "app" / "net.py"
    net.write_text(net.read_text() + "\n\ndef circuit_breaker_state():\n    return 'open'\n")
    os.utime(ws / "docs" / "guide.md", (1, 1))  # new mtime, same content
    (ws / "app" / "config.py").unlink()
    third = open_index(ws, cache)
    result = third.scan()
    assert (result.parsed, result.touched, result.removed, result.unchanged) == (1, 1, 1, 1)
    assert names(third, "circuit breaker state")[0] == "circuit_breaker_state"
    assert names(third, "parse config file")[:1] != ["parseConfigFile"]


def test_incremental_update_of_a_buffer_and_of_a_saved_file(ws: Path, tmp_path: Path) -> None:
    index = open_index(ws, tmp_path / "cache")
    index.scan()
    net = ws / "app" / "net.py"
    assert index.update_text(net, "def open_socket_pool():\n    pass\n")
    assert names(index, "socket pool")[0] == "open_socket_pool"
    assert not index.update_text(net, "def open_socket_pool():\n    pass\n")  # same text
    # A save: the disk wins again.
    assert index.update_file(net)
    assert names(index, "exponential backoff")[0] == "retry_with_backoff"
    assert not index.update_text(ws / ".env", "SECRET=1")  # never indexed


def test_kept_term_counts_never_hide_a_term_an_edit_adds(ws: Path, tmp_path: Path) -> None:
    """The query planner keeps the document counts it looked up (store.DF_CACHE_MAX); a
    word no file held when a query asked for it must still be found once an edit adds it,
    and a bulk write forgets the counts."""
    index = open_index(ws, tmp_path / "cache")
    index.scan()
    assert names(index, "zeppelin hangar") == []  # looked up: no file holds either word
    net = ws / "app" / "net.py"
    assert index.update_text(net, "def moor_zeppelin_in_hangar():\n    pass\n")
    assert names(index, "zeppelin hangar")[0] == "moor_zeppelin_in_hangar"
    store = index.store
    assert "zeppelin" in store._df and "retry" not in store._df
    names(index, "retry backoff")
    assert "retri" in store._df or "retry" in store._df  # porter's stem, kept
    extra = {f"pkg/m{i}.py": f"def helper_{i}():\n    return {i}\n" for i in range(25)}
    write(ws, extra)
    index.scan()  # one write of 25 files: the kept counts are gone
    assert store._df == {}
    # The scan also put the disk's net.py back (a buffer's text is re-checked).
    assert names(index, "exponential backoff")[0] == "retry_with_backoff"
    assert sorted(names(index, "helper", 50)) == sorted(f"helper_{i}" for i in range(25))


def test_size_binary_and_ignored_files_are_skipped(ws: Path, tmp_path: Path) -> None:
    write(ws, {"big.py": "x = 1\n" * 5_000, "vendor/lib.py": "def vendored_helper():\n pass\n"})
    (ws / "blob.dat").write_bytes(b"\x00\x01binary")
    index = open_index(ws, tmp_path / "cache", max_file_bytes=10_000, ignore=("vendor/",))
    index.scan()
    rels = {rec.rel for rec in index.files.values()}
    assert "big.py" not in rels and "blob.dat" not in rels and "vendor/lib.py" not in rels
    assert "app/net.py" in rels


def test_secret_files_are_never_opened(ws: Path, tmp_path: Path) -> None:
    # A FIFO blocks whoever opens it for reading: if the indexer touched .env, the scan
    # would hang here instead of finishing.
    os.mkfifo(ws / ".env")
    os.mkfifo(ws / "server.pem")
    index = open_index(ws, tmp_path / "cache")
    result = index.scan()
    assert result.files == 4


def test_planted_secret_never_reaches_the_database(ws: Path, tmp_path: Path) -> None:
    write(ws, {"app/settings.py": f'OPENAI_KEY = "{PLANTED}"\n'})
    cache = tmp_path / "cache"
    index = open_index(ws, cache)
    index.scan()
    index.store.close()
    stored = b"".join(p.read_bytes() for p in cache.iterdir() if p.is_file())
    assert b"PLANTEDabcdefghij" not in stored
    assert b"REDACTED api-key" in stored


def test_parallel_and_serial_parsing_agree(tmp_path: Path) -> None:
    root = tmp_path / "many"
    write(root, {f"pkg/m{i}.py": f"def handler_{i}(x):\n    return x + {i}\n" for i in range(80)})
    serial = open_index(root, tmp_path / "c1")
    serial.scan()
    pooled = WorkspaceIndex(
        [root], IndexStore(tmp_path / "c2" / "i.sqlite3"), IndexSettings(workers=2)
    )
    assert pooled.scan().parsed == 80
    assert serial.store.stats() == pooled.store.stats()
    assert names(pooled, "handler_42")[0] == "handler_42"
