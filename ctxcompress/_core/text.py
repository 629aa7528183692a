"""Text surgery under a token cap: cutting chunks to ranges (with spans), and fitting text to a budget."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from .result import SEPARATOR, join_text
from .segment import split_sentences, split_words
from .types import Chunk, Span

__all__ = ["extract", "fewest_drops", "fit_to_budget", "gap_separator", "greedy_fill", "merge_ranges"]

_LINE_BREAK_RE = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
"""A line break as :meth:`str.splitlines` sees one."""


def gap_separator(text: str, start: int, end: int, sep: str = " ") -> str:
    """What joins two kept pieces of ``text`` when ``text[start:end]`` between them is left out.

    ``sep`` itself, unless the gap held a line break: then ``sep`` with its trailing spaces replaced
    by one ``"\\n"`` (``" "`` gives ``"\\n"``, ``" … "`` gives ``" …\\n"``), so that a title line and a
    body sentence of the source never become one line. ``sep`` should hold whitespace, so that two
    words of the source never touch in the output.
    """
    if _LINE_BREAK_RE.search(text, start, end) is not None:
        return sep.rstrip(" ") + "\n"
    return sep


def merge_ranges(text: str, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort ranges and merge those that overlap or are separated only by whitespace."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and (s <= out[-1][1] or not text[out[-1][1] : s].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def extract(chunk: Chunk, ranges: Iterable[tuple[int, int]], *, sep: str = " ") -> Chunk | None:
    """A new chunk holding ``chunk.text`` restricted to ``ranges`` (joined by ``sep``), with spans.

    Adjacent ranges separated only by whitespace are merged so the original text between them is
    kept. Where text between two ranges is left out they are joined by :func:`gap_separator`:
    ``sep``, or a line break where the left-out text held one. Id, metadata and score of ``chunk``
    are kept. Returns ``None`` when nothing is left.
    """
    merged = merge_ranges(chunk.text, ranges)
    if not merged:
        return None
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    prev_end = 0
    for i, (s, e) in enumerate(merged):
        if i:
            gap = gap_separator(chunk.text, prev_end, s, sep)
            parts.append(gap)
            pos += len(gap)
        prev_end = e
        parts.append(chunk.text[s:e])
        spans.extend(chunk.trace(s, e, out_start=pos))
        pos += e - s
    text = "".join(parts)
    if merged == [(0, len(chunk.text))]:
        return chunk
    return chunk.replace(text=text, spans=tuple(spans))


def fit_to_budget(
    chunks: Sequence[Chunk],
    cap: int | None,
    count: Callable[[str], int],
    *,
    render: Callable[[Sequence[Chunk]], str] = join_text,
) -> tuple[list[Chunk], bool]:
    """The longest prefix of ``chunks`` (cut at a sentence, then word, boundary) whose rendering fits.

    This is the hard cap: the result's rendered text never has more than ``cap`` tokens.
    Returns the chunks and whether anything was cut.
    """
    chunks = list(chunks)
    if cap is None or count(render(chunks)) <= cap:
        return chunks, False
    if cap <= 0 or not chunks:
        return [], True
    # candidate cut points: (chunk index, end offset), in order
    cuts: list[tuple[int, int]] = []
    for i, ch in enumerate(chunks):
        ends = [seg.end for seg in split_sentences(ch.text)] or [len(ch.text)]
        cuts.extend((i, e) for e in ends)

    def build(i: int, end: int) -> list[Chunk]:
        head = chunks[:i]
        last = extract(chunks[i], [(0, end)])
        return head + ([last] if last is not None else [])

    def fits(i: int, end: int) -> bool:
        return count(render(build(i, end))) <= cap

    lo, hi = -1, len(cuts) - 1  # invariant: cuts[lo] fits (or lo == -1), cuts[hi] may not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(*cuts[mid]):
            lo = mid
        else:
            hi = mid - 1
    best: list[Chunk] = build(*cuts[lo]) if lo >= 0 else []
    # try to add words of the next sentence
    nxt = lo + 1
    if nxt < len(cuts):
        i, end = cuts[nxt]
        start = cuts[lo][1] if lo >= 0 and cuts[lo][0] == i else 0
        words = [w.end for w in split_words(chunks[i].text[start:end])]
        wlo, whi = -1, len(words) - 1
        while wlo < whi:
            mid = (wlo + whi + 1) // 2
            if fits(i, start + words[mid]):
                wlo = mid
            else:
                whi = mid - 1
        if wlo >= 0:
            best = build(i, start + words[wlo])
    # token counts are almost always monotone in length; guarantee the cap regardless
    while best and count(render(best)) > cap:
        best = best[:-1]
    return best, True


def fewest_drops(fits: Callable[[int], bool], limit: int) -> int:
    """The smallest ``k`` in ``[0, limit]`` for which ``fits(k)`` holds (``limit`` when none does).

    For "drop the ``k`` weakest until the rendered text fits" loops: ``fits(k)`` renders and counts
    the text without the ``k`` weakest units. It gives what trying ``k = 0, 1, 2, ...`` in turn
    gives when dropping more never makes the text longer (token counts are monotone in practice),
    with ``O(log k)`` calls instead of ``k``: ``0`` and ``1`` first, then doubling, then bisection.
    """
    if limit <= 0 or fits(0):
        return 0
    lo, hi = 0, 1  # fits(lo) is false
    while hi < limit and not fits(hi):
        lo, hi = hi, min(limit, 2 * hi)
    hi = min(hi, limit)  # fits(hi), or hi is the limit where the loop stops anyway
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def greedy_fill(texts: Sequence[str], cap: int, count: Callable[[str], int], *, sep: str = SEPARATOR) -> list[int]:
    """Indices of the texts taken, in order, when each is taken if ``sep.join`` of those taken still fits ``cap``.

    Linear in the input: each text is counted once, and what joining adds (the separator, and any
    tokens that merge across it, such as a full stop with the newlines after it in some encodings)
    by counting a few characters either side of the join; so, for tokenisers whose merges stay that
    local, the result is what counting the whole joined text for each candidate gives. The caller
    still checks the result with one full count (see :func:`fewest_drops`).
    """
    taken: list[int] = []
    used = 0
    last: str | None = None
    for i, text in enumerate(texts):
        add = count(text)
        if last is not None:
            left, right = last[-_JOIN_CONTEXT:], text[:_JOIN_CONTEXT]
            add += count(left + sep + right) - count(left) - count(right)
        if used + add <= cap:
            taken.append(i)
            used += add
            last = text
    return taken


_JOIN_CONTEXT = 64
"""Characters either side of a join that :func:`greedy_fill` counts to learn what the join adds."""
