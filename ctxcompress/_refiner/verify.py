"""Verification of parsed Refiner quotes against their sources (:func:`verify_quotes`).

Every parsed quote is mapped back to exact offsets of its source, so that nothing an LLM invents
(or was told to write by an instruction injected into a document) reaches the output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._core.segment import split_sentences
from .._core.types import Chunk
from .parser import RefinerQuote, title_keys
from .prompt import source_title

__all__ = ["Verification", "VerifiedQuote", "verify_quotes"]


@dataclass(frozen=True, slots=True)
class VerifiedQuote:
    """A parsed quote mapped to ``sources[source]`` at ``ranges`` (start, end offsets), renumbered ``section``."""

    quote: RefinerQuote
    source: int
    ranges: tuple[tuple[int, int], ...]
    status: Literal["verbatim", "repaired"]
    section: str


@dataclass(frozen=True)
class Verification:
    """The result of :func:`verify_quotes`: kept quotes (renumbered) and what happened to each parsed quote.

    ``verbatim``: quotes found exactly in their source (an LLM's ``...`` between exact pieces
    included); ``repaired``: quotes kept after a whitespace/punctuation/case-insensitive match or with
    unverifiable pieces left out; ``dropped``: quotes with nothing verifiable (``reasons`` counts
    why: ``"unknown title"``, ``"not in source"``, ``"too short"``); ``duplicates``: verified quotes
    removed because another kept quote contains them.
    """

    quotes: tuple[VerifiedQuote, ...]
    verbatim: int = 0
    repaired: int = 0
    dropped: int = 0
    duplicates: int = 0
    reasons: Mapping[str, int] = field(default_factory=dict)
    dropped_quotes: tuple[tuple[RefinerQuote, str], ...] = ()

    def counts(self) -> dict[str, int]:
        return {
            "verbatim": self.verbatim,
            "repaired": self.repaired,
            "dropped": self.dropped,
            "duplicates": self.duplicates,
        }


_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\.\.\.+|…)\s*")
_SPLIT = re.compile(r"\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\.\.\.+|…|\n)\s*")


def _alnum_count(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def _norm_index(text: str) -> tuple[str, list[int]]:
    """``text`` reduced to its lower-cased letters and digits, with each kept character's offset."""
    chars: list[str] = []
    pos: list[int] = []
    for i, ch in enumerate(text):
        if ch.isalnum():
            low = ch.lower()
            chars.append(low if len(low) == 1 else ch)
            pos.append(i)
    return "".join(chars), pos


def _boundary(text: str, s: int, e: int) -> bool:
    return (s == 0 or not text[s - 1].isalnum() or not text[s].isalnum()) and (
        e >= len(text) or not text[e].isalnum() or not text[e - 1].isalnum()
    )


class _Source:
    __slots__ = ("_norm", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._norm: tuple[str, list[int]] | None = None

    @property
    def norm(self) -> tuple[str, list[int]]:
        if self._norm is None:
            self._norm = _norm_index(self.text)
        return self._norm

    def exact(self, piece: str) -> tuple[int, int] | None:
        first: tuple[int, int] | None = None
        i = self.text.find(piece)
        while i >= 0:
            span = (i, i + len(piece))
            if _boundary(self.text, *span):
                return span
            first = first or span
            i = self.text.find(piece, i + 1)
        return first

    def fuzzy(self, piece: str, min_chars: int) -> tuple[int, int] | None:
        nq, _ = _norm_index(piece)
        if len(nq) < min_chars:
            return None
        ns, pos = self.norm
        i = ns.find(nq)
        while i >= 0:
            s, e = pos[i], pos[i + len(nq) - 1] + 1
            if _boundary(self.text, s, e):
                return self._widen(piece.strip(), s, e)
            i = ns.find(nq, i + 1)
        return None

    def _widen(self, piece: str, s: int, e: int) -> tuple[int, int]:
        """Take in the punctuation the quote has at its ends (an opening quote mark, a full stop)."""
        p = piece.strip()
        lead = next((k for k, ch in enumerate(p) if ch.isalnum() or ch.isspace()), len(p))
        tail = next((k for k, ch in enumerate(reversed(p)) if ch.isalnum() or ch.isspace()), len(p))
        text = self.text
        for _ in range(tail):
            if e < len(text) and not text[e].isalnum() and not text[e].isspace():
                e += 1
        for _ in range(lead):
            if s > 0 and not text[s - 1].isalnum() and not text[s - 1].isspace():
                s -= 1
        return s, e


def _locate(
    piece: str, candidates: Sequence[int], srcs: Sequence[_Source], min_chars: int
) -> tuple[int, tuple[int, int], bool] | None:
    """Where ``piece`` is in one of the candidate sources: (source, span, exact?)."""
    p = piece.strip()
    if _alnum_count(p) < min_chars:
        return None
    for ci in candidates:
        span = srcs[ci].exact(p)
        if span is not None:
            return ci, span, True
    for ci in candidates:
        span = srcs[ci].fuzzy(p, min_chars)
        if span is not None:
            return ci, span, False
    return None


def verify_quotes(
    quotes: Sequence[RefinerQuote],
    sources: Sequence[Chunk],
    *,
    title_key: str = "title",
    min_quote_chars: int = 3,
    min_piece_words: int = 3,
    min_untitled_words: int = 5,
) -> Verification:
    """Map each quote to exact offsets in the source its title names, then dedupe and renumber.

    For each quote: the sources whose title (see :func:`source_title`; compared case- and
    space-insensitively, a trailing parenthesis optional) matches the quote's title are searched for
    the quote, first exactly, then ignoring whitespace, punctuation and case (the span is then the
    closest source text: *repaired*), then piece by piece (split at ``...`` and line breaks, and a
    piece that fails sentence by sentence: what verifies is kept). A quote with an empty title is
    searched in every source. A quote whose title names no source, or with nothing verifiable, is
    dropped. A quote (or piece) needs ``min_quote_chars`` letters or digits; a piece verified on its own
    needs ``min_piece_words`` words (``min_untitled_words`` for a quote without a title, which is
    searched in every source). A kept quote contained in another kept quote of the same source is a duplicate and
    removed. Sections are renumbered contiguously: ``1.1, 1.2, 2.1, ...`` in the order of the
    original section numbers (a quote without a number joins the section before it).
    """
    srcs = [_Source(c.text) for c in sources]
    by_title: dict[str, list[int]] = {}
    by_short: dict[str, list[int]] = {}
    for i, c in enumerate(sources):
        full, short = title_keys(source_title(c, title_key))
        by_title.setdefault(full, []).append(i)
        by_short.setdefault(short, []).append(i)
    kept: list[tuple[RefinerQuote, int, list[tuple[int, int]], bool, int]] = []
    verbatim = repaired = dropped = 0
    reasons: dict[str, int] = {}
    dropped_quotes: list[tuple[RefinerQuote, str]] = []

    def drop(q: RefinerQuote, why: str) -> None:
        nonlocal dropped
        dropped += 1
        reasons[why] = reasons.get(why, 0) + 1
        dropped_quotes.append((q, why))

    # a quote without a section number joins the section before it (in the LLM's own order)
    effective: list[float] = []
    last = 0.0
    for q in quotes:
        last = float(q.section) if q.section is not None else last
        effective.append(last)
    for order, q in enumerate(quotes):
        full, short = title_keys(q.title)
        if not q.title.strip():  # no title (an unformatted answer): any source may hold it
            candidates = list(range(len(sources)))
        else:
            candidates = by_title.get(full) or by_short.get(full) or by_short.get(short) or []
        if not candidates:
            drop(q, "unknown title")
            continue
        if _alnum_count(q.text) < min_quote_chars:
            drop(q, "too short")
            continue
        hit = _locate(q.text, candidates, srcs, min_quote_chars)
        if hit is not None:
            ci, span, exact = hit
            kept.append((q, ci, [span], exact, order))
            verbatim += exact
            repaired += not exact
            continue
        # pieces of a split quote need a few words: a lone name or fragment found somewhere is noise
        min_words = min_piece_words if q.title.strip() else min_untitled_words
        pieces = [p for p in _SPLIT.split(q.text) if len(p.split()) >= min_words]
        found: dict[int, list[tuple[int, int]]] = {}
        all_exact = True
        failed = False
        for p in pieces:
            h = _locate(p, candidates, srcs, min_quote_chars)
            if h is not None:
                found.setdefault(h[0], []).append(h[1])
                all_exact = all_exact and h[2]
                continue
            failed = True
            # last resort: the piece's sentences one by one (one altered sentence spoils only itself)
            sentences = split_sentences(p)
            for seg in sentences if len(sentences) > 1 else ():
                if len(seg.text.split()) < min_words:
                    continue
                hs = _locate(seg.text, candidates, srcs, min_quote_chars)
                if hs is not None:
                    found.setdefault(hs[0], []).append(hs[1])
        if not found:
            drop(q, "not in source")
            continue
        # only ellipses between exact pieces (no line dropped): the LLM marked its own omissions
        exact_q = all_exact and not failed and "\n" not in q.text.strip()
        verbatim += exact_q
        repaired += not exact_q
        for ci, spans in found.items():
            kept.append((q, ci, spans, exact_q, order))
    # dedupe: a quote inside another quote of the same source goes
    norm_ranges = [_merge(spans) for _, _, spans, _, _ in kept]
    alive = [True] * len(kept)
    duplicates = 0
    for a in range(len(kept)):
        for b in range(len(kept)):
            if a == b or not alive[a] or not alive[b] or kept[a][1] != kept[b][1]:
                continue
            if _inside(norm_ranges[a], norm_ranges[b]) and (norm_ranges[a] != norm_ranges[b] or b < a):
                alive[a] = False
                duplicates += 1
                break
    survivors = [(kept[i], norm_ranges[i]) for i in range(len(kept)) if alive[i]]
    # renumber contiguously in the order of the original section numbers
    majors = [effective[item[4]] for item, _r in survivors]
    order_idx = sorted(
        range(len(survivors)),
        key=lambda i: (
            majors[i],
            survivors[i][0][0].subsection if survivors[i][0][0].subsection is not None else 10**9,
            survivors[i][0][4],
        ),
    )
    out: list[VerifiedQuote] = []
    section = 0
    sub = 0
    prev: float | None = None
    for i in order_idx:
        (q, ci, _spans, exact, _o), ranges = survivors[i]
        if prev is None or majors[i] != prev:
            section += 1
            sub = 0
            prev = majors[i]
        sub += 1
        out.append(VerifiedQuote(q, ci, tuple(ranges), "verbatim" if exact else "repaired", f"{section}.{sub}"))
    return Verification(
        quotes=tuple(out),
        verbatim=verbatim,
        repaired=repaired,
        dropped=dropped,
        duplicates=duplicates,
        reasons=reasons,
        dropped_quotes=tuple(dropped_quotes),
    )


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _inside(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> bool:
    return all(any(bs <= s and e <= be for bs, be in b) for s, e in a)
