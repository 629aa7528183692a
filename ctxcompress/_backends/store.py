"""A persistent store of sentence vectors on SQLite: :class:`VectorStore` and :class:`StoredEmbedder`.

Why SQLite: it ships with Python (no new dependency), one file holds the whole store, and in WAL
mode any number of processes read while one writes, with a busy timeout instead of errors when two
write at once. Vectors are keyed by the embedder's identity (:func:`~ctxcompress.embedder_identity`:
model file digests and the settings that change vectors) and a 16-byte BLAKE2b digest of the exact
text, and stored as float16 by default (float32 on request). Sizes and the float16 effect on
selection: ``eval/RESULTS_store.md``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._core.errors import BackendError, ConfigError
from .._core.protocols import Embedder, backend_name, call_backend, check_vectors, embedder_identity
from .checks import check_texts

__all__ = ["StoreInfo", "StoredEmbedder", "VectorStore", "open_store"]

Dtype = Literal["float16", "float32"]
_DTYPES: dict[str, type[np.floating[Any]]] = {"float16": np.float16, "float32": np.float32}
_FORMAT = "1"
_MAX_PARAMS = 500  # keys per SELECT ... IN (...): under every SQLite build's parameter limit
_WRITE_BATCH = 10_000  # rows per write transaction: other writers get their turn between batches

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS embedders(id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE, dim INTEGER NOT NULL)",
    # a rowid table and a unique index pack vector rows tighter than a WITHOUT ROWID table (rows of
    # 0.8-1.5 kB are large for SQLite pages): ~850 bytes per float16 MiniLM vector on disk
    "CREATE TABLE IF NOT EXISTS vectors(id INTEGER PRIMARY KEY, embedder INTEGER NOT NULL, key BLOB NOT NULL, "
    "vec BLOB NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS vectors_key ON vectors(embedder, key)",
)
_PAGE_SIZE = {"float16": 4096, "float32": 16384}  # measured: the smallest file per vector of each


_INHERITED: list[sqlite3.Connection] = []  # kept referenced so that garbage collection never closes them


def text_key(text: str) -> bytes:
    """The 16-byte key of ``text`` in the store (BLAKE2b of its UTF-8 bytes)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(frozen=True)
class StoreInfo:
    """What a :class:`VectorStore` file holds: vectors per embedder identity, dtype and file size."""

    path: str
    dtype: str
    vectors: dict[str, int]
    file_bytes: int

    @property
    def total_vectors(self) -> int:
        return sum(self.vectors.values())


class VectorStore:
    """Sentence vectors on disk, keyed by (embedder identity, exact text), shared by processes.

    ``VectorStore("vectors.db")`` opens the file, creating it when missing. ``dtype`` is how new
    vectors are stored: ``"float16"`` (default for a new file: half the bytes; the rounding effect on
    cosines and selection is in ``eval/RESULTS_store.md``) or ``"float32"``; an existing file keeps
    the dtype it was created with (``None`` takes it; another value is a :class:`ConfigError`).
    ``timeout`` is how many seconds a writer waits for another one before failing.

    :meth:`encode` is the one call most code needs: it returns the vectors of ``texts`` for an
    embedder, reading those already stored and embedding (then writing back) only the rest. Pass
    the store to ``compress(..., store=store)`` and every compressor's document embeddings go
    through it; :func:`ctxcompress.index_chunks` fills it at ingestion time.

    Safe to share between threads (one connection per thread) and processes (SQLite WAL mode:
    readers never block, writers take turns); a pickled store reopens the same file.
    """

    def __init__(self, path: str | os.PathLike[str], *, dtype: Dtype | None = None, timeout: float = 60.0) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path) or str(path) == ":memory:":
            raise ConfigError(f"path must be a file path for the store (not ':memory:'), got {path!r}")
        if dtype is not None and dtype not in _DTYPES:
            raise ConfigError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.path = str(Path(path).expanduser())
        self.timeout = float(timeout)
        self._asked_dtype = dtype
        self._local = threading.local()
        self._lock = threading.Lock()
        self._ids: dict[str, tuple[int, int]] = {}
        self.dtype: Dtype = self._open_schema()

    # ---------------------------------------------------------------- connections
    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "dtype": self._asked_dtype, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], dtype=state["dtype"], timeout=state["timeout"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"VectorStore({self.path!r}, dtype={self.dtype!r})"

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            if getattr(self._local, "pid", None) == os.getpid():
                return conn
            # a connection inherited through fork: never use nor close it in this process (SQLite's rule)
            _INHERITED.append(conn)
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the vector store {self.path!r}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never corrupt
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread or the process ends)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            if getattr(self._local, "pid", None) == os.getpid():
                conn.close()
            else:
                _INHERITED.append(conn)
        self._local.conn = None

    def _retry(self, fn: Any) -> Any:
        """Run ``fn(conn)``, retrying while another process holds a lock SQLite would not wait for."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            conn = self._conn()
            try:
                return fn(conn)
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.rollback()
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise BackendError(f"vector store {self.path!r}: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.rollback()
                raise BackendError(f"vector store {self.path!r}: {exc}") from exc

    def _open_schema(self) -> Dtype:
        def create(conn: sqlite3.Connection) -> str:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                # a new file: the page size is set before the first table and before WAL mode
                conn.execute(f"PRAGMA page_size = {_PAGE_SIZE[self._asked_dtype or 'float16']}")
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            for stmt in _SCHEMA:
                conn.execute(stmt)
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if "dtype" not in rows:
                conn.execute(
                    "INSERT INTO meta VALUES ('format', ?), ('dtype', ?)", (_FORMAT, self._asked_dtype or "float16")
                )
                rows = {"format": _FORMAT, "dtype": self._asked_dtype or "float16"}
            conn.execute("COMMIT")
            return str(rows["dtype"])

        def read(conn: sqlite3.Connection) -> str | None:
            try:
                row = conn.execute("SELECT value FROM meta WHERE key = 'dtype'").fetchone()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return None
                raise
            return None if row is None else str(row[0])

        found = self._retry(read)
        if found is None:
            found = self._retry(create)
        if found not in _DTYPES:
            raise BackendError(f"vector store {self.path!r}: unknown dtype {found!r} in the file")
        if self._asked_dtype is not None and self._asked_dtype != found:
            raise ConfigError(f"the vector store {self.path!r} holds {found} vectors; open it with dtype={found!r}")
        return "float32" if found == "float32" else "float16"

    # ---------------------------------------------------------------- identities
    def _embedder_id(self, identity: str, dim: int | None) -> tuple[int, int] | None:
        """``(row id, dimension)`` of ``identity``; registered with ``dim`` when given and new."""
        with self._lock:
            known = self._ids.get(identity)
        if known is not None:
            return known

        def look(conn: sqlite3.Connection) -> tuple[int, int] | None:
            row = conn.execute("SELECT id, dim FROM embedders WHERE identity = ?", (identity,)).fetchone()
            if row is None and dim is not None:
                conn.execute("INSERT OR IGNORE INTO embedders(identity, dim) VALUES (?, ?)", (identity, dim))
                row = conn.execute("SELECT id, dim FROM embedders WHERE identity = ?", (identity,)).fetchone()
            return None if row is None else (int(row[0]), int(row[1]))

        found: tuple[int, int] | None = self._retry(look)
        if found is not None:
            with self._lock:
                self._ids[identity] = found
        return found

    # ---------------------------------------------------------------- reading and writing
    def get(self, embedder: Embedder | str, texts: Sequence[str]) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """The stored vectors of ``texts`` (float32, zeros where missing) and which were found.

        ``embedder`` is an embedder or its identity string.
        """
        items = check_texts(texts)
        identity = embedder if isinstance(embedder, str) else embedder_identity(embedder)
        known = self._embedder_id(identity, None)
        if known is None or not items:
            dim = known[1] if known else 0
            return np.zeros((len(items), dim), dtype=np.float32), np.zeros(len(items), dtype=bool)
        eid, dim = known
        keys = [text_key(t) for t in items]
        where: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            where.setdefault(k, []).append(i)
        unique = list(where)
        out = np.zeros((len(items), dim), dtype=np.float32)
        found = np.zeros(len(items), dtype=bool)
        np_dtype = _DTYPES[self.dtype]

        def fetch(conn: sqlite3.Connection) -> list[tuple[bytes, bytes]]:
            rows: list[tuple[bytes, bytes]] = []
            for s in range(0, len(unique), _MAX_PARAMS):
                part = unique[s : s + _MAX_PARAMS]
                marks = ",".join("?" * len(part))
                rows += conn.execute(
                    f"SELECT key, vec FROM vectors WHERE embedder = ? AND key IN ({marks})", (eid, *part)
                ).fetchall()
            return rows

        for key, blob in self._retry(fetch):
            vec = np.frombuffer(blob, dtype=np_dtype)
            if vec.shape[0] != dim:
                raise BackendError(f"vector store {self.path!r}: a stored vector has {vec.shape[0]} values, not {dim}")
            for i in where[bytes(key)]:
                out[i] = vec
                found[i] = True
        return out, found

    def put(self, embedder: Embedder | str, texts: Sequence[str], vectors: NDArray[np.floating[Any]]) -> int:
        """Store ``vectors[i]`` as the vector of ``texts[i]`` (kept when already there); returns how
        many rows were new."""
        items = check_texts(texts)
        vecs = np.asarray(vectors)
        if vecs.ndim != 2 or vecs.shape[0] != len(items):
            raise ConfigError(f"vectors must have shape (len(texts), dim); got {vecs.shape} for {len(items)} texts")
        if not items:
            return 0
        identity = embedder if isinstance(embedder, str) else embedder_identity(embedder)
        known = self._embedder_id(identity, int(vecs.shape[1]))
        assert known is not None
        eid, dim = known
        if vecs.shape[1] != dim:
            raise BackendError(
                f"vector store {self.path!r}: {identity!r} has vectors of dimension {dim}, got {vecs.shape[1]}"
            )
        stored = np.ascontiguousarray(vecs, dtype=_DTYPES[self.dtype])
        if not np.isfinite(stored).all():
            raise BackendError(f"vector store {self.path!r}: refusing to store non-finite vectors ({self.dtype})")
        rows = {text_key(t): stored[i].tobytes() for i, t in enumerate(items)}
        batch = [(eid, k, v) for k, v in rows.items()]
        written = 0
        for s in range(0, len(batch), _WRITE_BATCH):
            part = batch[s : s + _WRITE_BATCH]

            def write(conn: sqlite3.Connection, part: list[tuple[int, bytes, bytes]] = part) -> int:
                conn.execute("BEGIN IMMEDIATE")
                before = conn.total_changes
                conn.executemany("INSERT OR IGNORE INTO vectors(embedder, key, vec) VALUES (?, ?, ?)", part)
                n = conn.total_changes - before
                conn.execute("COMMIT")
                return n

            written += int(self._retry(write))
        return written

    def encode(self, embedder: Embedder, texts: Sequence[str]) -> NDArray[np.float32]:
        """The vectors of ``texts`` for ``embedder``: stored ones read, the others embedded in one
        batched ``embedder.encode`` call and written back. Float32, shape ``(len(texts), dim)``."""
        items = check_texts(texts)
        out, found = self.get(embedder, items)
        if found.all():
            return out
        missing = list(dict.fromkeys(t for t, f in zip(items, found, strict=True) if not f))
        what = f"embedder {backend_name(embedder)!r}"
        vecs = check_vectors(what, call_backend(what, embedder.encode, missing), len(missing))
        self.put(embedder, missing, vecs)
        if out.shape[1] != vecs.shape[1]:
            out = np.zeros((len(items), vecs.shape[1]), dtype=np.float32)
            found[:] = False
        row = {t: i for i, t in enumerate(missing)}
        for i, t in enumerate(items):
            if not found[i]:
                out[i] = vecs[row[t]]
        return out

    # ---------------------------------------------------------------- inspection
    def count(self, embedder: Embedder | str | None = None) -> int:
        """How many vectors the store holds (for one embedder, or all)."""
        if embedder is None:
            return int(self._retry(lambda c: c.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]))
        identity = embedder if isinstance(embedder, str) else embedder_identity(embedder)
        known = self._embedder_id(identity, None)
        if known is None:
            return 0
        sql = "SELECT COUNT(*) FROM vectors WHERE embedder = ?"
        return int(self._retry(lambda c: c.execute(sql, (known[0],)).fetchone()[0]))

    def info(self) -> StoreInfo:
        """Vectors per embedder identity, the dtype, and the bytes on disk (file plus WAL)."""

        def per(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            sql = (
                "SELECT e.identity, COUNT(v.key) FROM embedders e LEFT JOIN vectors v ON v.embedder = e.id "
                "GROUP BY e.id ORDER BY e.id"
            )
            return [(str(a), int(b)) for a, b in conn.execute(sql).fetchall()]

        size = sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))
        return StoreInfo(path=self.path, dtype=self.dtype, vectors=dict(self._retry(per)), file_bytes=size)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (e.g. before copying it)."""
        self._retry(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())

    def identities(self) -> Iterator[str]:
        """The embedder identities with vectors in the store."""
        yield from self.info().vectors


class StoredEmbedder:
    """An :class:`~ctxcompress.Embedder` whose document vectors come from a :class:`VectorStore`.

    ``encode`` reads the stored vectors and embeds (then writes back) only the texts missing from
    the store; ``encode_queries`` goes straight to the wrapped embedder (queries are not stored).
    ``name`` and ``identity`` are the wrapped embedder's. Use it where a compressor takes an
    ``embedder``; ``compress(..., store=store)`` does the same for every stage without one.
    """

    def __init__(self, base: Embedder, store: VectorStore) -> None:
        if not callable(getattr(base, "encode", None)):
            raise ConfigError(f"base must be an Embedder (an object with encode(texts)), got {base!r}")
        if not isinstance(store, VectorStore):
            raise ConfigError(f"store must be a VectorStore, got {type(store).__name__}")
        self.base = base
        self.store = store

    def __repr__(self) -> str:
        return f"StoredEmbedder({self.base!r}, {self.store!r})"

    @property
    def name(self) -> str:
        return backend_name(self.base)

    @property
    def identity(self) -> str:
        return embedder_identity(self.base)

    @property
    def dimension(self) -> int | None:
        dim = getattr(self.base, "dimension", None)
        return dim if isinstance(dim, int) and not isinstance(dim, bool) else None

    def warm_up(self) -> None:
        fn = getattr(self.base, "warm_up", None)
        if callable(fn):
            fn()

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Stored vectors, the missing ones embedded and written back."""
        return self.store.encode(self.base, texts)

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The wrapped embedder's query vectors (its ``encode_queries``, else ``encode``); not stored."""
        fn = getattr(self.base, "encode_queries", None)
        return np.asarray((fn if callable(fn) else self.base.encode)(texts), dtype=np.float32)


_OPEN: dict[str, VectorStore] = {}
_OPEN_LOCK = threading.Lock()


def open_store(path: str | os.PathLike[str]) -> VectorStore:
    """The process's :class:`VectorStore` for ``path`` (opened on the first call, then reused)."""
    key = os.path.abspath(os.path.expanduser(os.fspath(path)))
    with _OPEN_LOCK:
        store = _OPEN.get(key)
        if store is None:
            store = _OPEN[key] = VectorStore(key)
        return store
