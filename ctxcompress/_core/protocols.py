"""The small backend protocols a user can implement to bring their own models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .errors import BackendError, CtxCompressError

__all__ = ["LLM", "Embedder", "Scorer", "TokenCounter", "embedder_identity"]


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the target LLM does. ``name`` identifies the tokenizer in reports."""

    @property
    def name(self) -> str: ...

    def count(self, text: str) -> int: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised vectors, shape ``(len(texts), dim)``, dtype float32.

    An embedder may also define ``encode_queries(texts)`` for models that embed queries
    differently (e.g. with an instruction prefix); callers fall back to ``encode``.
    """

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@runtime_checkable
class Scorer(Protocol):
    """Scores each text's relevance to a query; larger is more relevant."""

    def score(self, query: str, texts: Sequence[str]) -> NDArray[np.float64]: ...


@runtime_checkable
class LLM(Protocol):
    """Any callable from a prompt to generated text."""

    def __call__(self, prompt: str) -> str: ...


def embedder_identity(embedder: object) -> str:
    """What makes ``embedder``'s vectors comparable across processes: its ``identity`` when it has one
    (a non-empty str: the model file's digest and the settings that change vectors), else its ``name``.

    Two embedders with the same identity must give the same vector for the same text; a
    :class:`~ctxcompress.VectorStore` keys its vectors by it.
    """
    ident = getattr(embedder, "identity", None)
    if isinstance(ident, str) and ident:
        return ident
    name = getattr(embedder, "name", None)
    if isinstance(name, str) and name:
        return name
    return type(embedder).__qualname__


# --------------------------------------------------------------------------- checked calls
# Every compressor calls a user's backend through these (via ``CallContext.embed`` / ``CallContext.score``),
# so that whatever the backend raises or returns, the compressor sees either usable numbers or a
# ``BackendError`` (which its ``on_error`` policy then handles).


def backend_name(obj: object) -> str:
    """A backend's ``name`` for messages, else its class name."""
    name = getattr(obj, "name", None)
    return name if isinstance(name, str) and name else type(obj).__name__


def call_backend(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``; an exception that is not a ctxcompress error becomes a :class:`BackendError`
    naming ``what`` (a ``ConfigError`` / ``MissingDependencyError`` raised while a model loads stays as is)."""
    try:
        return fn(*args)
    except CtxCompressError:
        raise
    except Exception as exc:
        raise BackendError(f"{what} failed: {type(exc).__name__}: {exc}") from exc


def _not_finite(values: NDArray[Any], what: str, n: int) -> BackendError | None:
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    rows = int(bad.reshape(len(values), -1).any(axis=1).sum()) if values.ndim else 1
    return BackendError(f"{what} returned NaN or infinite values for {rows} of {n} texts")


def check_vectors(what: str, raw: Any, n: int) -> NDArray[np.float32]:
    """``raw`` as a finite float32 matrix with ``n`` rows, else :class:`BackendError` naming ``what``."""
    try:
        vecs = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise BackendError(f"{what} returned {type(raw).__name__}, not a matrix of numbers: {exc}") from exc
    if vecs.ndim != 2 or vecs.shape[0] != n or (n and vecs.shape[1] == 0):
        raise BackendError(f"{what} returned shape {vecs.shape} for {n} texts (expected ({n}, dim))")
    err = _not_finite(vecs, what, n)
    if err is not None:
        raise err
    return vecs


def check_scores(what: str, raw: Any, n: int) -> NDArray[np.float64]:
    """``raw`` as ``n`` finite float64 scores, else :class:`BackendError` naming ``what``."""
    try:
        scores = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BackendError(f"{what} returned {type(raw).__name__}, not a list of numbers: {exc}") from exc
    if scores.shape != (n,):
        raise BackendError(f"{what} returned shape {scores.shape} for {n} texts (expected one score per text)")
    err = _not_finite(scores, what, n)
    if err is not None:
        raise err
    return scores
