"""Lazy imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Any

from .errors import MissingDependencyError

__all__ = ["PicklableLazy", "require"]


def require(module: str, *, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install ctxcompress[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"{module!r} is needed{what} but is not installed: "
            f"pip install 'ctxcompress[{extra}]'  (underlying error: {exc})"
        ) from exc


class PicklableLazy:
    """Mixin for objects that load a model lazily under ``self._lock``: pickles leave out the lock and
    the attributes named in ``_transient`` (the loaded model, reloaded on first use), and unpickling
    makes a fresh lock."""

    _transient: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock"] = None
        for name in self._transient:
            state[name] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
