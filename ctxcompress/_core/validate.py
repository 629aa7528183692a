"""Cheap checks of constructor parameters, raising :class:`~ctxcompress.ConfigError`.

Each check returns the value it accepted, so a constructor validates and assigns in one line:
``self.top_k = validate_number("top_k", top_k, low=1, integer=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = ["unknown_fields_message", "validate_choice", "validate_number"]

T = TypeVar("T")


def validate_choice(name: str, value: T, choices: Sequence[Any]) -> T:
    """``value`` if it is one of ``choices``, else :class:`ConfigError` naming ``name`` and the choices."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def validate_number(
    name: str,
    value: T,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    allow_none: bool = True,
    low_inclusive: bool = True,
) -> T:
    """``value`` if it is a number (an int with ``integer``; never a bool or NaN) within ``[low, high]``
    (``low`` excluded unless ``low_inclusive``), or ``None`` where ``allow_none``; else :class:`ConfigError`."""
    v: Any = value
    if v is None:
        if allow_none:
            return value
        raise ConfigError(f"{name} is required")
    ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok_type or v != v:
        raise ConfigError(f"{name} must be {'an int' if integer else 'a number'}, got {v!r}")
    if low is not None and (v < low or (not low_inclusive and v == low)):
        raise ConfigError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {v!r}")
    if high is not None and v > high:
        raise ConfigError(f"{name} must be <= {high}, got {v!r}")
    return value


def unknown_fields_message(owner: str, unknown: Sequence[str], known: Sequence[str]) -> str:
    """The error message for misspelt keyword arguments: each unknown name with the close known one
    (``'budgett' (did you mean 'budget'?)``), then the known names."""
    import difflib

    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, list(known), n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown field(s) for {owner}: {', '.join(parts)}; the fields are {', '.join(sorted(known))}"
