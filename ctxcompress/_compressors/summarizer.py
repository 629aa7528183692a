"""Summarisation compression (TCRA-LLM): an abstractive summary to a target length, or an extractive fallback.

Liu et al., "TCRA-LLM: Token Compression Retrieval Augmented Large Language Model for Inference Cost
Reduction" (Findings of EMNLP 2023), section 3.1: a summariser compresses retrieved text to a target
length (the paper fine-tunes T5 models for 30/50/70 % of the input, on data made by asking an LLM to
summarise and, when the summary is too long, asking it again to shorten it: the self-instruct loop).
Here any LLM does the summarising through :func:`ctxcompress._lm.llm.as_llm`; without one, a TextRank
(centrality) selection of sentences stands in, so the step runs anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.errors import BackendError, ConfigError, MissingDependencyError
from .._core.protocols import Embedder
from .._core.result import SEPARATOR, join_text
from .._core.segment import split_sentences, split_words
from .._core.select import build_chunks, drop_weakest, fill_under_cap, make_units
from .._core.types import Chunk, Span
from .._core.validate import validate_choice, validate_number
from .._lm.llm import as_llm, check_llm_spec

__all__ = ["SHORTEN_PROMPT", "SUMMARY_PROMPT", "SUMMARY_PROMPT_QA", "Summarizer"]

Mode = Literal["auto", "abstractive", "extractive"]
Scope = Literal["chunk", "context"]

SUMMARY_PROMPT = (
    "Summarize the text below in at most {words} words. Keep names, numbers and dates exactly as "
    "written. Reply with the summary only.\n\nText:\n{text}"
)
SUMMARY_PROMPT_QA = (
    "Summarize the text below in at most {words} words, keeping the facts needed to answer the "
    "question: {question}\nKeep names, numbers and dates exactly as written. Reply with the summary "
    "only.\n\nText:\n{text}"
)
SHORTEN_PROMPT = (
    "Shorten the text below to at most {words} words, keeping its key facts. Reply with the shorter "
    "text only.\n\nText:\n{text}"
)
ABSTRACTIVE_KEY = "ctxcompress.abstractive"
SUMMARISED_KEY = "ctxcompress.summarised"
FAITHFULNESS_KEY = "ctxcompress.faithfulness"

_LABEL_RE = re.compile(r"^\s*(?:\*\*)?(?:summary|shorter text|shortened text|short version|text)(?:\*\*)?\s*:\s*", re.I)


def _clean(text: str) -> str:
    return _LABEL_RE.sub("", text.strip()).strip()


def _textrank(
    vecs: NDArray[np.float32], personal: NDArray[np.float64] | None, *, damping: float = 0.85
) -> NDArray[np.float64]:
    """Centrality of each sentence: PageRank on the cosine graph (negative edges and self-loops removed).

    ``personal`` biases the random jumps (query-aware TextRank); uniform when ``None``.
    """
    n = vecs.shape[0]
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    sim = np.clip(vecs.astype(np.float64) @ vecs.astype(np.float64).T, 0.0, None)
    np.fill_diagonal(sim, 0.0)
    rows = sim.sum(axis=1, keepdims=True)
    trans = np.divide(sim, rows, out=np.full_like(sim, 1.0 / n), where=rows > 0)
    p = np.full(n, 1.0 / n) if personal is None else personal / personal.sum()
    r = np.full(n, 1.0 / n)
    for _ in range(100):
        nxt = (1.0 - damping) * p + damping * (trans.T @ r)
        if np.abs(nxt - r).sum() < 1e-10:
            r = nxt
            break
        r = nxt
    return r


class Summarizer(Compressor):
    """Compress context to a target length by summarising it (TCRA-LLM summarisation compression).

    **Backends** (``llm``): any callable ``prompt -> text``, a LangChain chat model or Runnable (an
    object with ``invoke``), an :class:`~ctxcompress._lm.llm.HFLocalLLM` (a local Hugging Face causal or
    seq2seq model), ``"smollm2"`` or a local model folder. ``mode="auto"`` summarises with the LLM
    when one is given and otherwise falls back to ``"extractive"``: a TextRank selection of the
    most central sentences, copied verbatim, which needs only the embedder. With a query and
    ``query_aware`` the random jumps go to sentences in proportion to their cosine to the query,
    with damping ``query_damping`` (biased TextRank; 0.5: half centrality, half relevance). With ``scope="chunk"``
    every chunk's best sentence comes first, then every chunk's second best, and so on, until the
    target is full; with ``scope="context"`` the ranking is global.

    **Length.** ``target_fraction`` (a kept fraction, as the paper's 30/50/70 % models) and/or
    ``target_tokens`` (for the whole output); the smaller wins, and a budget caps it further. With
    ``scope="chunk"`` each chunk is summarised on its own to its share of the target (chunks under
    ``min_chunk_tokens`` are kept as they are); with ``scope="context"`` all chunks are summarised
    together into one chunk (id ``"summary"``). The LLM is asked for about as many words as the
    target allows; a summary still too long is sent back to be shortened (``max_retries`` times, the
    paper's self-instruct loop), then cut at a sentence (else word) boundary so the target holds.

    **Provenance.** An abstractive chunk carries one non-verbatim span per source it summarises
    (the whole source range) and the metadata ``"ctxcompress.abstractive": True`` and
    ``"ctxcompress.summarised": [source ids]``. With ``faithfulness`` it also carries
    ``"ctxcompress.faithfulness"``: the share of its sentences whose cosine similarity to some
    source sentence is at least ``support_threshold`` (also in the stage's report details).

    **Failures.** An LLM error, timeout (``timeout_s``) or empty answer is a
    :class:`~ctxcompress.BackendError`: raised with ``on_error="raise"``; with ``"passthrough"`` the
    chunk it concerned is kept unchanged and the report warns. Context is never dropped silently.
    ``prompt`` replaces the summary prompt: a template with ``{text}``, ``{words}`` and
    ``{question}`` (empty without a query or when ``query_aware`` is off).
    """

    def __init__(
        self,
        *,
        llm: Any = None,
        mode: Mode = "auto",
        scope: Scope = "chunk",
        target_fraction: float | None = 0.5,
        target_tokens: int | None = None,
        query_aware: bool = True,
        query_damping: float = 0.5,
        max_retries: int = 2,
        min_chunk_tokens: int = 24,
        prompt: str | None = None,
        faithfulness: bool = True,
        support_threshold: float = 0.6,
        embedder: Embedder | str | None = None,
        timeout_s: float | None = None,
        on_error: OnError = "raise",
    ) -> None:
        check_llm_spec(llm)
        self.llm = llm
        self.mode: Mode = validate_choice("mode", mode, ("auto", "abstractive", "extractive"))
        self.scope: Scope = validate_choice("scope", scope, ("chunk", "context"))
        if mode == "abstractive" and llm is None:
            raise ConfigError("mode='abstractive' needs an llm: pass llm=... or use mode='extractive'")
        target_fraction = validate_number("target_fraction", target_fraction, low=0, high=1, low_inclusive=False)
        self.target_fraction = None if target_fraction is None else float(target_fraction)
        self.target_tokens = validate_number("target_tokens", target_tokens, low=1, integer=True)
        if target_fraction is None and target_tokens is None:
            raise ConfigError("set target_fraction (e.g. 0.5) and/or target_tokens")
        self.query_aware = bool(query_aware)
        self.query_damping = validate_number("query_damping", query_damping, low=0, high=1, allow_none=False)
        self.max_retries = validate_number("max_retries", max_retries, low=0, integer=True, allow_none=False)
        self.min_chunk_tokens = validate_number(
            "min_chunk_tokens", min_chunk_tokens, low=0, integer=True, allow_none=False
        )
        self.support_threshold = float(
            validate_number("support_threshold", support_threshold, low=-1, high=1, allow_none=False)
        )
        self.timeout_s = validate_number("timeout_s", timeout_s, low=0, low_inclusive=False)
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        if prompt is not None:
            if not isinstance(prompt, str) or "{text}" not in prompt:
                raise ConfigError("prompt must be a template string containing {text} (and optionally {words})")
            try:
                prompt.format(text="", words=1, question="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(
                    f"prompt may only use {{text}}, {{words}} and {{question}} (double other braces): {exc}"
                ) from exc
        self.prompt = prompt
        self.faithfulness = bool(faithfulness)
        if embedder is not None and not isinstance(embedder, str) and not callable(getattr(embedder, "encode", None)):
            raise ConfigError("embedder must be an embedder spec such as 'onnx' or an object with encode(texts)")
        self.embedder = embedder
        self._llm_fn: Callable[[str], str] | None = None
        self._embedder_obj: Embedder | None = None

    # ---------------------------------------------------------------- backends
    @property
    def abstractive(self) -> bool:
        """True when it summarises with the LLM (``mode="abstractive"``, or ``"auto"`` with an ``llm``)."""
        return self.mode == "abstractive" or (self.mode == "auto" and self.llm is not None)

    def _get_llm(self) -> Callable[[str], str]:
        if self._llm_fn is None:
            self._llm_fn = as_llm(self.llm, timeout_s=self.timeout_s)
        return self._llm_fn

    def warm_up(self) -> None:
        if self.abstractive:
            fn = getattr(getattr(self._get_llm(), "fn", None), "warm_up", None)
            if callable(fn):
                fn()
        if not self.abstractive or self.faithfulness:
            self._get_embedder().encode(["warm up"])

    # ---------------------------------------------------------------- targets
    def _total_target(self, chunks: Sequence[Chunk], cap: int | None, ctx: CallContext) -> int:
        tokens_in = ctx.count(join_text(chunks))
        caps = [tokens_in]
        if self.target_fraction is not None:
            caps.append(int(self.target_fraction * tokens_in + 1e-9))
        if self.target_tokens is not None:
            caps.append(self.target_tokens)
        if cap is not None:
            caps.append(cap)
        return max(0, min(caps))

    def _chunk_targets(self, chunks: Sequence[Chunk], total: int, ctx: CallContext) -> list[int]:
        sizes = [ctx.count(c.text) for c in chunks]
        seps = ctx.count(SEPARATOR) * max(0, len(chunks) - 1)
        avail = max(0, total - seps) if total < ctx.count(join_text(chunks)) else total
        whole = sum(sizes) or 1
        return [min(s, int(avail * s / whole)) for s in sizes]

    # ---------------------------------------------------------------- main
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        total = self._total_target(chunks, cap, ctx)
        ctx.details.update({"mode": "abstractive" if self.abstractive else "extractive", "scope": self.scope})
        ctx.details["target_tokens"] = total
        if self.abstractive:
            out = self._abstractive(chunks, query, total, ctx)
        else:
            out = self._extractive(chunks, query, total, ctx)
        return out

    # ---------------------------------------------------------------- abstractive
    def _make_prompt(self, text: str, words: int, query: str) -> str:
        question = query.strip() if self.query_aware else ""
        if self.prompt is not None:
            return self.prompt.format(text=text, words=words, question=question)
        if question:
            return SUMMARY_PROMPT_QA.format(text=text, words=words, question=question)
        return SUMMARY_PROMPT.format(text=text, words=words)

    def _summarise(self, text: str, target: int, query: str, ctx: CallContext, stats: dict[str, int]) -> str:
        """Summarise ``text`` to at most ``target`` tokens (ask, ask to shorten, then cut)."""
        llm = self._get_llm()
        n_tokens = max(1, ctx.count(text))
        n_words = max(1, len(split_words(text)))
        words = max(1, round(target * n_words / n_tokens))
        stats["llm_calls"] += 1
        out = _clean(llm(self._make_prompt(text, words, query)))
        for _ in range(self.max_retries):
            if ctx.count(out) <= target:
                break
            stats["llm_calls"] += 1
            stats["shorten_calls"] += 1
            shorter = _clean(llm(SHORTEN_PROMPT.format(text=out, words=words)))
            if ctx.count(shorter) < ctx.count(out):
                out = shorter
        if not out:
            raise BackendError("the LLM returned an empty summary")
        if ctx.count(out) > target:
            stats["truncated"] += 1
            out = _truncate(out, target, ctx.count)
        return out

    def _abstractive(self, chunks: list[Chunk], query: str, total: int, ctx: CallContext) -> list[Chunk]:
        stats = {"llm_calls": 0, "shorten_calls": 0, "truncated": 0, "passed_through": 0}
        out: list[tuple[Chunk, Sequence[Chunk] | None]] = []  # (output chunk, the inputs it summarises)
        if self.scope == "context":
            groups: list[tuple[list[Chunk], int]] = [(chunks, total)]
        else:
            groups = [([c], t) for c, t in zip(chunks, self._chunk_targets(chunks, total, ctx), strict=True)]
        for group, target in groups:
            text = join_text(group)
            if not text.strip():
                continue
            if self.scope == "chunk" and ctx.count(text) < self.min_chunk_tokens:
                out.extend((c, None) for c in group)
                continue
            if target <= 0:
                continue
            try:
                summary = self._summarise(text, target, query, ctx, stats)
            except BackendError as exc:
                if self.on_error != "passthrough" and not ctx.passthrough:
                    raise
                ids = ", ".join(repr(c.id) for c in group)
                ctx.warnings.append(f"Summarizer: LLM failed, chunk(s) {ids} passed through unchanged: {exc}")
                stats["passed_through"] += 1
                out.extend((c, None) for c in group)
                continue
            if summary:
                out.append((_abstract_chunk(group, summary, single=self.scope == "chunk"), group))
        ctx.details.update(stats)
        if self.faithfulness:
            return self._with_faithfulness(out, ctx)
        return [c for c, _ in out]

    def faithfulness_scores(self, summary: str, sources: Sequence[str], ctx: CallContext) -> float | None:
        """Share of the sentences of ``summary`` whose best cosine to a sentence of ``sources`` is at
        least ``support_threshold`` (``None`` when either side has no sentence)."""
        src = [s.text for t in sources for s in split_sentences(t)]
        out = [s.text for s in split_sentences(summary)]
        if not src or not out:
            return None
        emb = self._get_embedder()
        best = (ctx.embed(emb, out) @ ctx.embed(emb, src).T).max(axis=1)
        return float((best >= self.support_threshold).mean())

    def _with_faithfulness(self, out: Sequence[tuple[Chunk, Sequence[Chunk] | None]], ctx: CallContext) -> list[Chunk]:
        result: list[Chunk] = []
        scores: dict[str, float] = {}
        failed = False
        for ch, group in out:
            if group is None or failed:
                result.append(ch)
                continue
            try:
                share = self.faithfulness_scores(ch.text, [c.text for c in group], ctx)
            except (BackendError, MissingDependencyError) as exc:
                ctx.warnings.append(f"Summarizer: faithfulness not checked: {exc}")
                failed = True
                result.append(ch)
                continue
            if share is not None:
                scores[str(ch.id)] = share
                ch = ch.replace(metadata={**ch.metadata, FAITHFULNESS_KEY: share})
            result.append(ch)
        if scores:
            ctx.details["faithfulness"] = scores
            ctx.details["faithfulness_mean"] = float(np.mean(list(scores.values())))
        return result

    # ---------------------------------------------------------------- extractive
    def _extractive(self, chunks: list[Chunk], query: str, total: int, ctx: CallContext) -> list[Chunk]:
        units = make_units(chunks, "sentence")
        if not units:
            return []
        emb = self._get_embedder()
        vecs = ctx.embed(emb, [u.text for u in units])
        personal: NDArray[np.float64] | None = None
        if self.query_aware and query.strip():
            qv = ctx.embed(emb, [query], queries=True)[0]
            personal = np.clip((vecs @ qv).astype(np.float64), 0.0, None) + 1e-3
        unit_chunk = np.array([u.chunk for u in units])
        scores = np.zeros(len(units))
        rank = np.zeros(len(units), dtype=np.int64)  # position of a sentence in its chunk's ranking
        groups = (
            [np.arange(len(units))]
            if self.scope == "context"
            else [np.flatnonzero(unit_chunk == ci) for ci in range(len(chunks))]
        )
        for idx in groups:
            if idx.size == 0:
                continue
            if personal is None:
                scores[idx] = _textrank(vecs[idx], None)
            else:  # query-aware: jumps biased to the query, and as likely as following the graph
                scores[idx] = _textrank(vecs[idx], personal[idx], damping=self.query_damping)
            if self.scope == "chunk":
                order = sorted(idx.tolist(), key=lambda k: (-scores[k], k))
                rank[order] = np.arange(len(order))
        # scope "chunk": every chunk's best sentence first, then every chunk's second best, ...
        priority = sorted(range(len(units)), key=lambda k: (int(rank[k]), -scores[k], k))
        cost = [ctx.count(u.text) + 1 for u in units]
        chosen = set(fill_under_cap(priority, cost.__getitem__, total)[0])
        if not chosen and total > 0:
            chosen.add(priority[0])
        out = build_chunks(chunks, units, sorted(chosen))
        if len(chosen) > 1 and ctx.count(join_text(out)) > total:  # drop the weakest until it fits
            strongest_first = [i for i in priority if i in chosen]
            chosen = set(drop_weakest(chunks, units, strongest_first, total, ctx.count, min_keep=1))
            out = build_chunks(chunks, units, sorted(chosen))
        ctx.details.update({"sentences": len(units), "kept_sentences": len(chosen)})
        return out


def _abstract_chunk(group: Sequence[Chunk], summary: str, *, single: bool) -> Chunk:
    """The output chunk for ``summary`` of ``group``: non-verbatim spans to every root source."""
    ranges: dict[str, tuple[int, int]] = {}
    for c in group:
        for sp in c.trace(0, len(c.text), out_start=0) if c.text else []:
            lo, hi = ranges.get(sp.source_id, (sp.start, sp.end))
            ranges[sp.source_id] = (min(lo, sp.start), max(hi, sp.end))
    spans = tuple(Span(sid, s, e, 0, len(summary), verbatim=False) for sid, (s, e) in ranges.items())
    marks = {
        ABSTRACTIVE_KEY: True,
        SUMMARISED_KEY: list(ranges),
    }
    if single:
        only = group[0]
        return only.replace(text=summary, spans=spans, metadata={**only.metadata, **marks})
    return Chunk(summary, id="summary", metadata=marks, spans=spans)


def _truncate(text: str, target: int, count: Callable[[str], int]) -> str:
    """The longest prefix of ``text`` ending at a sentence (else word) boundary within ``target`` tokens."""
    best = ""
    for seg in split_sentences(text):
        head = text[: seg.end]
        if count(head) > target:
            break
        best = head
    if best:
        return best
    for w in split_words(text):
        head = text[: w.end]
        if count(head) > target:
            break
        best = head
    return best
