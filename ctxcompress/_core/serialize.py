"""Parameter values to and from configuration data (``{"type", "init_parameters"}``), through the registry."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError
from .registry import MAX_DEPTH, canonical_name, resolve_type, type_name_of
from .types import Budget

__all__ = ["Configurable", "construct", "deserialize", "serialize"]


class Configurable:
    """A type that writes its own configuration (``to_dict``) and builds itself from it (``from_dict``).

    :class:`~ctxcompress.Compressor` is one: :func:`serialize` writes a configurable parameter with
    its ``to_dict``, and a registered configurable type is built with its ``from_dict``; any other
    object goes through its constructor parameters.
    """

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Configurable:
        raise NotImplementedError


def serialize(value: Any) -> Any:
    """Turn a parameter value into JSON/YAML-able data (objects → ``{"type", "init_parameters"}``)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Budget):
        return {"type": "ctxcompress.Budget", "init_parameters": value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [serialize(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): serialize(v) for k, v in value.items()}
    if isinstance(value, Configurable):
        return value.to_dict()
    params = _init_params(value)
    if params is not None:
        return {"type": type_name_of(type(value)), "init_parameters": {k: serialize(v) for k, v in params.items()}}
    raise ConfigError(
        f"cannot serialise a {type(value).__name__} parameter: pass it by name (e.g. embedder='onnx') "
        "or give its class constructor parameters stored under the same attribute names"
    )


def _init_params(obj: Any) -> dict[str, Any] | None:
    """Constructor parameters of ``obj`` if it stores each under the same attribute name."""
    try:
        sig = inspect.signature(type(obj).__init__)
    except (TypeError, ValueError):
        return None
    params: dict[str, Any] = {}
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(obj, name):
            return None
        params[name] = getattr(obj, name)
    return params


def deserialize(value: Any, *, _depth: int = 0) -> Any:
    """Turn configuration data back into parameter values.

    A mapping with ``type`` and ``init_parameters`` becomes an object, but only of a registered type
    (see :func:`ctxcompress.register_type`); any other named type is a :class:`ConfigError`.
    """
    if _depth > MAX_DEPTH:
        raise ConfigError(f"configuration nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, (list, tuple)):
        return [deserialize(v, _depth=_depth + 1) for v in value]
    if isinstance(value, Mapping):
        if "type" in value and "init_parameters" in value:
            extra = sorted(str(k) for k in value if k not in ("type", "init_parameters"))
            if extra:
                raise ConfigError(
                    f"a {{type, init_parameters}} object has unexpected keys {extra} (type {value['type']!r})"
                )
            return construct(value["type"], value["init_parameters"], _depth=_depth + 1)
        return {k: deserialize(v, _depth=_depth + 1) for k, v in value.items()}
    return value


def construct(type_name: Any, init_parameters: Any, *, _depth: int = 0) -> Any:
    """Build the registered type ``type_name``: the name is resolved before anything is called."""
    cls = resolve_type(type_name)  # ConfigError for anything not registered
    if init_parameters is None:
        init_parameters = {}
    if not isinstance(init_parameters, Mapping):
        raise ConfigError(f"'init_parameters' of {type_name} must be a mapping, got {type(init_parameters).__name__}")
    bad = [k for k in init_parameters if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"parameter names of {type_name} must be strings, got {bad!r}")
    if cls is Budget:
        try:
            return Budget(**init_parameters)
        except TypeError as exc:
            raise ConfigError(f"cannot build {type_name} from {sorted(init_parameters)}: {exc}") from exc
    if issubclass(cls, Configurable):
        return cls.from_dict({"type": canonical_name(type_name), "init_parameters": init_parameters})
    params = {k: deserialize(v, _depth=_depth + 1) for k, v in init_parameters.items()}
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"cannot build {type_name} from {sorted(params)}: {exc}") from exc
