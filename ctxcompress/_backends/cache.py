"""An in-memory LRU cache of vectors around any embedder: :class:`CachedEmbedder`."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .._core.deps import PicklableLazy
from .._core.errors import BackendError, ConfigError
from .._core.protocols import Embedder, embedder_identity
from .checks import _check_positive, _empty, _wrap_backend_error, check_texts

__all__ = ["CachedEmbedder", "EmbeddingCacheInfo"]


@dataclass(frozen=True)
class EmbeddingCacheInfo:
    """Counters of a :class:`CachedEmbedder` (hits and misses count distinct texts per call)."""

    hits: int
    misses: int
    size: int
    query_size: int
    max_entries: int


class CachedEmbedder(PicklableLazy):
    """Wraps any :class:`~ctxcompress.Embedder` with an in-memory LRU cache of vectors per exact text.

    Each ``encode`` call looks every distinct text up, sends only the missing ones to the wrapped
    embedder in one batched call, and assembles the result in the caller's order (repeated texts in
    a call are encoded once). ``encode_queries`` has its own cache when the base embeds queries
    differently, else it shares ``encode``'s. At most ``max_entries`` vectors are kept per cache; the
    least recently used go first. Safe to share between threads.

    The cache lives as long as the process. To precompute sentence vectors at indexing time and keep
    them on disk for every process, use a :class:`~ctxcompress.VectorStore` with
    :func:`~ctxcompress.index_chunks` and ``compress(..., store=...)``: it knows which strings each
    compressor embeds.
    """

    def __init__(self, base: Embedder, *, max_entries: int = 100_000) -> None:
        if not callable(getattr(base, "encode", None)):
            raise ConfigError(f"base must be an Embedder (an object with encode(texts)), got {base!r}")
        self.base = base
        self.max_entries = _check_positive("max_entries", max_entries)
        self._lock = threading.Lock()
        self._docs: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._queries: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._dimension: int | None = None

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.base!r}, max_entries={self.max_entries})"

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def identity(self) -> str:
        """The wrapped embedder's identity (see :func:`~ctxcompress.embedder_identity`)."""
        return embedder_identity(self.base)

    @property
    def dimension(self) -> int | None:
        """The vector size once known (from a cached vector or the base embedder), else None."""
        if self._dimension is not None:
            return self._dimension
        dim = getattr(self.base, "dimension", None)
        if dim is None:
            dim = getattr(self.base, "dim", None)
        return dim if isinstance(dim, int) and not isinstance(dim, bool) else None

    def warm_up(self) -> None:
        """Load the wrapped model now, if it can."""
        fn = getattr(self.base, "warm_up", None)
        if callable(fn):
            fn()

    def cache_info(self) -> EmbeddingCacheInfo:
        with self._lock:
            return EmbeddingCacheInfo(
                hits=self._hits,
                misses=self._misses,
                size=len(self._docs),
                query_size=len(self._queries),
                max_entries=self.max_entries,
            )

    def clear_cache(self) -> None:
        """Forget every cached vector and reset the counters."""
        with self._lock:
            self._docs.clear()
            self._queries.clear()
            self._hits = self._misses = 0

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts``, encoding only those not cached yet."""
        return self._encode(check_texts(texts), self._docs, self.base.encode)

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed queries with the base's ``encode_queries`` (own cache), else like :meth:`encode`."""
        fn = getattr(self.base, "encode_queries", None)
        if not callable(fn):
            return self.encode(texts)
        return self._encode(check_texts(texts), self._queries, fn)

    def _encode(
        self,
        items: list[str],
        cache: OrderedDict[str, NDArray[np.float32]],
        fn: Callable[[Sequence[str]], NDArray[np.float32]],
    ) -> NDArray[np.float32]:
        if not items:
            return _empty(self.dimension)
        found: dict[str, NDArray[np.float32]] = {}
        missing: list[str] = []
        with self._lock:
            for t in dict.fromkeys(items):
                vec = cache.get(t)
                if vec is None:
                    missing.append(t)
                else:
                    cache.move_to_end(t)
                    found[t] = vec
            self._hits += len(found)
            self._misses += len(missing)
        if missing:
            # The base runs outside the lock: other threads keep reading the cache meanwhile.
            try:
                vecs = np.asarray(fn(missing), dtype=np.float32)
            except Exception as exc:
                raise _wrap_backend_error(self.name, "encoding", exc) from exc
            if vecs.ndim != 2 or vecs.shape[0] != len(missing):
                raise BackendError(f"{self.name}: returned shape {vecs.shape} for {len(missing)} texts")
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    row = v.copy()
                    row.flags.writeable = False
                    found[t] = row
                    cache[t] = row
                    cache.move_to_end(t)
                while len(cache) > self.max_entries:
                    cache.popitem(last=False)
        dim = next(iter(found.values())).shape[0]
        self._dimension = dim
        out = np.empty((len(items), dim), dtype=np.float32)
        for i, t in enumerate(items):
            out[i] = found[t]
        return out
