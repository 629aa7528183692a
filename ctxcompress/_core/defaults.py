"""The one place ``_core`` reaches the backends: a token counter or embedder spec resolved to an object.

``_core`` knows the protocols (:class:`~ctxcompress.TokenCounter`, :class:`~ctxcompress.Embedder`),
``_backends`` implements them and sits on the floor above; each resolver imports it on first call,
so nothing in ``_core`` imports ``_backends`` at module level.
"""

from __future__ import annotations

import os

from .context import VectorSource
from .errors import ConfigError
from .protocols import Embedder, TokenCounter

__all__ = ["resolve_counter", "resolve_embedder", "resolve_store"]


def resolve_counter(spec: TokenCounter | str | None) -> TokenCounter:
    """The token counter ``spec`` names (see :func:`ctxcompress.get_counter`; ``None`` is the default)."""
    from .._backends.tokens import get_counter  # late: _backends imports _core

    return get_counter(spec)


def resolve_embedder(spec: Embedder | str | None) -> Embedder:
    """The embedder ``spec`` names (see :func:`ctxcompress.get_embedder`; ``None`` is the default)."""
    from .._backends.embedders import get_embedder  # late: _backends imports _core

    return get_embedder(spec)


def resolve_store(spec: VectorSource | str | os.PathLike[str] | None) -> VectorSource | None:
    """The vector store ``spec`` names: ``None``, a store object (anything with ``encode(embedder,
    texts)``), or a file path, opened once per process (see :func:`ctxcompress.open_store`)."""
    if spec is None:
        return None
    if isinstance(spec, (str, os.PathLike)):
        from .._backends.store import open_store  # late: _backends imports _core

        return open_store(spec)
    if not callable(getattr(spec, "encode", None)):
        raise ConfigError(f"store must be a VectorStore or its file path, got {type(spec).__name__}")
    return spec
