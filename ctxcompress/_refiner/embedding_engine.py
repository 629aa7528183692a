"""The model-free / embedding engine of :class:`~ctxcompress.ExtractRestructure`.

1. **Score** every sentence against the question with the foundation's hybrid scorer
   (:meth:`RelevanceFilter.score_units <ctxcompress.RelevanceFilter.score_units>`: embedding cosine,
   BM25, multi-hop bridging) or any :class:`~ctxcompress.Scorer` (e.g. the ONNX cross-encoder).
2. **Pick** the relevant ones adaptively: a sentence is relevant when its score lies at least
   ``min_relevance`` of the way from the median score to the best one (at most ``max_sentences``;
   none below an absolute ``threshold`` when one is set).
   A picked sentence that names the title entity of a source with no pick pulls in that source's
   best sentence (the second hop of a bridge question).
3. **Complete the context**: a quote starting with a pronoun or connective (``He``, ``It``,
   ``However``, ``The latter``, ...) or in lower case takes the sentence before it (up to two);
   the title's entity is supplied by the ``## title`` header, and for a chunk without a title by its
   lead sentence.
4. **Merge** adjacent picks of a source into one contiguous quote (a gap of one sentence is filled
   when that costs no more than the header it saves).
5. **Group** quotes into sections by interconnectedness: quotes of one source, quotes where one
   names the title entity of the other's source (a bridge), quotes sharing a multi-word named
   entity, and quotes whose embeddings are at least ``link_threshold`` similar share a section.
   Sections are ordered by their best quote; inside a section a breadth-first walk along the links
   starts at the best quote that no other quote leads to, so a bridge comes before the quote it
   leads to (the reading order of a multi-hop question); quotes of one source stay together.

Selection is budget-aware: each pick costs its tokens plus, for a new quote, the tokens of its
``1.1. ## title`` header; the class then checks the rendered text exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .._compressors.bridging import mentions, multiword_names, norm_title
from .._core.select import Unit
from .._core.types import Chunk

__all__ = ["QuoteItem", "group_quotes", "pick_units"]

_CONNECTIVE = re.compile(
    r"^[\"'“‘(]*(?:he|she|it|they|his|her|its|their|theirs|them|him|this|that|these|those|such|"
    r"the latter|the former|the same|both|either|neither|however|but|and|or|also|moreover|furthermore|"
    r"in addition|additionally|thus|therefore|hence|meanwhile|afterwards|after that|then|still|"
    r"nevertheless|nonetheless|instead|similarly|likewise|as a result|consequently|otherwise|"
    r"there|here|later|subsequently|despite this|in contrast|by contrast|accordingly)\b",
    re.IGNORECASE,
)
_PERSONAL = re.compile(r"^[\"'“‘(]*(?:he|she|it|they|his|her|its|their)\b", re.IGNORECASE)


def needs_context(text: str) -> bool:
    """True when a sentence leans on the one before it (a pronoun, a connective, a lower-case start)."""
    s = text.lstrip("\"'“‘( ")
    if not s:
        return False
    return bool(_CONNECTIVE.match(s)) or s[0].islower()


@dataclass
class QuoteItem:
    """A quote to output: ``ranges`` of ``chunks[chunk]``, its section label and its priority (score)."""

    chunk: int
    ranges: list[tuple[int, int]]
    section: str
    score: float
    group: int = 0


def _rel_scores(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    best = float(scores.max())
    ref = float(np.median(scores))
    if best - ref <= 1e-12:
        return np.ones_like(scores)
    rel: NDArray[np.float64] = (scores - ref) / (best - ref)
    return rel


def pick_units(
    chunks: Sequence[Chunk],
    units: Sequence[Unit],
    scores: NDArray[np.float64],
    *,
    titles: Sequence[str],
    has_title: Sequence[bool],
    limit: int,
    count: Callable[[str], int],
    min_relevance: float,
    max_sentences: int | None,
    threshold: float | None,
    complete_context: bool,
    follow_bridges: bool,
) -> tuple[set[int], dict[str, int]]:
    """The sentences to quote, within ``limit`` tokens of rendered output (headers included)."""
    n = len(units)
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    rel = _rel_scores(scores)
    floor = [i for i in order if threshold is None or scores[i] >= threshold]
    eligible = [i for i in floor if rel[i] >= min_relevance]
    if max_sentences is not None:
        eligible = eligible[:max_sentences]
    if not eligible:
        eligible = floor[:1]
    # bridges: a picked sentence that names another source's title pulls in that source's best sentence
    candidates: list[int] = []
    bridged = 0
    picked_chunks = {units[i].chunk for i in eligible}
    best_of: dict[int, int] = {}
    for i in order:
        best_of.setdefault(units[i].chunk, i)
    norm_titles = [norm_title(t) if h else "" for t, h in zip(titles, has_title, strict=True)]
    for i in eligible:
        candidates.append(i)
        if not follow_bridges:
            continue
        low = units[i].text.lower()
        for ci, t in enumerate(norm_titles):
            if ci not in picked_chunks and ci in best_of and mentions(low, t, min_len=4, whole_words=True):
                picked_chunks.add(ci)
                candidates.append(best_of[ci])
                bridged += 1
    costs: dict[int, int] = {}
    headers: dict[int, int] = {}

    def cost(i: int) -> int:  # tokens of a sentence and its separator, counted on demand
        if i not in costs:
            costs[i] = count(units[i].text) + 2
        return costs[i]

    def header(ci: int) -> int:  # tokens of a "1.1. ## title" line
        if ci not in headers:
            headers[ci] = count(f"1.1. ## {titles[ci]}") + 2
        return headers[ci]

    chosen: set[int] = set()
    used = 0
    context_added = 0

    def same_chunk(a: int, b: int) -> bool:
        return 0 <= a < n and 0 <= b < n and units[a].chunk == units[b].chunk

    def runs_delta(group: Sequence[int]) -> int:
        """How many quotes (runs of adjacent sentences) adding ``group`` creates (may be negative)."""
        ci = units[group[0]].chunk
        before = {j for j in chosen if units[j].chunk == ci}
        after = before | set(group)
        return _runs(after) - _runs(before)

    def context_for(i: int) -> list[int]:
        out: list[int] = []
        j = i
        for _ in range(2):
            if not needs_context(units[j].text) or not same_chunk(j - 1, j):
                break
            j -= 1
            out.append(j)
        if not has_title[units[i].chunk] and _PERSONAL.match(units[j].text.lstrip()):
            lead = j - units[j].index
            if lead != j and same_chunk(lead, j):
                out.append(lead)
        return out

    for i in candidates:
        if i in chosen:
            continue
        extra = [j for j in context_for(i) if j not in chosen] if complete_context else []
        for group in ([i, *extra], [i]) if extra else ([i],):
            delta = sum(cost(j) for j in group) + runs_delta(group) * header(units[i].chunk)
            if used + delta <= limit:
                chosen.update(group)
                used += delta
                context_added += len(group) - 1
                break
    # fill one-sentence gaps inside a source when that costs no more than the header it saves
    for g in range(1, n - 1):
        if g in chosen or not (same_chunk(g - 1, g) and same_chunk(g, g + 1)):
            continue
        if g - 1 in chosen and g + 1 in chosen:
            delta = cost(g) - header(units[g].chunk)
            if delta <= 0 and used + delta <= limit:
                chosen.add(g)
                used += delta
                context_added += 1
    stats = {"picked": len(eligible), "bridged": bridged, "context_added": context_added}
    return chosen, stats


def _runs(indices: set[int]) -> int:
    return sum(1 for j in indices if j - 1 not in indices)


def runs_of(chosen: set[int], units: Sequence[Unit]) -> list[list[int]]:
    """Chosen unit indices as runs of adjacent sentences of one chunk, in text order."""
    out: list[list[int]] = []
    for i in sorted(chosen):
        if out and out[-1][-1] == i - 1 and units[i - 1].chunk == units[i].chunk:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def group_quotes(
    texts: Sequence[str],
    chunk_of: Sequence[int],
    scores: Sequence[float],
    starts: Sequence[int],
    *,
    titles: Sequence[str],
    has_title: Sequence[bool],
    similarity: NDArray[np.float32] | None,
    link_threshold: float,
) -> list[list[int]]:
    """Sections (lists of quote indices, in reading order) by interconnectedness; see the module doc."""
    n = len(texts)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    adj: list[set[int]] = [set() for _ in range(n)]
    named: set[int] = set()  # quotes whose source another quote names (the far end of a bridge)

    def link(a: int, b: int) -> None:
        adj[a].add(b)
        adj[b].add(a)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    lows = [t.lower() for t in texts]
    ents = [multiword_names(t) for t in texts]
    norm = [norm_title(t) if h else "" for t, h in zip(titles, has_title, strict=True)]
    for a in range(n):
        for b in range(a + 1, n):
            ca, cb = chunk_of[a], chunk_of[b]
            connected = ca == cb
            if not connected:
                ta, tb = norm[ca], norm[cb]
                a_names_b = mentions(lows[a], tb, min_len=4, whole_words=True)
                b_names_a = mentions(lows[b], ta, min_len=4, whole_words=True)
                if a_names_b != b_names_a:
                    named.add(b if a_names_b else a)
                connected = a_names_b or b_names_a
            if not connected:
                connected = bool(ents[a] & ents[b])
            if not connected and similarity is not None:
                connected = float(similarity[a, b]) >= link_threshold
            if connected:
                link(a, b)
    comps: dict[int, list[int]] = {}
    for i in range(n):
        comps.setdefault(find(i), []).append(i)
    sections: list[list[int]] = []
    for members in sorted(comps.values(), key=lambda m: (-max(scores[i] for i in m), min(m))):
        # start where a reader would: at the best quote that no other quote leads to
        roots = [i for i in members if i not in named] or members
        start = max(roots, key=lambda i: (scores[i], -i))
        seen = [start]
        frontier = [start]
        while frontier:
            nxt: list[int] = []
            for q in frontier:
                for r in sorted(adj[q] - set(seen), key=lambda i: (-scores[i], i)):
                    if r not in seen:
                        seen.append(r)
                        nxt.append(r)
            frontier = nxt
        # the quotes of one source stay together, in text order, where the first of them was reached
        by_chunk: dict[int, list[int]] = {}
        for q in seen:
            by_chunk.setdefault(chunk_of[q], []).append(q)
        sections.append([q for qs in by_chunk.values() for q in sorted(qs, key=lambda i: starts[i])])
    return sections
