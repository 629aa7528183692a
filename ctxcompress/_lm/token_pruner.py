"""Question-aware perplexity pruning in the manner of LongLLMLingua, on whole words, under a hard budget.

Jiang et al. 2024, "LongLLMLingua: Accelerating and Enhancing LLMs in Long Context Scenarios via Prompt
Compression" (code: microsoft/LLMLingua). A small causal LM scores the context in two steps:

1. **Documents.** Each document (a chunk, or a window of a long chunk) is ranked by how well it
   predicts the question: the mean negative log-likelihood of ``question + condition_suffix`` placed
   after the document (lower is better). Documents are kept, best first, until their tokens reach
   ``context_budget`` times the budget; the rest are dropped.
2. **Words.** Each token's *contrastive* score is how much the question makes it less surprising:
   ``-log p(x_i | x_<i) - (-log p(x_i | question, x_<i))``; a word scores the sum over its tokens (the
   log-probability gain of the whole word). Without a question the score is the token's own surprisal
   (LLMLingua). Each kept document gets a share of the budget that grows with its rank
   (``dynamic_ratio``: the best keeps ``tau + dynamic_ratio/2`` of its tokens, the last
   ``tau - dynamic_ratio/2``, where ``tau`` is the budget over the kept documents' tokens).

Unlike the reference implementation, pruning removes **whole words** (with the punctuation touching
them), never characters inside a word; protected spans (numbers, capitalised names, user regexes) are
kept first, a multi-word name all or nothing; and the budget, counted in the target LLM's tokens, holds
exactly: the final selection is the longest prefix of the ranking whose rendered text fits.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.errors import ConfigError
from .._core.select import Unit, fit_ranked, word_ranges
from .._core.types import Chunk
from .._core.validate import validate_choice, validate_number
from .causal_lm import (
    LoadedLM,
    check_device,
    check_model_spec,
    encode,
    encode_with_offsets,
    lm_faults,
    load_causal_lm,
    pruning_cap,
    token_nll,
)

__all__ = ["TokenPruner"]

#: LongLLMLingua's suffix to the question when ranking documents
CONDITION_SUFFIX = " We can get the answer to this question in the given documents."

_DIGIT = re.compile(r"\d")
# capitalised words that are not names when they open a sentence or stand alone
_NOT_WORDS = """a an the this that these those it its he she they we i you his her their our my your there here
    in on at by for from with as after before during since until while when where what who which why how
    if but and or nor so yet however although though because then thus also one some many most all each
    both such to of is was are were do does did can could will would should may might must has have had
    not no yes"""
_NOT_NAMES = frozenset(_NOT_WORDS.split())


@dataclass(frozen=True, slots=True)
class _Segment:
    """A document for ranking: tokens ``[a, b)`` of chunk ``chunk`` (characters ``[start, end)``)."""

    chunk: int
    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]
    start: int
    end: int


class TokenPruner(Compressor):
    """Prune words by question-aware contrastive perplexity of a small causal LM (LongLLMLingua-style).

    - ``model`` / ``device``: as :class:`~ctxcompress.AttentionFilter` (``"smollm2"``, a folder or a hub
      id; loaded lazily, once per process; ``"auto"`` = CUDA when present, else CPU).
    - ``condition_suffix``: appended to the question when ranking documents (LongLLMLingua's).
    - ``context_budget``: documents are kept, best first, until their tokens reach this multiple of the
      budget (``None``: keep every document and prune words only). Without a question every document is
      kept (there is nothing to rank by).
    - ``dynamic_ratio``: how much more of its words the best document keeps than the last (0 = equal).
    - ``protect_numbers`` / ``protect_entities`` / ``protect``: words with digits, capitalised names
      (consecutive ones as one unit) and matches of the given regular expressions are kept first.
    - ``window_tokens``: the longest sequence the model scores at once (documents longer than that are
      scored in windows); ``batch_size``: sequences per forward pass.
    - ``rate``: the kept fraction when the call sets no budget (``None``: keep everything).
    """

    def __init__(
        self,
        *,
        model: str = "smollm2",
        device: str = "auto",
        condition_suffix: str = CONDITION_SUFFIX,
        context_budget: float | None = 1.5,
        dynamic_ratio: float = 0.3,
        protect_numbers: bool = True,
        protect_entities: bool = True,
        protect: Sequence[str] = (),
        window_tokens: int = 1024,
        batch_size: int = 4,
        rate: float | None = 0.5,
        on_error: OnError = "raise",
    ) -> None:
        check_model_spec(model)
        self.model = model
        check_device(device)
        self.device = device
        if not isinstance(condition_suffix, str):
            raise ConfigError(f"condition_suffix must be a str, got {type(condition_suffix).__name__}")
        self.condition_suffix = condition_suffix
        context_budget = validate_number("context_budget", context_budget, low=1.0)
        self.context_budget = None if context_budget is None else float(context_budget)
        self.dynamic_ratio = float(validate_number("dynamic_ratio", dynamic_ratio, low=0.0, high=2.0, allow_none=False))
        for name, flag in (("protect_numbers", protect_numbers), ("protect_entities", protect_entities)):
            if not isinstance(flag, bool):
                raise ConfigError(f"{name} must be True or False, got {flag!r}")
        self.protect_numbers = protect_numbers
        self.protect_entities = protect_entities
        if isinstance(protect, str) or not all(isinstance(p, str) for p in protect):
            raise ConfigError("protect must be a list of regular expressions (strings)")
        for pattern in protect:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"protect: invalid regular expression {pattern!r}: {exc}") from exc
        self.protect = list(protect)
        self.window_tokens = validate_number("window_tokens", window_tokens, low=64, integer=True, allow_none=False)
        self.batch_size = validate_number("batch_size", batch_size, low=1, integer=True, allow_none=False)
        self.rate = validate_number("rate", rate, low=0.0, high=1.0, low_inclusive=False)
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        self._patterns = [re.compile(p) for p in self.protect]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_patterns"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._patterns = [re.compile(p) for p in self.protect]

    # ---------------------------------------------------------------- model
    def _lm(self) -> LoadedLM:
        return load_causal_lm(self.model, device=self.device)

    def warm_up(self) -> None:
        self._lm()

    # ---------------------------------------------------------------- scoring
    def _segments(self, lm: LoadedLM, chunks: Sequence[Chunk], piece_len: int) -> list[_Segment]:
        segs: list[_Segment] = []
        for ci, ch in enumerate(chunks):
            ids, offsets = encode_with_offsets(lm, ch.text)
            for a in range(0, len(ids), piece_len):
                b = min(len(ids), a + piece_len)
                offs = tuple(offsets[a:b])
                segs.append(_Segment(ci, tuple(ids[a:b]), offs, offs[0][0] if a else 0, offs[-1][1]))
            if ids and segs[-1].chunk == ci:  # the last window of a chunk runs to its end
                last = segs[-1]
                segs[-1] = _Segment(ci, last.ids, last.offsets, last.start, len(ch.text))
        return segs

    def _prepare(self, lm: LoadedLM, query: str) -> tuple[list[int], list[int], list[int], int]:
        window = min(self.window_tokens, lm.max_length)
        has_q = bool(query.strip())
        cond = encode(lm, query + self.condition_suffix) if has_q else []
        q_ids = encode(lm, query) if has_q else []
        sep = encode(lm, "\n\n")
        longest = window // 2
        cond, q_ids = cond[-longest:], q_ids[-longest:]  # a very long question: keep its end
        piece_len = max(16, window - max(len(cond), len(q_ids)) - len(sep) - 2)
        return cond, q_ids, sep, piece_len

    def _rank(
        self, lm: LoadedLM, chunks: Sequence[Chunk], query: str
    ) -> tuple[list[_Segment], list[float], list[list[float]]]:
        """Documents, their question NLL (0 without a question) and their tokens' own NLL (one pass each)."""
        cond, _, sep, piece_len = self._prepare(lm, query)
        segs = self._segments(lm, chunks, piece_len)
        seqs = [[lm.start_id, *s.ids, *((sep + cond) if cond else [])] for s in segs]
        q_nll: list[float] = []
        self_nll: list[list[float]] = []
        for s, nll in zip(segs, token_nll(lm, seqs, batch_size=self.batch_size), strict=True):
            n = len(s.ids)
            self_nll.append(nll[:n])
            tail = nll[n + len(sep) :] if cond else []
            q_nll.append(sum(tail) / len(tail) if tail else 0.0)
        return segs, q_nll, self_nll

    def _contrast(
        self, lm: LoadedLM, segs: Sequence[_Segment], self_nll: Sequence[Sequence[float]], query: str
    ) -> list[list[float]]:
        """Contrastive token scores: own NLL minus NLL after the question (one pass per document)."""
        _, q_ids, sep, _ = self._prepare(lm, query)
        seqs = [[lm.start_id, *q_ids, *sep, *s.ids] for s in segs]
        k = len(q_ids) + len(sep)
        return [
            [a - b for a, b in zip(own, given[k : k + len(own)], strict=True)]
            for own, given in zip(self_nll, token_nll(lm, seqs, batch_size=self.batch_size), strict=True)
        ]

    def score_segments(
        self, chunks: Sequence[Chunk], query: str
    ) -> tuple[list[_Segment], list[float], list[list[float]]]:
        """The documents (windows of chunks), their question NLL (lower = more relevant; 0 without a
        question) and each token's score (contrastive with a question, surprisal without), for all documents."""
        lm = self._lm()
        segs, q_nll, self_nll = self._rank(lm, chunks, query)
        if not query.strip():
            return segs, q_nll, self_nll
        return segs, q_nll, self._contrast(lm, segs, self_nll, query)

    # ---------------------------------------------------------------- units
    def _protected(self, text: str, words: Sequence[tuple[int, int]]) -> list[tuple[int, int, bool]]:
        """Words grouped into units ``(first_word, last_word + 1, protected)``."""
        n = len(words)
        prot = [False] * n
        name = [False] * n
        for i, (s, e) in enumerate(words):
            w = text[s:e]
            if self.protect_numbers and _DIGIT.search(w):
                prot[i] = True
            core = w.strip("\"'“”‘’()[]{}«»<>,.;:!?*")
            if self.protect_entities and core[:1].isupper() and core.lower() not in _NOT_NAMES:
                prot[i] = name[i] = True
        group = list(range(n))  # each word's group id (the index of its first word)
        for i in range(1, n):  # consecutive names: one unit ("Shirley Temple Black")
            if name[i] and name[i - 1] and not text[words[i - 1][1] : words[i][0]].strip():
                group[i] = group[i - 1]
        if self._patterns:
            starts = [s for s, _ in words]
            for pat in self._patterns:
                for m in pat.finditer(text):
                    a = bisect.bisect_right(starts, m.start()) - 1  # the word holding the match's start
                    if a < 0 or words[a][1] <= m.start():
                        a += 1
                    b = bisect.bisect_left(starts, max(m.end(), m.start() + 1))
                    for i in range(a, b):  # every word the match touches: protected, one unit
                        prot[i] = True
                        group[i] = group[a]
        units: list[tuple[int, int, bool]] = []
        i = 0
        while i < n:
            j = i + 1
            while j < n and group[j] == group[i]:
                j += 1
            units.append((i, j, any(prot[i:j])))
            i = j
        return units

    # ---------------------------------------------------------------- selection
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        cap = pruning_cap(chunks, cap, self.rate, ctx.count)
        if cap is None:
            return list(chunks)
        t0 = time.perf_counter()
        with lm_faults("TokenPruner"):
            lm = self._lm()
            segs, q_nll, self_nll = self._rank(lm, chunks, query)
        if not segs:
            return []
        # 1. documents: rank by question NLL, keep the best until context_budget x cap
        costs = [ctx.count(chunks[s.chunk].text[s.start : s.end]) for s in segs]
        rank = sorted(range(len(segs)), key=lambda i: (q_nll[i], i))
        kept: list[int] = []
        total = 0
        ranked = bool(query.strip()) and self.context_budget is not None
        for i in rank:
            if ranked and total >= (self.context_budget or 0.0) * cap:
                break
            kept.append(i)
            total += costs[i]
        tau = cap / max(1, total)
        n_kept = len(kept)
        quota: dict[int, float] = {}
        for pos, i in enumerate(kept):
            delta = self.dynamic_ratio * (0.5 - pos / (n_kept - 1)) if n_kept > 1 else 0.0
            quota[i] = max(0.0, min(1.0, tau + delta)) * costs[i]
        # the contrastive pass runs on the kept documents only
        tok_scores: dict[int, list[float]] = {}
        if query.strip():
            with lm_faults("TokenPruner"):
                contrast = self._contrast(lm, [segs[i] for i in kept], [self_nll[i] for i in kept], query)
            tok_scores = dict(zip(kept, contrast, strict=True))
        else:
            tok_scores = {i: self_nll[i] for i in kept}
        seconds_lm = time.perf_counter() - t0
        # 2. words: scores from tokens, protected units first, then a global order by quota use
        units: list[Unit] = []
        keys: list[tuple[float, float]] = []
        seg_of_chunk: dict[int, list[int]] = {}
        for si, s in enumerate(segs):
            seg_of_chunk.setdefault(s.chunk, []).append(si)
        for ci, ch in enumerate(chunks):
            words = word_ranges(ch.text)
            if not words:
                continue
            word_score = [0.0] * len(words)
            starts = [w[0] for w in words]
            word_seg = [-1] * len(words)
            for si in seg_of_chunk.get(ci, []):
                if si not in tok_scores:
                    continue
                s = segs[si]
                for (a, b), sc in zip(s.offsets, tok_scores[si], strict=False):
                    if b <= a:
                        continue
                    w = bisect.bisect_right(starts, a) - 1
                    if w < 0 or a >= words[w][1]:
                        w += 1  # a token in a gap (stand-alone punctuation) counts for the next word
                        if w >= len(words) or words[w][0] >= b:
                            continue
                    word_score[w] += sc
                    if word_seg[w] < 0:
                        word_seg[w] = si
            per_seg: dict[int, list[tuple[bool, float, int, int]]] = {}
            for a, b, prot in self._protected(ch.text, words):
                si = next((word_seg[i] for i in range(a, b) if word_seg[i] >= 0), -1)
                if si not in quota:
                    continue
                per_seg.setdefault(si, []).append((prot, max(word_score[a:b]), a, b))
            for si, items in per_seg.items():
                items.sort(key=lambda t: (not t[0], -t[1], t[2]))
                used = 0.0
                for _prot, sc, a, b in items:
                    s0, e0 = words[a][0], words[b - 1][1]
                    units.append(Unit(ci, s0, e0, ch.text[s0:e0], a, sc))
                    keys.append((used / quota[si] if quota[si] > 0 else math.inf, -sc))
                    used += ctx.count(ch.text[s0:e0])
        order = sorted(range(len(units)), key=lambda i: (keys[i], units[i].chunk, units[i].start))
        out, k = fit_ranked(chunks, units, order, cap, ctx.count)
        for ci, ch in enumerate(chunks):
            own = [q_nll[si] for si in seg_of_chunk.get(ci, [])]
            if own and ch.id is not None:
                ctx.scores[ch.id] = -min(own)
        ctx.details.update(
            {
                "documents": len(segs),
                "kept_documents": n_kept,
                "units": len(units),
                "kept_units": k,
                "lm_seconds": round(seconds_lm, 4),
            }
        )
        return out
