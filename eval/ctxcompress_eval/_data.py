"""Questions and passages: what every method compresses.

Every loader (``_datasets``) returns :class:`Question` objects: a question, its gold answers and the
passages a compressor sees (``contexts``), each passage with a title and, where the data set labels it,
whether it supports the answer. The context that every method compresses is :func:`render` of the
passages: passage texts joined by a blank line, titles *not* included (titles are metadata that methods
may use; ``_protocol`` has the titles settings).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SEPARATOR", "YES_NO", "Passage", "Question", "render", "stable_seed"]

SEPARATOR = "\n\n"
YES_NO = frozenset({"yes", "no"})


@dataclass(frozen=True)
class Passage:
    """One retrieved passage. ``is_supporting`` is ``None`` where the data set has no label."""

    id: str
    title: str
    text: str
    is_supporting: bool | None = None


@dataclass(frozen=True)
class Question:
    """A question, its acceptable answers and the passages to compress.

    ``label_answer`` marks answers that are labels rather than spans (yes/no/maybe): such questions are
    counted apart from answer-in-context recall (their answer is not expected to be in the text).
    """

    id: str
    question: str
    answers: tuple[str, ...]
    contexts: tuple[Passage, ...]
    label_answer: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def yes_no(self) -> bool:
        """True for questions whose answer is a label (yes/no/maybe), not a span of the context."""
        return self.label_answer or (bool(self.answers) and all(a.strip().lower() in YES_NO for a in self.answers))

    @property
    def n_supporting(self) -> int:
        return sum(1 for p in self.contexts if p.is_supporting)


def render(passages: Sequence[Passage]) -> str:
    """The prompt-ready context of the passages: their texts joined by a blank line (no titles)."""
    return SEPARATOR.join(p.text for p in passages)


def stable_seed(*parts: object) -> int:
    """A fixed 64-bit hash of ``parts`` (independent of Python's hash seed)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "little")
