"""OpenAI model names and the tiktoken encoding each uses.

tiktoken is asked first (``tiktoken.model.encoding_name_for_model``), after a small table of what it
lacks (:data:`_OVERRIDES`); :data:`MODEL_ENCODINGS` and the prefixes below answer when tiktoken is
not installed (and list the models in error messages). ``tests/unit/test_tokens.py`` checks that
this table agrees with tiktoken wherever tiktoken knows a name.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Mapping

__all__ = ["MODEL_ENCODINGS"]

#: Exact model names and the tiktoken encoding each uses: the answer when tiktoken is not installed.
MODEL_ENCODINGS: Mapping[str, str] = types.MappingProxyType(
    {
        # reasoning
        "o1": "o200k_base",
        "o1-mini": "o200k_base",
        "o1-preview": "o200k_base",
        "o3": "o200k_base",
        "o3-mini": "o200k_base",
        "o4-mini": "o200k_base",
        # chat
        "gpt-5": "o200k_base",
        "gpt-5-mini": "o200k_base",
        "gpt-5-nano": "o200k_base",
        "gpt-4.5": "o200k_base",
        "gpt-4.1": "o200k_base",
        "gpt-4.1-mini": "o200k_base",
        "gpt-4.1-nano": "o200k_base",
        "gpt-4o": "o200k_base",
        "gpt-4o-mini": "o200k_base",
        "chatgpt-4o-latest": "o200k_base",
        "gpt-4": "cl100k_base",
        "gpt-4-turbo": "cl100k_base",
        "gpt-3.5-turbo": "cl100k_base",
        "gpt-3.5": "cl100k_base",
        "gpt-35-turbo": "cl100k_base",
        # base
        "davinci-002": "cl100k_base",
        "babbage-002": "cl100k_base",
        # embeddings
        "text-embedding-3-small": "cl100k_base",
        "text-embedding-3-large": "cl100k_base",
        "text-embedding-ada-002": "cl100k_base",
    }
)

# Prefixes for dated or suffixed model names, checked in order after an exact match failed.
# As in tiktoken's MODEL_PREFIX_TO_ENCODING, each ends with "-" (or is a whole family such as
# "gpt-5"), so "gpt-4o-2024-08-06" can never match the cl100k prefix "gpt-4-".
_MODEL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("o1-", "o200k_base"),
    ("o3-", "o200k_base"),
    ("o4-mini-", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-4.5-", "o200k_base"),
    ("gpt-4.1-", "o200k_base"),
    ("chatgpt-4o-", "o200k_base"),
    ("gpt-4o-", "o200k_base"),
    ("gpt-4-", "cl100k_base"),
    ("gpt-3.5-turbo-", "cl100k_base"),
    ("gpt-35-turbo-", "cl100k_base"),
    ("ft:gpt-4o", "o200k_base"),
    ("ft:gpt-4.1", "o200k_base"),
    ("ft:gpt-4", "cl100k_base"),
    ("ft:gpt-3.5-turbo", "cl100k_base"),
    ("ft:davinci-002", "cl100k_base"),
    ("ft:babbage-002", "cl100k_base"),
)

# Encodings whose BPE file is a plain ``.tiktoken`` file (loaded by ``load_tiktoken_bpe``).
_ENCODINGS: tuple[str, ...] = ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")
# Encodings the ``bpe-openai`` package ships (the ``tiktoken`` extra installs it).
_BUNDLED: frozenset[str] = frozenset({"o200k_base", "cl100k_base"})


# What tiktoken lacks or gets wrong, asked before tiktoken: "gpt-4.5" (tiktoken only knows the
# prefix "gpt-4.5-") and fine-tuned GPT-4.1 ("ft:gpt-4.1..." would match tiktoken's "ft:gpt-4").
_OVERRIDES: Mapping[str, str] = types.MappingProxyType({"gpt-4.5": "o200k_base"})
_OVERRIDE_PREFIXES: tuple[tuple[str, str], ...] = (("ft:gpt-4.1", "o200k_base"),)

# Encodings tiktoken may name that differ from one offered here only in special tokens: ordinary
# text (every chunk is encoded as ordinary text) gets the same tokens from the same BPE file and
# regex. o200k_harmony (gpt-oss-*) is o200k_base plus chat markers; p50k_edit is p50k_base plus FIM
# markers; gpt2 has r50k_base's ranks in another file format.
_SAME_ORDINARY_TEXT: Mapping[str, str] = types.MappingProxyType(
    {"o200k_harmony": "o200k_base", "p50k_edit": "p50k_base", "gpt2": "r50k_base"}
)


def _tiktoken_encoding_name(name: str) -> str | None:
    """tiktoken's own answer (None when tiktoken is not installed or does not know ``name``)."""
    try:
        model_module = importlib.import_module("tiktoken.model")
    except ImportError:
        return None
    lookup = getattr(model_module, "encoding_name_for_model", None)
    if lookup is None:  # pragma: no cover - every tiktoken release has it
        return None
    try:
        encoding = lookup(name)
    except KeyError:
        return None
    return str(encoding)


def _encoding_for_model_name(model: str) -> str | None:
    """The encoding a model counts with: the overrides, then tiktoken, then the table here."""
    name = model.strip()
    if name in _OVERRIDES:
        return _OVERRIDES[name]
    for prefix, encoding in _OVERRIDE_PREFIXES:
        if name.startswith(prefix):
            return encoding
    from_tiktoken = _tiktoken_encoding_name(name)
    if from_tiktoken is not None:
        encoding = _SAME_ORDINARY_TEXT.get(from_tiktoken, from_tiktoken)
        return encoding if encoding in _ENCODINGS else None
    if name in MODEL_ENCODINGS:
        return MODEL_ENCODINGS[name]
    for prefix, encoding in _MODEL_PREFIXES:
        if name.startswith(prefix):
            return encoding
    return None
