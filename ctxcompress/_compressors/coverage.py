"""Selection that covers the question instead of repeating the best sentence (issue 14 §2).

:func:`coverage_select` is a budgeted greedy selection in the spirit of maximal marginal relevance
(Carbonell & Goldstein 1998) and of monotone submodular coverage objectives for extractive
summarisation (Lin & Bilmes 2011): each step takes the unit that still fits the cap and maximises its
relevance score, plus ``coverage`` times the weight of the *concepts* (query content words, bridge
names) it is the first to cover, minus ``redundancy`` times its largest cosine to a unit already
taken. :func:`pronoun_neighbours` adds, for a kept sentence that opens by pointing back ("He", "It",
"The film", ...), the sentence before it in the same chunk when it fits (context-aware extraction as
in EXIT, Hwang et al. 2024). :func:`concepts_of` builds the concepts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .._core.select import Unit
from .bridging import entities

__all__ = ["concepts_of", "coverage_select", "pronoun_neighbours"]

_WORD = re.compile(r"\w+")
_QUERY_STOP_WORDS = (
    "the a an of in on at to for from by with and or is was were are be been what which who whom whose when "
    "where why how did does do that this these those as its it his her their they he she name named"
)
_QUERY_STOP = frozenset(_QUERY_STOP_WORDS.split())
_POINTS_BACK = re.compile(
    r"^(?:He|She|It|They|His|Her|Its|Their|This|These|Those|The (?:film|band|album|song|company|city|town|"
    r"team|club|game|show|series|book|novel|group|station|school|university|river|building|magazine|"
    r"newspaper|airport|village|county|party|church|play|character|player|singer|actor))\b"
)


def concepts_of(
    query: str, unit_texts: Sequence[str], evidence: Sequence[int]
) -> tuple[list[frozenset[int]], list[float]]:
    """The concepts each unit covers and each concept's weight.

    Concepts: the query's content words (whole words, lower-cased, three letters or more, no function
    words) and the names (:func:`~ctxcompress._compressors.bridging.entities`) of the ``evidence``
    units that the query does not name. A concept's weight is ``1/sqrt(units covering it)``: a word
    that every unit holds covers nothing in particular.
    """
    qlow = query.lower()
    words = sorted({t for t in _WORD.findall(qlow) if t not in _QUERY_STOP and len(t) > 2})
    names = sorted({e.lower() for i in evidence for e in entities(unit_texts[i]) if e.lower() not in qlow})
    low = [t.lower() for t in unit_texts]
    covers: list[frozenset[int]] = []
    for text in low:
        toks = set(_WORD.findall(text))
        hit = [k for k, w in enumerate(words) if w in toks]
        hit += [len(words) + k for k, n in enumerate(names) if n in text]
        covers.append(frozenset(hit))
    df = [0] * (len(words) + len(names))
    for cv in covers:
        for k in cv:
            df[k] += 1
    return covers, [1.0 / math.sqrt(max(1, d)) for d in df]


def coverage_select(
    scores: NDArray[np.float64],
    cost: Sequence[int],
    cap: int | None,
    *,
    covers: Sequence[frozenset[int]],
    concept_weights: Sequence[float],
    vectors: NDArray[np.float64] | None = None,
    coverage: float = 0.0,
    redundancy: float = 0.0,
) -> list[int]:
    """Units chosen greedily under ``cap`` (``None``: no cap), in the order taken.

    Each step takes, among the units whose cost still fits, the one maximising ``scores[i] + coverage *
    (sum of concept_weights of covers[i] not yet covered) - redundancy * (max cosine of vectors[i] to
    the units taken)``; ties go to the earlier unit. With ``coverage = redundancy = 0`` it is the
    plain best-first fill. ``vectors`` are unit-normalised rows (needed only when ``redundancy > 0``).
    """
    n = len(scores)
    left = list(range(n))
    taken: list[int] = []
    covered: set[int] = set()
    used = 0
    maxsim = np.zeros(n)
    use_sim = vectors is not None and redundancy > 0
    while left:
        best, best_value = -1, -math.inf
        for i in left:
            if cap is not None and used + cost[i] > cap:
                continue
            value = float(scores[i]) - redundancy * float(maxsim[i])
            if coverage:
                value += coverage * sum(concept_weights[c] for c in covers[i] if c not in covered)
            if value > best_value:
                best, best_value = i, value
        if best < 0:
            break
        left.remove(best)
        taken.append(best)
        used += cost[best]
        covered |= covers[best]
        if use_sim:
            assert vectors is not None
            maxsim = np.maximum(maxsim, vectors @ vectors[best])
    return taken


def pronoun_neighbours(
    units: Sequence[Unit], chosen: set[int], order: Sequence[int], cost: Sequence[int], used: int, cap: int | None
) -> set[int]:
    """``chosen`` plus, for each chosen sentence (best first, ``order``) that opens by pointing back
    (``He``, ``It``, ``The film``, ...), the sentence before it in its chunk, when it fits the cap."""
    result = set(chosen)
    for i in [j for j in order if j in chosen]:
        j = i - 1
        points_back = units[i].index > 0 and j not in result and _POINTS_BACK.match(units[i].text) is not None
        if points_back and (cap is None or used + cost[j] <= cap):
            result.add(j)
            used += cost[j]
    return result
