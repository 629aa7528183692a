"""OpenAI model names and the tiktoken encoding each uses (mirrors ``tiktoken.model``)."""

from __future__ import annotations

import types
from collections.abc import Mapping

__all__ = ["MODEL_ENCODINGS"]

#: Exact model names and the tiktoken encoding each uses (mirrors ``tiktoken.model``).
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


def _encoding_for_model_name(model: str) -> str | None:
    name = model.strip()
    if name in MODEL_ENCODINGS:
        return MODEL_ENCODINGS[name]
    for prefix, encoding in _MODEL_PREFIXES:
        if name.startswith(prefix):
            return encoding
    return None
