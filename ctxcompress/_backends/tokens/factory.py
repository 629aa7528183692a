"""Resolving a token counter from a model name or a short spec: :func:`for_model`, :func:`get_counter`."""

from __future__ import annotations

import os
from pathlib import Path

from ..._core.errors import ConfigError
from ..._core.log import logger
from ..._core.protocols import TokenCounter
from .counters import ApproxCounter, HFTokenizerCounter, TiktokenCounter, WhitespaceCounter, _tokenizer_json
from .models import _ENCODINGS, MODEL_ENCODINGS, _encoding_for_model_name
from .offline_files import _offline_available

__all__ = ["for_model", "get_counter"]


def for_model(model: str) -> TokenCounter:
    """The exact token counter of an OpenAI model, e.g. ``for_model("gpt-4o")``.

    tiktoken is asked first (``tiktoken.model.encoding_name_for_model``: exact names, then dated or
    suffixed names by prefix, ``"gpt-4o-2024-08-06"`` → ``o200k_base``, ``"gpt-4-0613"`` →
    ``cl100k_base``), after a small table of names it lacks (``"gpt-4.5"``); without tiktoken,
    :data:`MODEL_ENCODINGS` and the same prefixes answer. An unknown model raises :class:`ConfigError`.
    """
    if not isinstance(model, str):
        raise ConfigError(f"for_model() takes a model name (str), got {type(model).__name__}")
    encoding = _encoding_for_model_name(model)
    if encoding is None:
        by_encoding: dict[str, list[str]] = {}
        for known, enc in MODEL_ENCODINGS.items():
            by_encoding.setdefault(enc, []).append(known)
        listing = "; ".join(f"{enc}: {', '.join(sorted(names))}" for enc, names in sorted(by_encoding.items()))
        raise ConfigError(
            f"unknown model {model!r}; known models by encoding: {listing} "
            "(dated versions such as 'gpt-4o-2024-08-06' match by prefix). "
            f"Pass an encoding name instead ({', '.join(_ENCODINGS)}), or count with the model's "
            "own tokenizer: HFTokenizerCounter('path/to/tokenizer.json' or a folder holding one, or a "
            "loaded tokenizer), e.g. get_counter('path/to/tokenizer.json')."
        )
    return TiktokenCounter(encoding)


def get_counter(spec: TokenCounter | str | os.PathLike[str] | None = None) -> TokenCounter:
    """Resolve a token counter from a short spec.

    - ``None`` or ``"auto"``: ``TiktokenCounter("o200k_base")`` when tiktoken is installed and a
      local ``o200k_base`` file is found (see :class:`TiktokenCounter`), otherwise
      :class:`ApproxCounter`. The counter's ``name`` is in every report, so which one was used is
      always visible; pass an explicit spec when counts must be exact.
    - ``"o200k_base"``, ``"cl100k_base"``, ``"p50k_base"``, ``"r50k_base"``: :class:`TiktokenCounter`.
    - ``"approx"``: :class:`ApproxCounter`; ``"whitespace"``: :class:`WhitespaceCounter`.
    - a path to a ``tokenizer.json`` (any ``.json`` file) or a folder holding one, or a
      ``pathlib.Path``: :class:`HFTokenizerCounter`.
    - an OpenAI model name (``"gpt-4o"``, ``"gpt-4o-2024-08-06"``, ...): :func:`for_model`.
    - an object with ``count`` and ``name``: returned as is.

    Anything else raises :class:`ConfigError` listing the choices.
    """
    if spec is None:
        spec = "auto"
    if isinstance(spec, os.PathLike):
        return HFTokenizerCounter(spec)
    if isinstance(spec, str):
        key = spec.strip()
        if key.lower() == "auto":
            if _offline_available("o200k_base"):
                return TiktokenCounter("o200k_base")
            _warn_approx_once()
            return ApproxCounter()
        if key in _ENCODINGS:
            return TiktokenCounter(key)
        if key.lower() == "approx":
            return ApproxCounter()
        if key.lower() == "whitespace":
            return WhitespaceCounter()
        found = _tokenizer_json(Path(key)) if key else None
        if found is not None and found.suffix == ".json":
            return HFTokenizerCounter(key)
        if _encoding_for_model_name(key) is not None:
            return for_model(key)
        raise ConfigError(_choices_message(repr(spec)))
    if isinstance(spec, type):
        raise ConfigError(f"get_counter() needs a counter instance, got the class {spec.__name__}; call it first")
    if isinstance(spec, TokenCounter):
        return spec
    raise ConfigError(_choices_message(f"a {type(spec).__name__}"))


_WARNED_APPROX: list[bool] = []


def _warn_approx_once() -> None:
    """The default counter fell back to ApproxCounter: say so once per process (every report names it)."""
    if not _WARNED_APPROX:
        _WARNED_APPROX.append(True)
        logger.warning(
            "no local o200k_base encoding (tiktoken or bpe-openai not installed): token counts are approximate "
            "(ApproxCounter); pip install 'ctxcompress[tiktoken]' for exact counts"
        )


def _choices_message(what: str) -> str:
    return (
        f"cannot make a token counter from {what}; use None or 'auto', an encoding "
        f"({', '.join(_ENCODINGS)}), 'approx', 'whitespace', an OpenAI model name (e.g. "
        f"{', '.join(sorted(MODEL_ENCODINGS)[:6])}, ...), the path of a tokenizer.json or of a folder "
        "holding one, or an object with .count(text) and .name"
    )
