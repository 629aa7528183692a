"""The answer-in-context metric shared by the demo, the benchmarks and the eval harness.

- **normalisation** (SQuAD v1.1 ``normalize_answer``): lower case, punctuation removed, the articles
  *a/an/the* removed, whitespace collapsed.
- **answer in context**: some gold answer, normalised, occurs in the normalised context as a whole-token
  sequence (``" " + answer + " "`` in ``" " + context + " "``); an answer that normalises to nothing
  never counts.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

__all__ = ["answer_in_context", "normalize_answer"]

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation: lower case, no punctuation, no articles, single spaces."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def answer_in_context(context: str, answers: Iterable[str]) -> bool:
    """Whether a normalised gold answer occurs, as whole tokens, in the normalised context."""
    norm = f" {normalize_answer(context)} "
    for a in answers:
        na = normalize_answer(a)
        if na and f" {na} " in norm:
            return True
    return False
