"""The small backend protocols a user can implement to bring their own models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["LLM", "Embedder", "Scorer", "TokenCounter"]


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the target LLM does. ``name`` identifies the tokenizer in reports."""

    @property
    def name(self) -> str: ...

    def count(self, text: str) -> int: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised vectors, shape ``(len(texts), dim)``, dtype float32.

    An embedder may also define ``encode_queries(texts)`` for models that embed queries
    differently (e.g. with an instruction prefix); callers fall back to ``encode``.
    """

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


@runtime_checkable
class Scorer(Protocol):
    """Scores each text's relevance to a query; larger is more relevant."""

    def score(self, query: str, texts: Sequence[str]) -> NDArray[np.float64]: ...


@runtime_checkable
class LLM(Protocol):
    """Any callable from a prompt to generated text."""

    def __call__(self, prompt: str) -> str: ...
