"""Semantic compression (TCRA-LLM): drop the words whose removal moves the sentence embedding least.

Liu et al., "TCRA-LLM: Token Compression Retrieval Augmented Large Language Model for Inference Cost
Reduction" (Findings of EMNLP 2023), section 3.2: for a unit of text (a sentence) with embedding
``χ₀``, the importance of word ``i`` is ``Lᵢ = d(χ₀, χᵢ)``, where ``χᵢ`` embeds the unit with only
word ``i`` removed; the words in the bottom ``j``-th percentile of importance are removed and the
rest kept in their original order.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.errors import ConfigError
from .._core.protocols import Embedder
from .._core.result import join_text
from .._core.segment import _CJK_CHAR_RE, CODE, TABLE, split_words
from .._core.select import make_units
from .._core.text import _LINE_BREAK_RE, merge_ranges
from .._core.types import Chunk, Span
from .._core.validate import validate_choice, validate_number

__all__ = ["PROTECT_RULES", "SemanticCompressor"]

Granularity = Literal["sentence", "chunk"]
Distance = Literal["euclidean", "cosine"]

PROTECT_RULES = ("numbers", "dates", "entities", "negations", "query")
"""Names of the built-in rules for words that are never dropped (see :class:`SemanticCompressor`)."""

_OPENERS = "\"'“‘«‹([{¿¡「『（【〔〈《"


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NONSPACE_RE = re.compile(r"\S+")
_JOIN_TIGHT = frozenset(".,;:!?)]}…%”’»›」』）】〕〉》、。，；：！？")
_MONTHS_DAYS = _wordset(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
    saturday sunday"""
)
_NUMBER_WORDS = _wordset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand million billion trillion first second third fourth fifth sixth seventh eighth ninth
    tenth half twice dozen percent"""
)
_NEGATIONS = _wordset(
    """not no never none nor neither without cannot can't don't doesn't didn't isn't aren't wasn't
    weren't won't wouldn't shouldn't couldn't hasn't haven't hadn't nobody nothing nowhere"""
)
# Capitalised words that open sentences without being names.
_FUNCTION_WORDS = _wordset(
    """a an the this that these those it its he she his her they their them we our you your i in on
    at by for from of to with and but or if when while after before during although though as there
    here what which who whom whose where why how is was are were be been has have had do does did
    some many most all each every both such other another no not yet so then thus however also"""
)


@dataclass
class _Window:
    """A window of a :class:`~ctxcompress._core.select.Unit` (a sentence, or a whole chunk, cut every
    ``max_unit_words`` words) and the pruning state of its removable words."""

    chunk: int
    start: int
    end: int
    prunable: bool
    words: list[tuple[int, int]] = field(default_factory=list)  # word offsets (chunk coordinates)
    extents: list[tuple[int, int]] = field(default_factory=list)  # word + attached punctuation
    free: list[tuple[int, int]] = field(default_factory=list)  # pieces that are always kept
    protected: list[bool] = field(default_factory=list)
    importance: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    order: list[int] = field(default_factory=list)  # droppable words, least important first


def _joiner(text: str, left: tuple[int, int], right: tuple[int, int]) -> str:
    """What joins the kept pieces ``left`` and ``right`` of ``text`` where the gap between them was
    (partly) dropped.

    Where the gap held whitespace, the pieces were apart in the source and stay apart: one line break
    if the gap held one, else one space. The exception is what touched a dropped word (the unit's
    final punctuation, always kept: ``"."``, ``")."``): it attaches to the piece before (``"the film."``
    without ``"film"`` gives ``"the."``). A gap without whitespace lies inside one whitespace-delimited token:
    nothing after an opening bracket or before closing punctuation, nothing next to CJK, else a space.
    """
    (ls, le), (rs, re_) = left, right
    if ls == le or rs == re_:
        return ""
    a, b = text[le - 1], text[rs]
    if _NONSPACE_RE.fullmatch(text, le, rs) is None:  # the gap held whitespace
        if _LINE_BREAK_RE.search(text, le, rs) is not None:
            return "\n"
        if not text[rs - 1].isspace():  # the unit's final punctuation, its word dropped
            return ""
        return " "
    if b in _JOIN_TIGHT or a in _OPENERS:
        return ""
    if _CJK_CHAR_RE.match(a) or _CJK_CHAR_RE.match(b):
        return ""
    return " "


def render(text: str, pieces: Sequence[tuple[int, int]]) -> tuple[str, list[tuple[int, int, int]]]:
    """Join ``pieces`` of ``text`` (sorted or not): gaps of whitespace only are kept as they are,
    other gaps become :func:`_joiner`. Returns the text and ``(start, end, out_start)`` per merged piece."""
    merged = merge_ranges(text, pieces)
    parts: list[str] = []
    placed: list[tuple[int, int, int]] = []
    pos = 0
    prev = (0, 0)
    for s, e in merged:
        if parts:
            sep = _joiner(text, prev, (s, e))
            parts.append(sep)
            pos += len(sep)
        parts.append(text[s:e])
        placed.append((s, e, pos))
        pos += e - s
        prev = (s, e)
    return "".join(parts), placed


def _tokens(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Whitespace-delimited tokens of ``text[lo:hi]`` (absolute offsets)."""
    return [(m.start(), m.end()) for m in _NONSPACE_RE.finditer(text, lo, hi)]


def _split_gap(text: str, lo: int, hi: int) -> tuple[int, int, list[tuple[int, int]]]:
    """Split the non-word gap ``text[lo:hi]`` between two words.

    Returns ``(left_end, right_start, free)``: ``text[lo:left_end]`` attaches to the word before,
    ``text[right_start:hi]`` to the word after, ``free`` are whitespace-delimited tokens in between.
    Without whitespace, trailing opening brackets and quotes go right and the rest left.
    """
    ws = [i for i in range(lo, hi) if text[i].isspace()]
    if not ws:
        k = hi
        while k > lo and text[k - 1] in _OPENERS:
            k -= 1
        return k, k, []
    return ws[0], ws[-1] + 1, _tokens(text, ws[0], ws[-1] + 1)


def _make_unit(text: str, ci: int, start: int, end: int, prunable: bool) -> _Window:
    unit = _Window(ci, start, end, prunable)
    words = [(w.start + start, w.end + start) for w in split_words(text[start:end])] if prunable else []
    if not words:
        unit.prunable = False
        unit.free = [(start, end)]
        return unit
    unit.words = words
    # leading text (a list marker, an opening quote): what touches the first word attaches to it
    ws = [i for i in range(start, words[0][0]) if text[i].isspace()]
    lefts = [ws[-1] + 1 if ws else start]
    if ws:
        unit.free.extend(_tokens(text, start, ws[-1] + 1))
    rights: list[int] = []
    for (_, e0), (s1, _) in itertools.pairwise(words):
        left_end, right_start, free = _split_gap(text, e0, s1)
        rights.append(left_end)
        lefts.append(right_start)
        unit.free.extend(free)
    # trailing text (terminal punctuation, closing brackets): always kept
    rights.append(words[-1][1])
    unit.free.extend(_tokens(text, words[-1][1], end))
    unit.extents = list(zip(lefts, rights, strict=True))
    return unit


def _entity_like(text: str, words: Sequence[tuple[int, int]], k: int) -> bool:
    """A simple named-entity rule: capitalised and not opening the sentence, two capitals or more,
    or a capitalised opener (not a function word) followed by another capitalised word."""
    s, e = words[k]
    w = text[s:e]
    if not w[0].isupper():
        return False
    if k > 0 or sum(c.isupper() for c in w) >= 2:
        return True
    return w.lower() not in _FUNCTION_WORDS and k + 1 < len(words) and text[words[k + 1][0]].isupper()


def _ranked(importance: NDArray[np.float64], candidates: Sequence[int]) -> list[int]:
    """``candidates`` from the least to the most important (ties: earlier word first)."""
    return sorted(candidates, key=lambda k: (float(importance[k]), k))


class SemanticCompressor(Compressor):
    """Leave-one-out word importance by embedding distance (TCRA-LLM semantic compression).

    For each unit (``granularity="sentence"``, or ``"chunk"`` for the whole chunk) with embedding
    ``χ₀``, each word ``i`` is removed on its own and the unit embedded again (``χᵢ``; one pass, no
    re-embedding after deletions). Its importance is ``Lᵢ = d(χ₀, χᵢ)`` with ``distance``
    ``"euclidean"`` (as in the paper) or ``"cosine"`` (``1 - cos``). With a query and
    ``query_weight > 0`` the importance also counts how much farther from the query embedding the
    unit moves without the word: ``Lᵢ + w · (d(q, χᵢ) - d(q, χ₀))``.

    In each unit the ``round(drop_percentile / 100 · n)`` least important of its ``n`` words are
    dropped (never a protected word); under a token budget the share grows, the same for every unit,
    until the output fits. The rest is kept in its original order: every output chunk is an
    order-preserving subsequence of its source's words, with verbatim spans.

    All the variants of all units of a call are embedded in one batched ``encode`` (repeated texts
    once); wrap the embedder in :class:`~ctxcompress.CachedEmbedder` to reuse vectors across calls.
    The stage's report details give the units, embeddings and units/s.

    **Words.** Words are those of :func:`~ctxcompress.split_words`: in CJK text every character is
    a word (and pieces are joined without spaces). Punctuation touching a word belongs to it and
    goes with it (``"film,"``), opening brackets and quotes attach to the word after; a unit's
    final punctuation (``"."``, ``")."``, ``"。"``) and free-standing symbols (``"–"``, emoji) are
    always kept. A word that shares its whitespace-delimited token with another word (``pop/rock``,
    ``1240–c.``; not in CJK text) is kept too: dropping it alone would leave a fragment. Where text
    was dropped, kept pieces are joined so that no two words that were apart in the source touch:
    one line break where the dropped text held one, else one space; punctuation that touched a
    dropped word attaches to the piece before (``"the."`` from ``"the film."``); within one
    whitespace-delimited token (CJK text) nothing or a space as before. Code blocks and tables are
    kept whole.

    **Protected words** (``protect``): ``"numbers"`` (any digit, number words), ``"dates"``
    (month and weekday names), ``"entities"`` (capitalised words not opening a sentence, words with
    two or more capitals, and a capitalised opener that is followed by another capitalised word or
    appears capitalised inside another sentence of the chunk), ``"negations"`` (not, no, never,
    ...), ``"query"`` (words of the query); plus any word overlapping a match of a regex in
    ``protect_patterns``. Protected words count in ``n`` but are never dropped, so a unit with many
    of them keeps more than ``1 - drop_percentile / 100`` of its words.

    A unit of more than ``max_unit_words`` words is scored in consecutive windows of that many
    words (its variants cost ``O(n²)`` to embed, and an embedder truncates long inputs anyway: words
    past its maximum length, 256 tokens for the default, would not move the embedding at all). With
    ``granularity="chunk"`` a chunk is one unit, so in practice a window of ``max_unit_words``.
    """

    def __init__(
        self,
        *,
        embedder: Embedder | str | None = None,
        drop_percentile: float = 30.0,
        granularity: Granularity = "sentence",
        distance: Distance = "euclidean",
        query_weight: float = 0.0,
        protect: Sequence[str] = ("numbers", "dates", "entities", "negations"),
        protect_patterns: Sequence[str] = (),
        max_unit_words: int = 128,
        on_error: OnError = "raise",
    ) -> None:
        self.drop_percentile = float(
            validate_number("drop_percentile", drop_percentile, low=0, high=100, allow_none=False)
        )
        self.granularity: Granularity = validate_choice("granularity", granularity, ("sentence", "chunk"))
        self.distance: Distance = validate_choice("distance", distance, ("euclidean", "cosine"))
        self.query_weight = float(validate_number("query_weight", query_weight, low=0, allow_none=False))
        self.max_unit_words = validate_number("max_unit_words", max_unit_words, low=2, integer=True, allow_none=False)
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        if isinstance(protect, str):
            raise ConfigError(f"protect must be a list of rule names from {PROTECT_RULES}, not a string")
        self.protect = tuple(validate_choice("protect rule", rule, PROTECT_RULES) for rule in protect)
        if isinstance(protect_patterns, str):
            raise ConfigError("protect_patterns must be a list of regular expressions, not a string")
        for pat in protect_patterns:
            try:
                re.compile(pat)
            except (re.error, TypeError) as exc:
                raise ConfigError(f"invalid regular expression in protect_patterns: {pat!r} ({exc})") from exc
        self.protect_patterns = tuple(protect_patterns)
        if embedder is not None and not isinstance(embedder, str) and not callable(getattr(embedder, "encode", None)):
            raise ConfigError("embedder must be an embedder spec such as 'onnx' or an object with encode(texts)")
        self.embedder = embedder
        self._patterns = [re.compile(p) for p in self.protect_patterns]
        self._embedder_obj: Embedder | None = None

    # ---------------------------------------------------------------- models
    def warm_up(self) -> None:
        self._get_embedder().encode(["warm up"])

    # ---------------------------------------------------------------- units and protection
    def _units(self, chunks: Sequence[Chunk]) -> list[_Window]:
        units: list[_Window] = []
        for span in make_units(chunks, "document" if self.granularity == "chunk" else "sentence"):
            text = chunks[span.chunk].text
            prunable = span.kind not in (CODE, TABLE)
            for lo, hi in self._windows(text, span.start, span.end) if prunable else [(span.start, span.end)]:
                units.append(_make_unit(text, span.chunk, lo, hi, prunable))
        return units

    def _windows(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """``[start, end)`` cut before every ``max_unit_words``-th word (one window when shorter)."""
        words = split_words(text[start:end])
        w = self.max_unit_words
        if len(words) <= w:
            return [(start, end)]
        cuts = [start]
        for k in range(w, len(words), w):
            c = start + words[k].start
            while c > cuts[-1] + 1 and not text[c - 1].isspace():  # never inside a whitespace-delimited token
                c -= 1
            cuts.append(c)
        cuts.append(end)
        out = []
        for a, b in itertools.pairwise(cuts):
            b2 = b
            while b2 > a and text[b2 - 1].isspace():
                b2 -= 1
            out.append((a, b2))
        return out

    def _protect(self, text: str, unit: _Window, query_words: frozenset[str], names: frozenset[str]) -> list[bool]:
        rules = set(self.protect)
        spans = [(m.start(), m.end()) for p in self._patterns for m in p.finditer(text, unit.start, unit.end)]
        out: list[bool] = []
        for k, (s, e) in enumerate(unit.words):
            w = text[s:e]
            low = w.lower()
            keep = (
                ("numbers" in rules and (any(c.isdigit() for c in w) or low in _NUMBER_WORDS))
                or ("dates" in rules and low.rstrip(".") in _MONTHS_DAYS and w[0].isupper())
                or ("negations" in rules and (low in _NEGATIONS or low.endswith("n't")))
                or ("query" in rules and low in query_words)
                or ("entities" in rules and (_entity_like(text, unit.words, k) or (k == 0 and w in names)))
            )
            if not keep and spans:
                keep = any(s < pe and ps < e for ps, pe in spans)
            out.append(keep)
        # a word sharing its whitespace-delimited token with another word: never dropped alone
        for k, ((_, e0), (s1, _)) in enumerate(itertools.pairwise(unit.words)):
            one_token = e0 == s1 or _NONSPACE_RE.fullmatch(text, e0, s1) is not None
            if one_token and not (_CJK_CHAR_RE.match(text[e0 - 1]) or _CJK_CHAR_RE.match(text[s1])):
                out[k] = out[k + 1] = True
        return out

    # ---------------------------------------------------------------- importance
    def _variant(self, text: str, unit: _Window, skip: int) -> str:
        pieces = [x for k, x in enumerate(unit.extents) if k != skip] + unit.free
        return render(text, pieces)[0]

    def _dist(self, a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float64]:
        """Row-wise distance between ``a`` (one vector or rows) and the rows of ``b``."""
        cos = np.clip((b.astype(np.float64) * a.astype(np.float64)).sum(axis=-1), -1.0, 1.0)
        if self.distance == "cosine":
            out: NDArray[np.float64] = 1.0 - cos
            return out
        return np.asarray(np.linalg.norm(b.astype(np.float64) - a.astype(np.float64), axis=-1), dtype=np.float64)

    def _score_words(self, chunks: Sequence[Chunk], units: list[_Window], query: str, ctx: CallContext) -> None:
        """Set ``importance`` of the droppable words of every unit (leave-one-out embedding distance).

        One batched embedding call for the units and all their variants. A subclass may override
        this to score words another way (a baseline such as random deletion does).
        """
        texts: list[str] = []
        index: list[tuple[int, int, list[int]]] = []  # (unit, position of χ₀, droppable words)
        for ui, u in enumerate(units):
            cand = [k for k, p in enumerate(u.protected) if not p]
            if not cand:
                continue
            text = chunks[u.chunk].text
            index.append((ui, len(texts), cand))
            texts.append(text[u.start : u.end])
            texts.extend(self._variant(text, u, k) for k in cand)
        if not texts:
            return
        emb = self._get_embedder()
        t0 = time.perf_counter()
        vecs = ctx.embed(emb, texts)
        qv = ctx.embed(emb, [query], queries=True)[0] if self.query_weight > 0 and query.strip() else None
        secs = time.perf_counter() - t0
        for ui, at, cand in index:
            u = units[ui]
            x0 = vecs[at]
            xi = vecs[at + 1 : at + 1 + len(cand)]
            score = self._dist(x0, xi)
            if qv is not None:
                score = score + self.query_weight * (self._dist(qv, xi) - self._dist(qv, x0[None, :]))
            imp = np.full(len(u.words), np.inf)
            imp[cand] = score
            u.importance = imp
        n_units = len(index)
        ctx.details.update(
            {
                "embeddings": len(texts),
                "embed_seconds": secs,
                "units_per_s": n_units / secs if secs > 0 else None,
                "embeddings_per_s": len(texts) / secs if secs > 0 else None,
            }
        )

    def word_importance(self, text: str, *, query: str = "") -> list[tuple[str, float | None]]:
        """Each word of ``text`` (in order) with its importance; ``None`` for a protected word.

        The same scores :meth:`compress` uses, for inspection: ``text`` is one chunk, split into
        units by ``granularity``.
        """
        from .._backends.tokens import WhitespaceCounter
        from .._core.context import CallContext

        chunk = Chunk(text, id="0")
        ctx = CallContext(counter=WhitespaceCounter(), sources=(chunk,))
        units = self._prepare([chunk], query, ctx)
        out: list[tuple[str, float | None]] = []
        for u in units:
            for k, (s, e) in enumerate(u.words):
                out.append((text[s:e], None if u.protected[k] else float(u.importance[k])))
        return out

    def _prepare(self, chunks: Sequence[Chunk], query: str, ctx: CallContext) -> list[_Window]:
        """Units with protection, importance and drop order set."""
        units = self._units(chunks)
        qwords = frozenset(w.text.lower() for w in split_words(query)) if "query" in self.protect else frozenset()
        seen: dict[int, set[str]] = {}  # capitalised words seen inside sentences, per chunk
        for u in units:
            text = chunks[u.chunk].text
            seen.setdefault(u.chunk, set()).update(text[s:e] for s, e in u.words[1:] if text[s].isupper())
        names = {ci: frozenset(found) for ci, found in seen.items()}
        for u in units:
            u.protected = self._protect(chunks[u.chunk].text, u, qwords, names[u.chunk])
        self._score_words(chunks, units, query, ctx)
        for u in units:
            if u.prunable:
                u.order = _ranked(u.importance, [k for k, p in enumerate(u.protected) if not p])
        return units

    # ---------------------------------------------------------------- selection and output
    def _build(self, chunks: Sequence[Chunk], units: Sequence[_Window], frac: float) -> tuple[list[Chunk], int]:
        pieces: dict[int, list[tuple[int, int]]] = {}
        dropped = 0
        for u in units:
            own = pieces.setdefault(u.chunk, [])
            if not u.prunable:
                own.extend(u.free)
                continue
            k = min(int(frac * len(u.words) + 0.5), len(u.order))
            drop = set(u.order[:k])
            dropped += k
            kept = [x for i, x in enumerate(u.extents) if i not in drop]
            if kept:
                own.extend(kept)
                own.extend(u.free)
        out: list[Chunk] = []
        for ci, ch in enumerate(chunks):
            piece = self._extract(ch, pieces.get(ci, []))
            if piece is not None:
                out.append(piece)
        return out, dropped

    @staticmethod
    def _extract(chunk: Chunk, pieces: Sequence[tuple[int, int]]) -> Chunk | None:
        text, placed = render(chunk.text, pieces)
        if not placed:
            return None
        if placed == [(0, len(chunk.text), 0)]:
            return chunk
        spans: list[Span] = []
        for s, e, o in placed:
            spans.extend(chunk.trace(s, e, out_start=o))
        return chunk.replace(text=text, spans=tuple(spans))

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        base = self.drop_percentile / 100.0
        if base == 0.0 and cap is None:
            return list(chunks)
        units = self._prepare(chunks, query, ctx)
        frac = base
        out, dropped = self._build(chunks, units, frac)
        if cap is not None and ctx.count(join_text(out)) > cap:
            # drop the same larger share in every unit: the smallest that fits (bisection)
            lo, hi = base, 1.0
            best, best_dropped = self._build(chunks, units, hi)
            if ctx.count(join_text(best)) <= cap:
                for _ in range(12):
                    mid = (lo + hi) / 2
                    cand_out, cand_dropped = self._build(chunks, units, mid)
                    if ctx.count(join_text(cand_out)) <= cap:
                        hi, best, best_dropped = mid, cand_out, cand_dropped
                    else:
                        lo = mid
            frac, out, dropped = hi, best, best_dropped
        ctx.details.update(
            {
                "units": len(units),
                "words": sum(len(u.words) for u in units if u.prunable),
                "protected_words": sum(sum(u.protected) for u in units if u.prunable),
                "dropped_words": dropped,
                "drop_fraction": frac,
                "granularity": self.granularity,
            }
        )
        return out
