"""Typed errors. Every error the library raises on purpose derives from :class:`CtxCompressError`."""

from __future__ import annotations

__all__ = [
    "BackendError",
    "ConfigError",
    "CtxCompressError",
    "InputError",
    "MissingDependencyError",
]


class CtxCompressError(Exception):
    """Base class of every error raised on purpose by ctxcompress."""


class ConfigError(CtxCompressError, ValueError):
    """A parameter, budget or configuration file is invalid. The message says how to fix it."""


class InputError(CtxCompressError, ValueError):
    """The chunks or the query given to ``compress`` are not usable (wrong type, duplicate ids, ...)."""


class BackendError(CtxCompressError, RuntimeError):
    """A model backend (embedder, LLM, tokenizer) failed at run time."""


class MissingDependencyError(CtxCompressError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""
