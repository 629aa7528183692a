"""The state shared by the stages of one ``compress`` call, and its checked calls into the backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .errors import BackendError, CtxCompressError
from .protocols import Embedder, Scorer, TokenCounter, backend_name, call_backend, check_scores, check_vectors
from .types import Chunk

__all__ = ["CallContext", "VectorSource"]


class VectorSource(Protocol):
    """Where a call reads stored document vectors (a :class:`~ctxcompress.VectorStore`): ``encode``
    returns the vectors of ``texts`` for ``embedder``, embedding and storing only the missing ones."""

    def encode(self, embedder: Embedder, texts: Sequence[str]) -> NDArray[np.float32]: ...


@dataclass
class CallContext:
    """State shared by the stages of one call: counter, per-call embedding cache, warnings."""

    counter: TokenCounter
    sources: tuple[Chunk, ...]
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    passthrough: bool = False
    """True inside a pipeline whose error policy is ``passthrough``."""
    store: VectorSource | None = None
    """Stored document vectors, read before any embedder is called (``compress(..., store=)``)."""
    _emb_cache: dict[tuple[int, bool, str], NDArray[np.float32]] = field(default_factory=dict)
    _emb_dim: dict[int, int] = field(default_factory=dict)

    def count(self, text: str) -> int:
        """Tokens in ``text``; a counter that fails or returns no count >= 0 raises :class:`BackendError`."""
        if not text:
            return 0
        try:
            n = self.counter.count(text)
        except CtxCompressError:
            raise
        except Exception as exc:
            what = f"token counter {backend_name(self.counter)!r}"
            raise BackendError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        if type(n) is not int:
            if isinstance(n, bool) or not hasattr(n, "__index__"):
                raise BackendError(f"token counter {backend_name(self.counter)!r} returned {n!r}, not an int")
            n = int(n)
        if n < 0:
            raise BackendError(f"token counter {backend_name(self.counter)!r} returned a negative count {n}")
        return n

    def embed(self, embedder: Embedder, texts: Sequence[str], *, queries: bool = False) -> NDArray[np.float32]:
        """Embed ``texts`` once per call: repeated texts and texts seen by an earlier stage are reused,
        and document vectors (not queries) come from :attr:`store` when the call has one.

        Every embedder call of a compressor goes through here: a fault, a wrong shape, a dimension
        that differs from the embedder's earlier vectors, or a NaN / infinite value raises
        :class:`BackendError` (so the ``on_error`` policy applies) instead of silently skewing the output.
        """
        key0 = id(embedder)
        missing = list(dict.fromkeys(t for t in texts if (key0, queries, t) not in self._emb_cache))
        if missing:
            fn = getattr(embedder, "encode_queries", None) if queries else None
            what = f"embedder {backend_name(embedder)!r}" + (" (queries)" if fn is not None else "")
            if self.store is not None and not queries:
                store = self.store
                raw = call_backend(what, lambda items: store.encode(embedder, items), missing)
            else:
                raw = call_backend(what, fn or embedder.encode, missing)
            vecs = check_vectors(what, raw, len(missing))
            dim = self._emb_dim.setdefault(key0, vecs.shape[1])
            if vecs.shape[1] != dim:
                raise BackendError(f"{what} returned vectors of dimension {vecs.shape[1]}, earlier {dim}")
            for t, v in zip(missing, vecs, strict=True):
                self._emb_cache[(key0, queries, t)] = v
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._emb_cache[(key0, queries, t)] for t in texts])

    def score(self, scorer: Scorer, query: str, texts: Sequence[str]) -> NDArray[np.float64]:
        """``scorer.score(query, texts)``, checked: a fault, a wrong number of scores or a NaN / infinite
        score raises :class:`BackendError` (so the ``on_error`` policy applies). Every compressor that
        calls a :class:`~ctxcompress.Scorer` calls it through here."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        what = f"scorer {backend_name(scorer)!r}"
        return check_scores(what, call_backend(what, scorer.score, query, list(texts)), len(texts))
