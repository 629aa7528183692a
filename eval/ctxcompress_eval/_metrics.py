"""Metrics: answer-in-context recall, supporting-passage recall, verbatim rate, reader EM/F1, latency.

Definitions (also in ``eval/README.md``); normalisation and answer-in-context are the library's
(``ctxcompress._core.answers``), the one definition the demo and the benchmarks use too:

- **normalisation** (SQuAD v1.1 ``normalize_answer``): lower case, punctuation removed, the articles
  *a/an/the* removed, whitespace collapsed.
- **answer in context**: some gold answer, normalised, occurs in the normalised compressed context as a
  whole-token sequence (``" " + answer + " "`` in ``" " + context + " "``). Questions whose answer is a
  label (yes/no, or yes/no/maybe in PubMedQA) are *counted apart*: they get ``None`` here and are
  reported as a count, since their answer is not expected to be a span of the context.
- **supporting passage kept**: a supporting passage counts as kept when at least one of its sentences
  (``ctxcompress.split_sentences``) survives in the compressed context. A sentence survives when its
  *key* — its text with whitespace collapsed and leading/trailing punctuation and spaces stripped —
  occurs in the compressed context with whitespace collapsed. Only sentences whose key has at least
  four words count (so "Yes." cannot match by chance); a passage with no such sentence uses its whole
  text as the key. Supporting-passage recall of a question = kept supporting passages / supporting
  passages in its context; questions with none (unlabelled, or a retrieval that missed the gold
  passage) are left out. ``support_all`` = share of questions whose supporting passages were all kept.
- **verbatim rate**: the share of the output's characters (whitespace collapsed) found verbatim in one
  source passage (whitespace collapsed). The output is split into sentences; a sentence found whole
  counts whole; otherwise its words are matched greedily left to right in maximal runs that occur
  contiguously in one source, and runs of at least four words count (so reordered or merged sentences
  are still verbatim, while text with words deleted inside, as token pruning makes, mostly is not).
  1.0 for purely extractive output.
- **confidence interval**: a percentile bootstrap over questions (:func:`bootstrap_ci`): 2,000
  resamples of the questions with replacement, seeded, the 2.5th and 97.5th percentiles of the
  resampled means. Rows with the same number of questions and the same seed resample the same
  questions, so their intervals are comparable. Fewer than :data:`MIN_QUESTIONS` scored questions
  are flagged in the report: the interval is then wide and a difference of a few questions is noise.
- **reader**: SQuAD exact match and token F1 (max over gold answers), and substring accuracy (some
  normalised gold answer occurs in the normalised prediction, Lost-in-the-Middle's ``best_subspan_em``).
"""

from __future__ import annotations

import math
import string
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from ctxcompress._core.answers import answer_in_context, normalize_answer

from ._data import Passage

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "MIN_QUESTIONS",
    "answer_in_context",
    "bootstrap_ci",
    "exact_match",
    "f1_score",
    "normalize_answer",
    "percentile",
    "substring_match",
    "supporting_kept",
    "verbatim_rate",
]

_STRIP = string.punctuation + " \t\n\r\u00a0"
MIN_KEY_WORDS = 4
BOOTSTRAP_RESAMPLES = 2000
MIN_QUESTIONS = 50


def _ws(text: str) -> str:
    return " ".join(text.split())


def _sentence_keys(text: str) -> list[str]:
    from ctxcompress import split_sentences

    keys = [_ws(seg.text).strip(_STRIP) for seg in split_sentences(text)]
    good = [k for k in keys if len(k.split()) >= MIN_KEY_WORDS]
    if good:
        return good
    whole = _ws(text).strip(_STRIP)
    return [whole] if whole else []


def supporting_kept(output: str, contexts: Sequence[Passage]) -> tuple[int, int]:
    """``(kept, total)`` supporting passages of ``contexts`` that survive in ``output`` (see module doc)."""
    hay = _ws(output)
    total = kept = 0
    for p in contexts:
        if not p.is_supporting:
            continue
        total += 1
        if any(k in hay for k in _sentence_keys(p.text)):
            kept += 1
    return kept, total


def verbatim_rate(output: str, sources: Sequence[str]) -> tuple[int, int]:
    """``(verbatim_chars, total_chars)`` of ``output`` (see module doc); ``(0, 0)`` for empty output."""
    from ctxcompress import split_sentences

    srcs = [_ws(s) for s in sources]
    verbatim = total = 0
    for seg in split_sentences(output):
        piece = _ws(seg.text)
        total += len(piece)
        if any(piece in s for s in srcs):
            verbatim += len(piece)
        else:
            verbatim += _verbatim_runs(piece.split(" "), srcs)
    return verbatim, total


def _verbatim_runs(words: list[str], srcs: Sequence[str]) -> int:
    """Characters in maximal runs of >= MIN_KEY_WORDS words found contiguously in one source (greedy)."""
    found = 0
    i, n = 0, len(words)
    while i < n:
        j = i + 1
        while j <= n and any(" ".join(words[i:j]) in s for s in srcs):
            j += 1
        run = j - 1 - i  # words[i : j - 1] is the longest run starting at i
        if run >= MIN_KEY_WORDS:
            found += len(" ".join(words[i : j - 1]))
            i = j - 1
        else:
            i += 1
    return found


def exact_match(prediction: str, answers: Iterable[str]) -> bool:
    p = normalize_answer(prediction)
    return any(p == normalize_answer(a) for a in answers)


def _f1(prediction: str, answer: str) -> float:
    pt = normalize_answer(prediction).split()
    at = normalize_answer(answer).split()
    if not pt or not at:
        return float(pt == at)
    common = Counter(pt) & Counter(at)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pt), same / len(at)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, answers: Iterable[str]) -> float:
    """SQuAD token F1, the best over the gold answers."""
    return max((_f1(prediction, a) for a in answers), default=0.0)


def substring_match(prediction: str, answers: Iterable[str]) -> bool:
    """Some normalised gold answer is a substring of the normalised prediction."""
    p = normalize_answer(prediction)
    return any(normalize_answer(a) and normalize_answer(a) in p for a in answers)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default); ``None`` if empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def bootstrap_ci(
    values: Iterable[float | None], *, resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of ``values`` (``None`` entries left out).

    ``resamples`` resamples of the values with replacement from ``numpy.random.default_rng(seed)``;
    returns ``(low, high)``, or ``None`` when there is no value.
    """
    xs = np.asarray([float(v) for v in values if v is not None], dtype=np.float64)
    if xs.size == 0:
        return None
    if not 0.0 < level < 1.0 or resamples < 1:
        raise ValueError("level must be in (0, 1) and resamples >= 1")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    step = max(1, 4_000_000 // xs.size)  # bound the index matrix to ~32 MB
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        means[start:stop] = xs[rng.integers(0, xs.size, size=(stop - start, xs.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)
