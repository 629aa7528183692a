"""The one place that picks units of text under a token cap.

A :class:`Unit` is a removable piece of a chunk (a sentence, a word, a small-model token, or the
whole chunk). Compressors make units (:func:`make_units`, :func:`word_ranges`), score them their own
way, then choose with the helpers here: :func:`fill_under_cap` (greedy, best first, each unit taken
while its estimated cost still fits, and, with ``filler_ratio``, none far below a unit that did not
fit), :func:`drop_weakest` (the fewest weakest units dropped until the rendered text fits, since
token counts are not additive), :func:`fit_ranked` (the longest
prefix of a ranking whose rendering fits) and :func:`build_chunks` (the chunks restricted to the
chosen units: verbatim, in source order, with spans).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .result import join_text
from .text import extract, fewest_drops
from .types import Chunk

__all__ = [
    "Unit",
    "build_chunks",
    "drop_weakest",
    "fill_under_cap",
    "fit_ranked",
    "make_units",
    "record_chunk_scores",
    "word_ranges",
]

Granularity = Literal["sentence", "document"]


@dataclass(frozen=True, slots=True)
class Unit:
    """``chunks[chunk].text[start:end] == text``, the ``index``-th unit of its chunk; ``score``: larger keeps first
    (for compressors that carry it on the unit); ``kind``: the :class:`~ctxcompress.Segment` kind of a
    sentence unit (``"sentence"``, ``"code"``, ``"table"``, ...), ``"document"`` for a whole chunk."""

    chunk: int
    start: int
    end: int
    text: str
    index: int = 0
    score: float = 0.0
    kind: str = ""


def make_units(chunks: Sequence[Chunk], granularity: Granularity) -> list[Unit]:
    """Sentence units (from :func:`~ctxcompress.split_sentences`), or one unit per chunk without its
    surrounding whitespace (``"document"``; none for a blank chunk)."""
    from .segment import split_sentences

    units: list[Unit] = []
    for ci, ch in enumerate(chunks):
        if granularity == "document":
            s = len(ch.text) - len(ch.text.lstrip())
            e = len(ch.text.rstrip())
            if e > s:
                units.append(Unit(ci, s, e, ch.text[s:e], 0, kind="document"))
            continue
        for i, seg in enumerate(split_sentences(ch.text)):
            units.append(Unit(ci, seg.start, seg.end, seg.text, i, kind=seg.kind))
    return units


def word_ranges(text: str) -> list[tuple[int, int]]:
    """Whole words with the punctuation that touches them (``"(April"``, ``"1928),"``), never split.

    Words come from :func:`~ctxcompress.split_words`; punctuation standing alone between spaces
    (``"–"``) belongs to no word and is dropped with the words around it. Words of one
    whitespace-delimited token (``"pop/rock"``, ``"1961–1965),"``) are one range, so no fragment of
    a token is kept or dropped alone; in CJK text each character stays its own range.
    """
    from .segment import _CJK_CHAR_RE, split_words

    words = split_words(text)
    out: list[tuple[int, int]] = []
    prev_end = 0
    for i, w in enumerate(words):
        s, e = w.start, w.end
        while s > prev_end and not text[s - 1].isspace():
            s -= 1
        nxt = words[i + 1].start if i + 1 < len(words) else len(text)
        while e < nxt and not text[e].isspace():
            e += 1
        if out and out[-1][1] == s and not (_CJK_CHAR_RE.match(text[s - 1]) or _CJK_CHAR_RE.match(text[s])):
            out[-1] = (out[-1][0], e)  # the same whitespace-delimited token
        else:
            out.append((s, e))
        prev_end = e
    return out


def fill_under_cap(
    order: Iterable[int],
    cost: Callable[[int], int],
    cap: int | None,
    *,
    scores: Sequence[float] | None = None,
    filler_ratio: float = 0.0,
) -> tuple[list[int], int]:
    """Greedy fill: each unit of ``order`` (best first) is taken when ``used + cost(i)`` stays within
    ``cap`` (``None``: no cap). Returns the units taken, in ``order``, and the cost used.

    No filler far below a unit that did not fit: with ``scores`` (indexed by unit, larger is better)
    and ``filler_ratio`` in ``[0, 1]``, once a unit is skipped for lack of room, a later unit is
    taken only when its score above the floor (the lowest of ``scores``) is at least
    ``filler_ratio`` times that of the best unit skipped so far. ``0`` (the default) takes every
    unit that fits; ``1`` takes nothing after the first skip that scores below it. So at a tiny
    budget the room the best sentence did not fit in is not filled with an unrelated one.
    """
    chosen: list[int] = []
    used = 0
    floor: float | None = None
    bar = -math.inf  # the score a filler must reach, raised at each skip
    for i in order:
        c = cost(i)
        if cap is None or used + c <= cap:
            if scores is None or scores[i] >= bar:
                chosen.append(i)
                used += c
        elif scores is not None and filler_ratio > 0:
            if floor is None:
                floor = float(min(scores))
            bar = max(bar, floor + filler_ratio * (float(scores[i]) - floor))
    return chosen, used


def build_chunks(chunks: Sequence[Chunk], units: Sequence[Unit], chosen: Iterable[int]) -> list[Chunk]:
    """The chunks restricted to the chosen units (verbatim, in source order, with spans)."""
    ranges: dict[int, list[tuple[int, int]]] = {}
    for i in chosen:
        u = units[i]
        ranges.setdefault(u.chunk, []).append((u.start, u.end))
    out: list[Chunk] = []
    for ci in sorted(ranges):
        piece = extract(chunks[ci], ranges[ci])
        if piece is not None:
            out.append(piece)
    return out


def record_chunk_scores(
    out: dict[str, float], chunks: Sequence[Chunk], units: Sequence[Unit], scores: Iterable[float]
) -> None:
    """Each chunk's score, its best unit's, into ``out`` (the report's per-chunk scores): for the chunks
    with an id and at least one unit."""
    best: dict[int, float] = {}
    for u, score in zip(units, scores, strict=True):
        s = float(score)
        if u.chunk not in best or s > best[u.chunk]:
            best[u.chunk] = s
    for ci, s in best.items():
        cid = chunks[ci].id
        if cid is not None:
            out[cid] = s


def drop_weakest(
    chunks: Sequence[Chunk],
    units: Sequence[Unit],
    kept: Sequence[int],
    cap: int,
    count: Callable[[str], int],
    *,
    min_keep: int = 0,
) -> list[int]:
    """``kept`` (strongest first) without the fewest weakest units (from its end) whose rendering fits
    ``cap``; at least ``min_keep`` are left even when they do not fit. ``O(log k)`` full counts
    (:func:`~ctxcompress._core.text.fewest_drops`)."""
    n = len(kept)

    def fits(k: int) -> bool:
        return count(join_text(build_chunks(chunks, units, kept[: n - k]))) <= cap

    k = fewest_drops(fits, max(0, n - min_keep))
    return list(kept[: n - k])


def fit_ranked(
    chunks: Sequence[Chunk],
    units: Sequence[Unit],
    order: Sequence[int],
    cap: int,
    count: Callable[[str], int],
) -> tuple[list[Chunk], int]:
    """The longest prefix ``order[:k]`` of units whose rendering fits ``cap`` tokens (binary search on k).

    Token counts are not additive (joins, merges), so each candidate is rendered and counted with the
    call's counter; the result always fits. Returns the chunks and ``k``.
    """

    def build(k: int) -> list[Chunk]:
        return build_chunks(chunks, units, order[:k])

    lo, hi = 0, len(order)
    best: list[Chunk] = []
    while lo < hi:
        mid = (lo + hi + 1) // 2
        out = build(mid)
        if count(join_text(out)) <= cap:
            lo, best = mid, out
        else:
            hi = mid - 1
    while lo > 0 and count(join_text(best)) > cap:  # pragma: no cover - counts are monotone in practice
        lo -= 1
        best = build(lo)
    return best, lo
