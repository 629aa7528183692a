"""Cheap checks of constructor parameters, raising :class:`~ctxcompress.ConfigError`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import ConfigError

__all__ = ["validate_choice", "validate_number"]


def validate_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def validate_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    allow_none: bool = True,
    low_inclusive: bool = True,
) -> None:
    if value is None:
        if allow_none:
            return
        raise ConfigError(f"{name} is required")
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value != value:
        raise ConfigError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        raise ConfigError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be <= {high}, got {value!r}")
