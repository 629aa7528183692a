"""Deterministic, model-free stand-ins for embedders, LLMs and token counters."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from .._backends.tokens import WhitespaceCounter
from .._core.errors import BackendError

__all__ = [
    "FailingEmbedder",
    "FakeEmbedder",
    "FakeLLM",
    "FakeScorer",
    "FaultyEmbedder",
    "FaultyScorer",
    "WhitespaceCounter",
    "hotpot_like_sentences",
]

_WORD = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Hashed bag-of-words vectors: texts sharing words are similar. Deterministic, instant.

    ``calls`` counts ``encode`` calls and ``texts_seen`` the texts encoded, for tests of caching.
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 2:
            raise ValueError("dim must be >= 2")
        self.dim = dim
        self.calls = 0
        self.texts_seen = 0

    @property
    def name(self) -> str:
        return f"fake-bow-{self.dim}"

    def _vector(self, text: str) -> NDArray[np.float32]:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0
        if not v.any():
            v[0] = 1.0  # texts without words still get a valid unit vector
        return v / np.linalg.norm(v)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        self.texts_seen += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])


class FailingEmbedder:
    """An embedder whose every call fails, to test error policies."""

    def __init__(self, message: str = "backend down") -> None:
        self.message = message

    @property
    def name(self) -> str:
        return "failing"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        raise BackendError(self.message)


FAULTS = ("raise", "short", "nan", "inf", "shape")
"""The ways :class:`FaultyScorer` and :class:`FaultyEmbedder` misbehave."""


def _check_fault(fault: str) -> str:
    if fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}, got {fault!r}")
    return fault


class FakeScorer:
    """A :class:`~ctxcompress.Scorer`: the number of query words each text contains. Deterministic."""

    name = "fake-overlap"

    def score(self, query: str, texts: Sequence[str]) -> NDArray[np.float64]:
        q = set(_WORD.findall(query.lower()))
        return np.array([float(len(q & set(_WORD.findall(t.lower())))) for t in texts], dtype=np.float64)


class FaultyScorer:
    """A scorer that misbehaves, to test that compressors turn it into ``BackendError``:
    ``"raise"`` (a plain ``RuntimeError``), ``"short"`` (one score too few), ``"nan"`` / ``"inf"``
    (a non-finite score), ``"shape"`` (an ``(n, 1)`` column instead of ``n`` scores)."""

    def __init__(self, fault: str = "raise") -> None:
        self.fault = _check_fault(fault)

    @property
    def name(self) -> str:
        return f"faulty-{self.fault}"

    def score(self, query: str, texts: Sequence[str]) -> NDArray[np.float64]:
        if self.fault == "raise":
            raise RuntimeError("scorer exploded")
        out = FakeScorer().score(query, texts)
        if self.fault == "short":
            return out[:-1]
        if self.fault in ("nan", "inf"):
            out[len(out) // 2] = np.nan if self.fault == "nan" else np.inf
            return out
        return out[:, None]


class FaultyEmbedder(FakeEmbedder):
    """An embedder that misbehaves (see :class:`FaultyScorer` for ``fault``; ``"short"`` returns one
    row too few and ``"shape"`` one dimension more for queries than for texts)."""

    def __init__(self, fault: str = "raise", dim: int = 64) -> None:
        super().__init__(dim)
        self.fault = _check_fault(fault)

    @property
    def name(self) -> str:
        return f"faulty-{self.fault}"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if self.fault == "raise":
            raise RuntimeError("embedder exploded")
        out = super().encode(texts)
        if self.fault == "short":
            return out[:-1]
        if self.fault in ("nan", "inf"):
            out[len(out) // 2, 0] = np.nan if self.fault == "nan" else np.inf
        return out

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = self.encode(texts)
        if self.fault == "shape":
            return np.hstack([out, np.zeros((len(out), 1), dtype=np.float32)])
        return out


class FakeLLM:
    """A callable LLM stand-in.

    With ``responses`` it returns them in turn (cycling); with ``fn`` it returns ``fn(prompt)``;
    otherwise it echoes the first ``echo_words`` words of the prompt's last paragraph.
    ``prompts`` records every prompt it received.
    """

    def __init__(
        self,
        responses: Sequence[str] | None = None,
        *,
        fn: Callable[[str], str] | None = None,
        echo_words: int = 20,
    ) -> None:
        self.responses = list(responses) if responses is not None else None
        self.fn = fn
        self.echo_words = echo_words
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if self.fn is not None:
            return self.fn(prompt)
        if self.responses:
            return self.responses[(len(self.prompts) - 1) % len(self.responses)]
        last = prompt.strip().split("\n\n")[-1]
        return " ".join(last.split()[: self.echo_words])


def hotpot_like_sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` synthetic Wikipedia-style sentences of 8-45 words, like HotpotQA's supporting paragraphs
    (deterministic for a ``seed``): model-free text for tests and throughput benchmarks."""
    rng = random.Random(seed)
    people = ["Scott Derrickson", "Ed Wood", "Adriana Trigiani", "Kiki Smith", "Marie Curie", "Tom Hanks"]
    places = ["Greenwich Village", "Denver", "Shirley Temple's hometown", "the Rhine valley", "Kansas City"]
    works = ["Doctor Strange", "Big Stone Gap", "Sinister", "Plan 9 from Outer Space", "The Exorcism of Emily Rose"]
    jobs = ["director", "screenwriter", "novelist", "chemist", "sculptor", "producer", "diplomat"]
    clauses = [
        "which was released to generally positive reviews from critics",
        "and later moved to {place} where the family ran a small newspaper",
        "after studying at a university whose archives still hold the original letters",
        "although the production faced several delays because of a strike",
        "in a career spanning more than four decades and three continents",
    ]
    out: list[str] = []
    for _ in range(n):
        p, pl, w, j = rng.choice(people), rng.choice(places), rng.choice(works), rng.choice(jobs)
        year = rng.randint(1890, 2020)
        base = rng.choice(
            [
                f"{p} is an American {j} born in {year} in {pl}",
                f"{w} is a {year} film directed by {p}",
                f"In {year}, {p} was appointed {j} of the {pl} historical society",
                f"The {j} {p} wrote {w}",
            ]
        )
        extra = [rng.choice(clauses).format(place=pl) for _ in range(rng.randint(0, 3))]
        out.append(", ".join([base, *extra]) + ".")
    return out
