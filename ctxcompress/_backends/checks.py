"""What the embedders, the embedding cache and the scorers share: input checks and error wrapping."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .._core.errors import BackendError, ConfigError, CtxCompressError, InputError

__all__ = ["check_texts", "file_digest"]


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of ``str``; a bare string or a non-string item is an :class:`InputError`."""
    if isinstance(texts, (str, bytes)):
        raise InputError("texts must be a sequence of strings, not a single string: wrap it in a list")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InputError(f"texts[{i}] is a {type(t).__name__}, not a str")
    return out


def _empty(dim: int | None) -> NDArray[np.float32]:
    return np.zeros((0, dim or 0), dtype=np.float32)


def _wrap_backend_error(name: str, what: str, exc: Exception) -> CtxCompressError:
    if isinstance(exc, CtxCompressError):
        return exc
    return BackendError(f"{name}: {what} failed: {type(exc).__name__}: {exc}")


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return value


_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGEST_LOCK = threading.Lock()


def file_digest(path: str | Path) -> str:
    """The first 16 hex digits of a file's SHA-256 (kept per path, size and mtime for the process)."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _DIGEST_LOCK:
        found = _DIGESTS.get(key)
    if found is not None:
        return found
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()[:16]
    with _DIGEST_LOCK:
        _DIGESTS[key] = digest
    return digest
