"""Past one machine: indexing and batch compression on Ray Data (``pip install 'ctxcompress[ray]'``).

:func:`index_dataset` segments and embeds a corpus on Ray workers and writes the vectors into a
:class:`~ctxcompress.VectorStore`; :func:`compress_records` compresses a JSON-lines file of
``{"query", "chunks"}`` records on Ray workers. Both connect to the Ray cluster already initialised in
this process, else to ``address`` / ``RAY_ADDRESS``, else start a local one with ``workers`` CPUs.

Who writes the store: the **driver**. Workers return ``(embedder identity, text, vector)`` rows and
the driver writes them in batched transactions. SQLite in WAL mode lets writers on one machine take
turns (the store's busy timeout), but its locks do not work across machines (WAL needs shared memory;
SQLite on NFS is unsafe), and one write lock means more writers would only queue. So the store's
file needs to exist only where the driver runs, and the workers only need the model files.
Figures (1 vs 2 workers on one machine): ``eval/RESULTS_store.md``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._backends.cache import CachedEmbedder
from ._backends.store import VectorStore
from ._core.compressor import Compressor
from ._core.deps import require
from ._core.errors import ConfigError, CtxCompressError, InputError
from ._core.protocols import Embedder, backend_name, call_backend, check_vectors, embedder_identity
from ._core.types import Budget, Chunk, coerce_chunks

__all__ = [
    "BatchReport",
    "compress_batch",
    "compress_records",
    "embed_batch",
    "index_dataset",
    "ray_session",
    "write_rows",
]

_PathLike = str | os.PathLike[str]


def _compressor(value: Compressor | Mapping[str, Any] | None) -> Compressor:
    from ._core.pipeline import config_to_compressor
    from ._demo import default_pipeline

    if value is None:
        return default_pipeline()
    if isinstance(value, Compressor):
        return value
    if isinstance(value, Mapping):
        return config_to_compressor(dict(value))
    raise ConfigError(f"compressor must be a ctxcompress Compressor or its to_dict(), got {type(value).__name__}")


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return value


# ---------------------------------------------------------------------- worker side (plain Python)
def _rows(batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of a columnar batch (``{"column": values}``) as dicts, missing values left out."""
    columns = {k: list(v) for k, v in batch.items()}
    n = len(next(iter(columns.values()), []))
    out = []
    for i in range(n):
        row = {}
        for k, values in columns.items():
            v = values[i]
            if v is None or (isinstance(v, float) and v != v):
                continue
            row[k] = v.item() if isinstance(v, np.generic) else v
        out.append(row)
    return out


def _batch_chunks(batch: Mapping[str, Any]) -> list[Chunk]:
    """A batch of rows as chunks: a ``json`` column holds JSON-lines text (one chunk per line, as for
    ``ctxcompress compress``); otherwise the columns are the chunk's fields (``text``, ``id``, ``metadata``)."""
    if "json" in batch:
        from ._cli import read_chunks

        lines = [str(x) for x in batch["json"]]
        return read_chunks(io.StringIO("\n".join(lines)), name="a Ray batch")
    rows = _rows(batch)
    if rows and "text" not in rows[0]:
        raise InputError(f"dataset rows need a 'text' column (or 'json' lines); got columns {sorted(batch)}")
    fields = [{k: v for k, v in row.items() if k in ("id", "text", "metadata", "score")} for row in rows]
    for f in fields:
        if isinstance(f.get("metadata"), Mapping):
            f["metadata"] = dict(f["metadata"])
    return coerce_chunks(fields)


def embed_batch(compressor: Compressor, chunks: Sequence[Chunk], *, batch_texts: int = 1024) -> dict[str, Any]:
    """What one worker does with a batch of chunks: the distinct texts ``compressor`` embeds for them
    (:meth:`~ctxcompress.Compressor.embedding_texts`), embedded, as columns ``identity``, ``text`` and
    ``vector`` (float32 bytes): rows for :meth:`VectorStore.put`."""
    identities: list[str] = []
    texts: list[str] = []
    vectors: list[bytes] = []
    by_identity: dict[str, tuple[Embedder, dict[str, None]]] = {}
    for emb, items in compressor.embedding_texts(list(chunks)):
        entry = by_identity.setdefault(embedder_identity(emb), (emb, {}))
        entry[1].update(dict.fromkeys(items))
    for identity, (emb, items_set) in by_identity.items():
        base = emb.base if isinstance(emb, CachedEmbedder) else emb  # the in-memory cache would only fill up
        what = f"embedder {backend_name(base)!r}"
        items = list(items_set)
        for s in range(0, len(items), batch_texts):
            part = items[s : s + batch_texts]
            vecs = check_vectors(what, call_backend(what, base.encode, part), len(part))
            identities += [identity] * len(part)
            texts += part
            vectors += [np.ascontiguousarray(v, dtype=np.float32).tobytes() for v in vecs]
    return {
        "identity": np.array(identities, dtype=object),
        "text": np.array(texts, dtype=object),
        "vector": np.array(vectors, dtype=object),
    }


def write_rows(store: VectorStore, batch: Mapping[str, Any]) -> int:
    """Write a batch of :func:`embed_batch` rows into ``store`` (one transaction per embedder);
    returns how many were new."""
    groups: dict[str, tuple[list[str], list[bytes]]] = {}
    for identity, text, vec in zip(batch["identity"], batch["text"], batch["vector"], strict=True):
        entry = groups.setdefault(str(identity), ([], []))
        entry[0].append(str(text))
        entry[1].append(bytes(vec))
    written = 0
    for identity, (texts, blobs) in groups.items():
        vecs = np.stack([np.frombuffer(b, dtype=np.float32) for b in blobs])
        written += store.put(identity, texts, vecs)
    return written


def compress_batch(
    compressor: Compressor,
    lines: Iterable[str],
    *,
    budget: Budget | int | float | None = None,
    counter: Any = None,
    store: VectorStore | None = None,
) -> list[str]:
    """What one worker does with JSON lines of ``{"query", "chunks", "id"?}`` records: one JSON line
    out per record, ``{"id", "query", "chunks", "text", "report"}``, or ``{"id", "error"}`` when the
    record is malformed or cannot be compressed (the job goes on)."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        record_id: Any = None
        try:
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(f"not a JSON record: {exc}") from None
            if not isinstance(record, dict):
                raise InputError("a record must be a JSON object with 'query' and 'chunks'")
            record_id = record.get("id")
            query = record.get("query", record.get("question"))
            if not isinstance(query, str):
                raise InputError("a record needs a 'query' (or 'question') string")
            chunks = record.get("chunks")
            if not isinstance(chunks, list):
                raise InputError("a record needs 'chunks': a list of strings or {'text', 'id', 'metadata'} objects")
            kw: dict[str, Any] = {} if store is None else {"store": store}
            result = compressor.compress(chunks, query=query, budget=budget, counter=counter, **kw)
            data = {"id": record_id, "query": query, **result.to_dict()}
        except CtxCompressError as exc:
            data = {"id": record_id, "error": f"{type(exc).__name__}: {exc}"}
        out.append(json.dumps(data, ensure_ascii=False, default=str))
    return out


class _Embed:
    """A Ray Data actor: builds the compressor (and so loads the model) once, embeds batches."""

    def __init__(self, config: dict[str, Any], batch_texts: int) -> None:
        self.compressor = _compressor(config)
        self.batch_texts = batch_texts

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return embed_batch(self.compressor, _batch_chunks(batch), batch_texts=self.batch_texts)


class _Compress:
    """A Ray Data actor: compresses batches of JSON-line records."""

    def __init__(self, config: dict[str, Any], budget: Any, counter: Any, store: str | None) -> None:
        self.compressor = _compressor(config)
        self.budget = budget
        self.counter = counter
        self.store = None if store is None else VectorStore(store)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        lines = [str(x) for x in batch["text"]]
        out = compress_batch(self.compressor, lines, budget=self.budget, counter=self.counter, store=self.store)
        return {"json": np.array(out, dtype=object)}


# ---------------------------------------------------------------------- driver side
@dataclass(frozen=True)
class BatchReport:
    """What a Ray job did: rows out (texts embedded, or records compressed), of which new (vectors
    the store did not hold yet) or failed (records with an ``error``), the workers and the wall time."""

    rows: int
    new: int
    errors: int
    workers: int
    seconds: float
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "new": self.new,
            "errors": self.errors,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "output": self.output,
        }


def _ray() -> tuple[Any, Any]:
    ray = require("ray", extra="ray", purpose="running on a Ray cluster")
    data = require("ray.data", extra="ray", purpose="Ray Data (it needs pandas and pyarrow)")
    return ray, data


@contextlib.contextmanager
def ray_session(address: str | None = None, *, workers: int = 2) -> Iterator[Any]:
    """The Ray connection a job runs on: the one this process already initialised, else the cluster
    at ``address`` (or ``RAY_ADDRESS``), else a local cluster of ``workers + 1`` CPUs started here and
    shut down at the end (the ``workers`` actors hold one CPU each; the read tasks need one more, or the
    job waits forever). On a cluster of your own, keep ``workers`` below its CPU count."""
    ray = require("ray", extra="ray", purpose="running on a Ray cluster")
    if ray.is_initialized():
        yield ray
        return
    if address or os.environ.get("RAY_ADDRESS"):
        ray.init(address=address or None)  # connecting: the cluster's own settings apply
    else:
        ray.init(num_cpus=workers + 1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def _dataset(data: Any, source: Any) -> Any:
    """``source`` as a Ray dataset: a path or a list of paths (as ``ray.data.read_text`` takes them: files,
    folders, globs, ``s3://...``) read as lines of text, or a ``ray.data.Dataset`` as it is."""
    if isinstance(source, data.Dataset):
        return source
    if isinstance(source, (str, os.PathLike)):
        return data.read_text(os.fspath(source))
    if isinstance(source, Sequence) and source and all(isinstance(p, (str, os.PathLike)) for p in source):
        return data.read_text([os.fspath(p) for p in source])
    raise ConfigError(f"source must be a path, a list of paths or a ray.data.Dataset, got {type(source).__name__}")


def _lines(batch: Mapping[str, Any]) -> dict[str, Any]:
    """``read_text`` rows (``text``: one JSON line each) renamed to the ``json`` column the workers parse."""
    return {"json": batch["text"]}


def index_dataset(
    source: Any,
    store: VectorStore | _PathLike,
    *,
    compressor: Compressor | None = None,
    workers: int = 2,
    address: str | None = None,
    batch_chunks: int = 256,
    batch_texts: int = 1024,
) -> BatchReport:
    """:func:`ctxcompress.index_chunks` on Ray Data: embed into ``store`` every document text
    ``compressor`` (default: :func:`~ctxcompress.default_pipeline`) will embed for these chunks.

    ``source``: JSON-lines file(s) of chunks, as for ``ctxcompress compress`` (a path or a list of
    paths ``ray.data.read_text`` reads on every node: files, folders, globs, ``s3://bucket/corpus/``),
    or a ``ray.data.Dataset`` whose rows are chunks (a ``text`` column, optionally ``id`` and
    ``metadata``; or a ``json`` column of JSON lines). ``workers`` actors (one CPU each) segment and
    embed ``batch_chunks`` chunks at a time; the driver writes what they return (see the module
    docstring for why). Texts already stored are embedded again by the workers and skipped at writing
    (``new`` counts the rows written).
    """
    _positive("workers", workers)
    _positive("batch_chunks", batch_chunks)
    _positive("batch_texts", batch_texts)
    comp = compressor if compressor is not None else _compressor(None)
    if not isinstance(comp, Compressor):
        raise ConfigError(f"compressor must be a ctxcompress Compressor, got {type(comp).__name__}")
    vs = store if isinstance(store, VectorStore) else VectorStore(store)
    config = comp.to_dict()
    _, data = _ray()
    t0 = time.perf_counter()
    with ray_session(address, workers=workers):
        ds = _dataset(data, source)
        if not isinstance(source, data.Dataset):
            ds = ds.map_batches(_lines, batch_format="numpy")
        vectors = ds.map_batches(
            _Embed,
            fn_constructor_kwargs={"config": config, "batch_texts": batch_texts},
            batch_size=batch_chunks,
            batch_format="numpy",
            compute=data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        rows_out = new = 0
        for batch in vectors.iter_batches(batch_size=10_000, batch_format="numpy"):
            rows_out += len(batch["text"])
            new += write_rows(vs, batch)
    return BatchReport(rows_out, new, 0, workers, time.perf_counter() - t0, vs.path)


def compress_records(
    source: Any,
    output: _PathLike,
    *,
    compressor: Compressor | None = None,
    budget: Budget | int | float | None = None,
    counter: str | None = None,
    store: VectorStore | _PathLike | None = None,
    workers: int = 2,
    address: str | None = None,
    batch_records: int = 16,
) -> BatchReport:
    """Compress, on Ray Data, a JSON-lines file of ``{"query", "chunks", "id"?}`` records (``source``:
    a path or paths ``ray.data.read_text`` reads on every node, or a ``ray.data.Dataset`` of such lines
    in a ``text`` column)
    into ``output``: one JSON line per record, in input order, ``{"id", "query", "chunks", "text",
    "report"}`` as ``CompressionResult.to_dict()``, or ``{"id", "error"}`` for a record that could not be
    compressed (counted in ``errors``; the job goes on).

    ``store``: a :class:`~ctxcompress.VectorStore` path the workers read (and write misses back to,
    with the store's own locking): it must be on a disk every worker sees, one machine in practice.
    ``counter`` is a model or encoding name (``"gpt-4o"``), so that workers can build it.
    """
    _positive("workers", workers)
    _positive("batch_records", batch_records)
    if counter is not None and not isinstance(counter, str):
        raise ConfigError("counter must be a model or encoding name (a str) for a Ray job")
    comp = compressor if compressor is not None else _compressor(None)
    if not isinstance(comp, Compressor):
        raise ConfigError(f"compressor must be a ctxcompress Compressor, got {type(comp).__name__}")
    store_path = None if store is None else (store.path if isinstance(store, VectorStore) else os.fspath(store))
    bud = budget if budget is None or isinstance(budget, Budget) else Budget.coerce(budget)
    _, data = _ray()
    t0 = time.perf_counter()
    rows_out = errors = 0
    try:
        fh = open(output, "w", encoding="utf-8")  # noqa: SIM115 - closed below, opened before the job starts
    except OSError as exc:
        raise ConfigError(f"cannot write the output {os.fspath(output)!r}: {exc.strerror or exc}") from None
    with fh, ray_session(address, workers=workers):
        options = data.DataContext.get_current().execution_options
        kept_order = options.preserve_order
        options.preserve_order = True  # output lines in input order
        try:
            ds = _dataset(data, source)
            out = ds.map_batches(
                _Compress,
                fn_constructor_kwargs={
                    "config": comp.to_dict(),
                    "budget": bud,
                    "counter": counter,
                    "store": store_path,
                },
                batch_size=batch_records,
                batch_format="numpy",
                compute=data.ActorPoolStrategy(size=workers),
                num_cpus=1,
            )
            for batch in out.iter_batches(batch_size=256, batch_format="numpy"):
                for line in batch["json"]:
                    rows_out += 1
                    errors += "error" in json.loads(line)
                    fh.write(f"{line}\n")
        finally:
            options.preserve_order = kept_order
    return BatchReport(rows_out, 0, errors, workers, time.perf_counter() - t0, os.fspath(output))
