"""The types a configuration may name, and bounded reading of configuration documents.

A configuration file is data. Its ``type:`` names are looked up here, *before* anything is imported
or called: ctxcompress's own compressors, embedders, scorers, token counters, ``Budget``, LLM
backends and test fakes (each imported from ctxcompress's own modules, on first use), plus the
classes an application registers in code with :func:`register_type`. Any other name, whatever
module it points at, is a :class:`ConfigError` that names it.

Documents are bounded too: a size limit on the file, a depth limit on nesting, and a YAML loader
that counts what its aliases would expand to, so a few hundred bytes of nested aliases fail at once
instead of expanding exponentially.
"""

from __future__ import annotations

import functools
import importlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, MissingDependencyError

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "canonical_name",
    "check_shape",
    "parse_config",
    "read_config",
    "register_type",
    "resolve_type",
    "type_name_of",
]

MAX_CONFIG_BYTES = 1 << 20
"""Largest configuration document read (1 MiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists in a configuration."""
MAX_NODES = 100_000
"""Most values (scalars, lists, mappings) a configuration may hold with its YAML aliases expanded."""

T = TypeVar("T", bound=type)

# registered name -> (module inside ctxcompress, attribute); imported only when named
_BUILTIN: dict[str, tuple[str, str]] = {
    # compressors
    "ctxcompress.AttentionFilter": ("ctxcompress._lm.attention_filter", "AttentionFilter"),
    "ctxcompress.ExtractRestructure": ("ctxcompress._refiner.extract_restructure", "ExtractRestructure"),
    "ctxcompress.KGSchemaPruner": ("ctxcompress._kg.pruner", "KGSchemaPruner"),
    "ctxcompress.LongContextReorder": ("ctxcompress._compressors.long_context_reorder", "LongContextReorder"),
    "ctxcompress.Pipeline": ("ctxcompress._core.pipeline", "Pipeline"),
    "ctxcompress.RedundancyFusion": ("ctxcompress._compressors.redundancy_fusion", "RedundancyFusion"),
    "ctxcompress.RelevanceFilter": ("ctxcompress._compressors.relevance_filter", "RelevanceFilter"),
    "ctxcompress.SemanticCompressor": ("ctxcompress._compressors.semantic_compressor", "SemanticCompressor"),
    "ctxcompress.Summarizer": ("ctxcompress._compressors.summarizer", "Summarizer"),
    "ctxcompress.TokenPruner": ("ctxcompress._lm.token_pruner", "TokenPruner"),
    # embedders
    "ctxcompress.CachedEmbedder": ("ctxcompress._backends.cache", "CachedEmbedder"),
    "ctxcompress.OnnxEmbedder": ("ctxcompress._backends.embedders", "OnnxEmbedder"),
    "ctxcompress.SentenceTransformerEmbedder": ("ctxcompress._backends.embedders", "SentenceTransformerEmbedder"),
    # scorers
    "ctxcompress.BM25Scorer": ("ctxcompress._backends.scorers", "BM25Scorer"),
    "ctxcompress.EmbeddingScorer": ("ctxcompress._backends.scorers", "EmbeddingScorer"),
    "ctxcompress.OnnxCrossEncoder": ("ctxcompress._backends.scorers", "OnnxCrossEncoder"),
    # token counters
    "ctxcompress.ApproxCounter": ("ctxcompress._backends.tokens.counters", "ApproxCounter"),
    "ctxcompress.HFTokenizerCounter": ("ctxcompress._backends.tokens.counters", "HFTokenizerCounter"),
    "ctxcompress.TiktokenCounter": ("ctxcompress._backends.tokens.counters", "TiktokenCounter"),
    "ctxcompress.WhitespaceCounter": ("ctxcompress._backends.tokens.counters", "WhitespaceCounter"),
    # budgets, weights and LLM backends
    "ctxcompress.Budget": ("ctxcompress._core.types", "Budget"),
    "ctxcompress.HybridWeights": ("ctxcompress._compressors.relevance_filter", "HybridWeights"),
    "ctxcompress.HFLocalLLM": ("ctxcompress._lm.llm", "HFLocalLLM"),
    # test fakes
    "ctxcompress.testing.FailingEmbedder": ("ctxcompress.testing._fakes", "FailingEmbedder"),
    "ctxcompress.testing.FakeEmbedder": ("ctxcompress.testing._fakes", "FakeEmbedder"),
    "ctxcompress.testing.FakeLLM": ("ctxcompress.testing._fakes", "FakeLLM"),
}


# where the built-in types lived in the flat layout (0.1.0): configurations written then name these
_LEGACY_MODULES: dict[str, str] = {
    "ctxcompress._lm.attention_filter": "ctxcompress._gemfilter",
    "ctxcompress._refiner.extract_restructure": "ctxcompress._refiner",
    "ctxcompress._kg.pruner": "ctxcompress._kg",
    "ctxcompress._compressors.long_context_reorder": "ctxcompress._reorder",
    "ctxcompress._core.pipeline": "ctxcompress._pipeline",
    "ctxcompress._compressors.redundancy_fusion": "ctxcompress._fusion",
    "ctxcompress._compressors.relevance_filter": "ctxcompress._relevance",
    "ctxcompress._compressors.semantic_compressor": "ctxcompress._semantic",
    "ctxcompress._compressors.summarizer": "ctxcompress._summarize",
    "ctxcompress._lm.token_pruner": "ctxcompress._token_pruner",
    "ctxcompress._backends.cache": "ctxcompress._embed",
    "ctxcompress._backends.embedders": "ctxcompress._embed",
    "ctxcompress._backends.scorers": "ctxcompress._rerank",
    "ctxcompress._backends.tokens.counters": "ctxcompress._tokens",
    "ctxcompress._core.types": "ctxcompress._types",
    "ctxcompress._lm.llm": "ctxcompress._llm",
}


def _builtin_aliases() -> dict[str, str]:
    """Every accepted spelling of a built-in name -> its registered name.

    ``RelevanceFilter``, ``ctxcompress.RelevanceFilter`` and the defining module's path, today's
    and the one of the flat layout before subpackages (``ctxcompress._relevance.RelevanceFilter``,
    what ``to_dict`` wrote for classes that ``ctxcompress`` does not export).
    """
    aliases: dict[str, str] = {}
    for name, (module, attr) in _BUILTIN.items():
        aliases[name] = name
        aliases[f"{module}.{attr}"] = name
        legacy = _LEGACY_MODULES.get(module)
        if legacy is not None:
            aliases[f"{legacy}.{attr}"] = name
        if name.startswith("ctxcompress.") and name.count(".") == 1:
            aliases[attr] = name
    aliases["ctxcompress.testing.WhitespaceCounter"] = "ctxcompress.WhitespaceCounter"
    return aliases


_ALIASES = _builtin_aliases()
_lock = threading.Lock()
_user_by_name: dict[str, type] = {}
_user_by_class: dict[type, str] = {}


# --------------------------------------------------------------------------- registering
def register_type(cls: T, name: str | None = None) -> T:
    """Allow configurations to name ``cls`` (a compressor, embedder, scorer, counter, ...).

    ``name`` defaults to ``"<module>.<qualname>"`` of the class; ``to_dict`` writes it, and
    :func:`ctxcompress.load_config` / ``from_dict`` accept it. Returns ``cls``, so it also works as a
    class decorator. Registering the same class under the same name again is a no-op; a name already
    taken (by ctxcompress or by another class) is a :class:`ConfigError`.

    >>> @register_type
    ... class MyCompressor(Compressor): ...  # doctest: +SKIP
    """
    if not isinstance(cls, type):
        raise ConfigError(f"register_type takes a class, got {type(cls).__name__}")
    key = f"{cls.__module__}.{cls.__qualname__}" if name is None else name
    if not isinstance(key, str) or not key.strip() or key != key.strip() or any(ch.isspace() for ch in key):
        raise ConfigError(f"a registered type name is a non-empty string without whitespace, got {key!r}")
    if "<locals>" in key:
        raise ConfigError(f"{cls.__qualname__} is defined inside a function: pass register_type(cls, name=...)")
    if key in _ALIASES:
        raise ConfigError(f"{key!r} is one of ctxcompress's own types and cannot be registered again")
    with _lock:
        taken = _user_by_name.get(key)
        if taken is not None and taken is not cls:
            raise ConfigError(f"type name {key!r} is already registered for {taken.__module__}.{taken.__qualname__}")
        old = _user_by_class.get(cls)
        if old is not None and old != key:
            raise ConfigError(f"{cls.__qualname__} is already registered as {old!r}")
        _user_by_name[key] = cls
        _user_by_class[cls] = key
    return cls


def _unregister(name: str) -> None:
    """Remove a user registration (for tests)."""
    with _lock:
        cls = _user_by_name.pop(name, None)
        if cls is not None:
            _user_by_class.pop(cls, None)


# --------------------------------------------------------------------------- resolving
def resolve_type(type_name: Any) -> type:
    """The class a configuration names; only registered names resolve, before anything is imported.

    Built-in names import only ctxcompress's own modules. Anything else raises :class:`ConfigError`
    naming the refused type.
    """
    if not isinstance(type_name, str) or not type_name:
        raise ConfigError(f"a configuration 'type' must be a non-empty string, got {type_name!r}")
    with _lock:
        user = _user_by_name.get(type_name)
    if user is not None:
        return user
    canonical = _ALIASES.get(type_name)
    if canonical is None:
        raise ConfigError(
            f"refused type {type_name!r}: a configuration can name only registered types "
            "(ctxcompress's own compressors, embedders, scorers and token counters, or classes registered "
            "in code with ctxcompress.register_type)"
        )
    module, attr = _BUILTIN[canonical]
    cls = getattr(importlib.import_module(module), attr)
    assert isinstance(cls, type)
    return cls


def canonical_name(type_name: str) -> str:
    """The registered name that ``type_name`` spells (``RelevanceFilter`` -> ``ctxcompress.RelevanceFilter``)."""
    with _lock:
        if type_name in _user_by_name:
            return type_name
    return _ALIASES.get(type_name, type_name)


def type_name_of(cls: type) -> str:
    """The name ``to_dict`` writes for ``cls``: its registered name, else ``<module>.<qualname>``
    (which loads only once the class is registered)."""
    path = f"{cls.__module__}.{cls.__qualname__}"
    canonical = _ALIASES.get(path)
    if canonical is not None and _BUILTIN[canonical] == (cls.__module__, cls.__qualname__):
        return canonical
    with _lock:
        user = _user_by_class.get(cls)
    return user if user is not None else path


# --------------------------------------------------------------------------- bounded documents
@functools.lru_cache(maxsize=1)
def _loader_class() -> type:
    """``yaml.SafeLoader`` bounding nesting depth and the document's size with aliases expanded.

    Every node's expanded size is computed while composing (an alias counts what it points at), so
    a billion-laughs document is refused after composing a few hundred nodes, before anything is
    constructed or expanded. Built on first use: PyYAML is imported only to read YAML.
    """
    try:
        import yaml
    except ImportError as exc:  # a requirement of ctxcompress itself: the installation is incomplete
        raise MissingDependencyError(
            f"PyYAML is needed to read YAML configuration files but is not installed: pip install pyyaml "
            f"(a requirement of ctxcompress; or use a .json configuration)  (underlying error: {exc})"
        ) from exc

    class BoundedSafeLoader(yaml.SafeLoader):
        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self._depth = 0
            self._sizes: dict[int, int] = {}

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _Bound(f"nested deeper than {MAX_DEPTH} levels")
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            size = self._sizes.get(id(node))
            if size is None:
                size = 1
                if isinstance(node, yaml.SequenceNode):
                    size += sum(self._sizes.get(id(child), 1) for child in node.value)
                elif isinstance(node, yaml.MappingNode):
                    size += sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
                self._sizes[id(node)] = size
            if size > MAX_NODES:
                raise _Bound(f"more than {MAX_NODES} values once its YAML aliases are expanded")
            return node

    return BoundedSafeLoader


class _Bound(Exception):
    """A document past one of the bounds (raised inside the YAML loader, reported as a ConfigError)."""


def check_shape(data: Any, *, where: str = "configuration") -> None:
    """Refuse data nested deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_NODES` values
    (a value reachable twice counts twice)."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{where} holds more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where} is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)


def parse_config(raw: bytes | str, *, name: str, json_format: bool) -> Any:
    """Parse a configuration document into plain data, within the size, depth and alias bounds."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{name} is larger than the {MAX_CONFIG_BYTES} bytes a configuration may have")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{name} is not valid UTF-8: {exc}") from exc
    data: Any
    if json_format:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name} is not valid JSON: {exc}") from exc
        except RecursionError:
            raise ConfigError(f"{name} is nested deeper than {MAX_DEPTH} levels") from None
    else:
        loader = _loader_class()
        import yaml

        try:
            data = yaml.load(raw, Loader=loader)  # a yaml.SafeLoader subclass
        except _Bound as exc:
            raise ConfigError(f"{name} is refused: {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{name} is not valid YAML: {exc}") from exc
        except RecursionError:
            raise ConfigError(f"{name} is nested deeper than {MAX_DEPTH} levels") from None
    check_shape(data, where=name)
    return data


def read_config(path: str | Path) -> Any:
    """Read and parse the configuration file at ``path`` (JSON for ``.json``, else YAML), within the bounds."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {p}: {exc}") from exc
    return parse_config(raw, name=str(p), json_format=p.suffix.lower() == ".json")
