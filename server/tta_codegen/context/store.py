"""The index on disk: SQLite with an FTS5 table for BM25 over chunk terms.

One database file per workspace under ``$XDG_CACHE_HOME/tta-codegen/`` (named by a hash
of the workspace roots), so a restart finds every file's mtime, size and content hash
and reindexes only what changed. FTS5 (with the porter stemmer over our identifier
tokens) does the BM25 ranking in C, which keeps retrieval fast and the server's memory
small: only file facts live in Python, chunk text stays on disk until it is chosen.

Writes and reads use two connections (WAL mode), each behind its own lock, so a query
never waits for a batch of inserts. Every method blocks: call them from a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tta_codegen.context.chunker import FileRecord

SCHEMA_VERSION = "4"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    path TEXT PRIMARY KEY, rel TEXT NOT NULL, mtime REAL NOT NULL, size INTEGER NOT NULL,
    digest TEXT NOT NULL, language TEXT NOT NULL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, start INTEGER NOT NULL,
    end_line INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks(path);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    terms, tokenize = 'porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""
# A query reads the posting list of each of its terms; a docstring-long query over common
# words would read most of the index. Terms are taken rarest first until about this many
# postings, which keeps the best matches (rare terms carry the score) and bounds latency.
# On the stdlib (68,679 chunks, 200 self-queries): 6,000 gave recall@5 0.965 at 6.4 ms a
# query, 4,000 0.96 at 4.6 ms, 2,000 0.92 at 2.6 ms (2026-12-03).
POSTINGS_BUDGET = 4000
MIN_TERMS = 2
DF_CACHE_MAX = 50_000  # stems whose document frequency IndexStore keeps (~5 MB)
DF_STALE_FILES = 20  # files changed in one write after which the kept frequencies go


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tta-codegen"


def index_path_for(roots: Sequence[Path], cache_dir: Path | None = None) -> Path:
    """The database file of a workspace: one per set of roots."""
    key = "\n".join(sorted(str(r.resolve()) for r in roots))
    name = Path(sorted(roots)[0]).name if roots else "workspace"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40]
    return (cache_dir or default_cache_dir()) / f"index-{safe}-{digest}.sqlite3"


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    path: str
    start: int
    end: int
    kind: str
    name: str
    text: str
    score: float  # BM25, higher is better


def _connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


class IndexStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wlock = threading.Lock()
        self._last_id: int | None = None
        self._rlock = threading.Lock()
        # Document frequencies by stem, as :meth:`plan_query` last read them. The vocabulary
        # counts them by walking each term's posting list (~70 µs a stem here, the most
        # for the commonest), which was a fifth of a context gather. They only rank a
        # query's terms, so a count a few edits old ranks them as well: kept until the
        # table holds DF_CACHE_MAX stems. Absent stems are not kept (an edit may add them).
        self._df: dict[str, int] = {}
        self._w = _connect(path)
        try:
            self._init_schema()
        except sqlite3.DatabaseError:
            # A corrupt or foreign file: it is only a cache, start over.
            self._w.close()
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            self._w = _connect(path)
            self._init_schema()
        self._r = _connect(path)
        # FTS5 stems query words with its own tokenizer; to look up document frequencies in
        # the vocabulary we need those stems, so a scratch table tokenizes the query the
        # same way.
        self._stemmer = sqlite3.connect(":memory:", check_same_thread=False)
        self._stemmer.executescript(
            "CREATE VIRTUAL TABLE q USING fts5(x, tokenize = 'porter unicode61');"
            "CREATE VIRTUAL TABLE qv USING fts5vocab(q, 'instance');"
        )

    def _init_schema(self) -> None:
        w = self._w
        w.executescript(_SCHEMA)
        row = w.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            w.executescript(
                "DROP TABLE IF EXISTS chunks_vocab; DROP TABLE IF EXISTS chunks_fts;"
                "DROP TABLE IF EXISTS chunks;"
                "DROP TABLE IF EXISTS files; DROP TABLE IF EXISTS meta;"
            )
            w.executescript(_SCHEMA)
            w.execute("INSERT OR REPLACE INTO meta VALUES('schema', ?)", (SCHEMA_VERSION,))

    def close(self) -> None:
        with self._wlock, self._rlock:
            self._w.close()
            self._r.close()
            self._stemmer.close()

    def load_files(self) -> list[FileRecord]:
        """Every indexed file's facts (no chunks), to seed the in-memory index."""
        with self._rlock:
            rows = self._r.execute(
                "SELECT path, rel, mtime, size, digest, language, info FROM files"
            ).fetchall()
        out = []
        for path, rel, mtime, size, digest, language, info in rows:
            data = json.loads(info)
            out.append(
                FileRecord(
                    path=path,
                    rel=rel,
                    mtime=mtime,
                    size=size,
                    digest=digest,
                    language=language,
                    imports=data.get("imports", []),
                    defines=data.get("defines", []),
                    refs=data.get("refs", []),
                    outline=[(int(a), str(b)) for a, b in data.get("outline", [])],
                )
            )
        return out

    def put(self, records: Iterable[FileRecord]) -> int:
        """Replace the chunks and facts of each file, in one transaction."""
        n = 0
        with self._wlock:
            w = self._w
            w.execute("BEGIN")
            try:
                for rec in records:
                    self._delete(rec.path)
                    info = json.dumps(
                        {
                            "imports": rec.imports,
                            "defines": rec.defines,
                            "refs": rec.refs,
                            "outline": rec.outline,
                        },
                        separators=(",", ":"),
                    )
                    w.execute(
                        "INSERT INTO files VALUES(?,?,?,?,?,?,?)",
                        (rec.path, rec.rel, rec.mtime, rec.size, rec.digest, rec.language, info),
                    )
                    # Ids are assigned here so both tables take one executemany each.
                    first = self._next_id()
                    ids = range(first, first + len(rec.chunks))
                    w.executemany(
                        "INSERT INTO chunks(id,path,start,end_line,kind,name,text) "
                        "VALUES(?,?,?,?,?,?,?)",
                        [
                            (i, rec.path, c.start, c.end, c.kind, c.name, c.text)
                            for i, c in zip(ids, rec.chunks, strict=True)
                        ],
                    )
                    w.executemany(
                        "INSERT INTO chunks_fts(rowid, terms) VALUES(?,?)",
                        [(i, c.terms) for i, c in zip(ids, rec.chunks, strict=True)],
                    )
                    self._last_id = first + len(rec.chunks) - 1
                    n += 1
                w.execute("COMMIT")
            except BaseException:
                w.execute("ROLLBACK")
                self._last_id = None
                raise
        if n >= DF_STALE_FILES:
            self._forget_df()
        return n

    def _forget_df(self) -> None:
        """A bulk change (a scan's batch, a folder removed): the kept counts may be far off."""
        with self._rlock:
            self._df.clear()

    def _next_id(self) -> int:
        if self._last_id is None:
            row = self._w.execute("SELECT max(id) FROM chunks").fetchone()
            self._last_id = int(row[0] or 0)
        return self._last_id + 1

    def _delete(self, path: str) -> None:
        w = self._w
        ids = w.execute("SELECT id FROM chunks WHERE path=?", (path,)).fetchall()
        if ids:
            # One rowid at a time: FTS5 turns "rowid IN (subquery)" into a full scan.
            w.executemany("DELETE FROM chunks_fts WHERE rowid=?", ids)
            w.execute("DELETE FROM chunks WHERE path=?", (path,))
        w.execute("DELETE FROM files WHERE path=?", (path,))

    def remove(self, paths: Iterable[str]) -> None:
        n = 0
        with self._wlock:
            self._w.execute("BEGIN")
            try:
                for p in paths:
                    self._delete(p)
                    n += 1
                self._w.execute("COMMIT")
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
        if n >= DF_STALE_FILES:
            self._forget_df()

    def touch(self, path: str, mtime: float) -> None:
        """Same content, new mtime (a ``touch`` or a checkout that changed nothing)."""
        with self._wlock:
            self._w.execute("UPDATE files SET mtime=? WHERE path=?", (mtime, path))

    def _stems(self, terms: Sequence[str]) -> list[str]:
        s = self._stemmer
        s.execute("BEGIN")
        try:
            s.executemany("INSERT INTO q(rowid, x) VALUES(?, ?)", list(enumerate(terms, 1)))
            rows = s.execute("SELECT term, doc FROM qv").fetchall()
        finally:
            s.execute("ROLLBACK")
        by_doc: dict[int, str] = {}
        for term, doc in rows:
            by_doc.setdefault(doc, term)
        return list(dict.fromkeys(by_doc[i] for i in range(1, len(terms) + 1) if i in by_doc))

    def plan_query(self, terms: Sequence[str]) -> list[str]:
        """The stems to search for: rarest first, within :data:`POSTINGS_BUDGET`."""
        if not terms:
            return []
        with self._rlock:
            stems = self._stems(terms)
            if not stems:
                return []
            df = self._df
            missing = [s for s in stems if s not in df]
            if missing:
                if len(df) + len(missing) > DF_CACHE_MAX:
                    df.clear()
                marks = ",".join("?" * len(missing))
                df.update(
                    self._r.execute(
                        f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", missing
                    ).fetchall()
                )
        ranked = sorted((s for s in stems if df.get(s)), key=lambda s: df[s])
        keep: list[str] = []
        total = 0
        for stem in ranked:
            if len(keep) >= MIN_TERMS and total + df[stem] > POSTINGS_BUDGET:
                break
            keep.append(stem)
            total += df[stem]
        return keep

    def search(self, terms: Sequence[str], limit: int) -> list[Hit]:
        """The best ``limit`` chunks for ``terms`` (any of them), by FTS5's BM25."""
        stems = self.plan_query(terms)
        if not stems:
            return []
        # Stems are already stemmed; porter leaves a stem as it is, so quoting is enough.
        query = " OR ".join('"' + t.replace('"', "") + '"' for t in stems)
        with self._rlock:
            rows = self._r.execute(
                "SELECT c.id, c.path, c.start, c.end_line, c.kind, c.name, c.text, s.score "
                "FROM (SELECT rowid AS id, bm25(chunks_fts) AS score FROM chunks_fts "
                "WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?) AS s "
                "JOIN chunks c ON c.id = s.id ORDER BY s.score",
                (query, limit),
            ).fetchall()
        return [Hit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], -float(r[7])) for r in rows]

    def stats(self) -> dict[str, Any]:
        with self._rlock:
            files = self._r.execute("SELECT count(*) FROM files").fetchone()[0]
            chunks = self._r.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return {"files": files, "chunks": chunks}
