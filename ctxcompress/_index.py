"""Ingestion: precompute, into a :class:`~ctxcompress.VectorStore`, every vector a compressor will embed."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._backends.cache import CachedEmbedder
from ._backends.store import VectorStore, open_store
from ._core.compressor import Compressor
from ._core.errors import ConfigError
from ._core.protocols import Embedder, backend_name, call_backend, check_vectors, embedder_identity
from ._core.types import Chunk, coerce_chunks

__all__ = ["IndexReport", "index_chunks"]


@dataclass(frozen=True)
class IndexReport:
    """What :func:`index_chunks` did: chunks read, distinct texts the compressor embeds, how many of
    them were new (embedded and written; the others were already stored), and the time it took."""

    chunks: int
    texts: int
    embedded: int
    seconds: float
    store: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "texts": self.texts,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "store": self.store,
        }


def _as_store(store: VectorStore | str | os.PathLike[str]) -> VectorStore:
    if isinstance(store, VectorStore):
        return store
    if isinstance(store, (str, os.PathLike)):
        return open_store(store)
    raise ConfigError(f"store must be a VectorStore or its file path, got {type(store).__name__}")


def _batches(chunks: Iterable[Chunk | str | Mapping[str, Any]], size: int) -> Iterable[list[Chunk]]:
    batch: list[Chunk | str | Mapping[str, Any]] = []
    for c in chunks:
        batch.append(c)
        if len(batch) >= size:
            yield coerce_chunks(batch)
            batch = []
    if batch:
        yield coerce_chunks(batch)


def index_chunks(
    chunks: Iterable[Chunk | str | Mapping[str, Any]],
    store: VectorStore | str | os.PathLike[str],
    *,
    compressor: Compressor | None = None,
    batch_chunks: int = 256,
    batch_texts: int = 1024,
) -> IndexReport:
    """Embed into ``store`` every document text ``compressor`` will embed when it compresses these
    chunks (default: :func:`~ctxcompress.default_pipeline`), so that ``compressor.compress(...,
    store=store)`` later embeds only the query.

    The texts come from the compressor itself (:meth:`~ctxcompress.Compressor.embedding_texts`: for
    the default pipeline each sentence, plain for fusion and prefixed by its chunk's ``title`` for
    relevance), so they are exactly the strings looked up at query time. Texts already stored are
    skipped, so indexing again (or a corpus that overlaps) costs only the new ones. ``chunks`` may be
    any iterable (read ``batch_chunks`` at a time); ``batch_texts`` texts go to the embedder per call.
    """
    from ._demo import default_pipeline

    comp = compressor if compressor is not None else default_pipeline()
    if not isinstance(comp, Compressor):
        raise ConfigError(f"compressor must be a ctxcompress Compressor, got {type(comp).__name__}")
    for name, value in (("batch_chunks", batch_chunks), ("batch_texts", batch_texts)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive int, got {value!r}")
    vs = _as_store(store)
    t0 = time.perf_counter()
    n_chunks = n_texts = n_new = 0
    for batch in _batches(chunks, batch_chunks):
        n_chunks += len(batch)
        by_identity: dict[str, tuple[Embedder, dict[str, None]]] = {}
        for emb, texts in comp.embedding_texts(batch):
            entry = by_identity.setdefault(embedder_identity(emb), (emb, {}))
            entry[1].update(dict.fromkeys(texts))
        for emb, texts_set in by_identity.values():
            texts = list(texts_set)
            n_texts += len(texts)
            _, found = vs.get(emb, texts)
            missing = [t for t, f in zip(texts, found, strict=True) if not f]
            # the in-memory cache of the default embedder would only fill up: embed with its base
            base = emb.base if isinstance(emb, CachedEmbedder) else emb
            what = f"embedder {backend_name(base)!r}"
            for s in range(0, len(missing), batch_texts):
                part = missing[s : s + batch_texts]
                vecs = check_vectors(what, call_backend(what, base.encode, part), len(part))
                n_new += vs.put(emb, part, vecs)
    return IndexReport(chunks=n_chunks, texts=n_texts, embedded=n_new, seconds=time.perf_counter() - t0, store=vs.path)
