"""Question-aware relevance filtering at sentence or document level."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.errors import ConfigError
from .._core.protocols import Embedder, Scorer
from .._core.result import join_text
from .._core.select import Unit, build_chunks, drop_weakest, fill_under_cap, make_units, record_chunk_scores
from .._core.text import fit_to_budget
from .._core.types import Chunk
from .._core.validate import validate_choice, validate_number
from .bridging import mentions, norm_title

__all__ = ["HybridWeights", "RelevanceFilter"]

Granularity = Literal["sentence", "document"]
ScorerSpec = Literal["hybrid", "embedding", "bm25"]


@dataclass(frozen=True, slots=True)
class HybridWeights:
    """The weights of :class:`RelevanceFilter`'s ``"hybrid"`` score.

    A unit's score is its embedding cosine to the query, plus ``lex`` times its min-max scaled BM25
    score, plus ``doc`` times the best such score of its chunk, plus ``bridge`` times its chunk's
    bridging signal, plus ``lead`` for the first sentence of a chunk. The bridging signal is 1 for a
    chunk whose title is named by the ``n_evidence`` best units (outside their own chunks), else
    ``title_in_query`` when the query names the title.

    With ``RelevanceFilter(entity_hops=...)`` the names in the ``entity_evidence`` best units (quoted
    titles and capitalised names with strength 1, years ``entity_year``) also raise the chunks that
    hold them, by ``entity_bridge`` times that strength, each further hop ``entity_decay`` times the
    previous one (``ctxcompress._compressors.bridging``).

    The defaults were chosen by a small grid search (``eval/tuning/sweep_relevance.py``) on the
    HotpotQA *training* sample ``hotpotqa_train100_hipporag``; the protocol and the one tie broken on
    HotpotQA dev are in ``eval/RESULTS.md``. A configuration may give them as a mapping
    (``weights: {lex: 0.4}``); the keys left out keep their defaults.
    """

    lex: float = 0.3
    n_evidence: int = 3
    title_in_query: float = 0.5
    doc: float = 0.3
    bridge: float = 0.5
    lead: float = 0.15
    entity_bridge: float = 0.5
    entity_decay: float = 0.7
    entity_evidence: int = 3
    entity_year: float = 0.3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("n_evidence", "entity_evidence"):
                validate_number(f"weights.{f.name}", value, low=1, integer=True, allow_none=False)
            else:
                validate_number(f"weights.{f.name}", value, low=0, allow_none=False)
                if not math.isfinite(value):
                    raise ConfigError(f"weights.{f.name} must be finite, got {value!r}")

    @classmethod
    def coerce(cls, value: HybridWeights | Mapping[str, Any] | None) -> HybridWeights:
        """``value`` as weights: ``None`` for the defaults, a mapping for some of them changed."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(str(k) for k in value if k not in known)
            if unknown:
                raise ConfigError(f"unknown hybrid weights {unknown}; valid: {', '.join(sorted(known))}")
            return cls(**value)
        raise ConfigError(f"weights must be HybridWeights or a mapping of them, got {type(value).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_scorer(scorer: ScorerSpec | Scorer) -> ScorerSpec | Scorer:
    """``scorer`` if it is a scorer name or an object with ``score(query, texts)``, else :class:`ConfigError`."""
    if isinstance(scorer, str):
        validate_choice("scorer", scorer, ("hybrid", "embedding", "bm25"))
    elif not callable(getattr(scorer, "score", None)):
        raise ConfigError("scorer must be 'hybrid', 'embedding', 'bm25' or an object with score(query, texts)")
    return scorer


def check_title_key(title_key: str) -> str:
    """``title_key`` if it is a str, else :class:`ConfigError`."""
    if not isinstance(title_key, str):
        raise ConfigError("title_key must be a str ('' to ignore titles)")
    return title_key


def chunk_title(chunk: Chunk, key: str) -> str:
    value = chunk.metadata.get(key) if key else None
    return value.strip() if isinstance(value, str) else ""


def _embedded_texts(units: Sequence[Unit], titles: Sequence[str]) -> list[str]:
    """What the embedding scorers embed for each unit: ``"<chunk title>: <unit text>"``, or the text."""
    return [f"{titles[u.chunk]}: {u.text}" if titles[u.chunk] else u.text for u in units]


def cascade_pick(cheap: NDArray[np.float64], cost: Sequence[int], room: float) -> list[int]:
    """Indices (sorted) of the best units by ``cheap`` (ties: earlier first) whose ``cost`` adds up to
    at least ``room`` (every unit when they do not reach it), at least one for a non-empty input."""
    picked: list[int] = []
    total = 0
    for i in np.argsort(-cheap, kind="stable"):
        if picked and total >= room:
            break
        picked.append(int(i))
        total += cost[int(i)]
    return sorted(picked)


def _minmax(x: NDArray[np.float64]) -> NDArray[np.float64]:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


class RelevanceFilter(Compressor):
    """Keep the sentences (or documents) most relevant to the query.

    Scoring (``scorer``):

    - ``"hybrid"`` (default): embedding cosine between the query and each unit (prefixed by its
      chunk's title when ``title_key`` metadata exists), plus lexical BM25 overlap, plus
      *multi-hop bridging*: chunks whose title (or salient entities) are named by the best evidence
      are raised, so the second paragraph of a bridge question is found through the entity the
      first one names; the lead sentence of a chunk (often its definition) gets a small prior.
    - ``"embedding"``: embedding cosine only; ``"bm25"``: lexical only, needs no model.
    - any :class:`~ctxcompress.Scorer` (e.g. a cross-encoder).

    Selection: ``top_k`` units, ``threshold`` (absolute score), ``percentile`` (keep units scoring
    at or above that percentile) — any combination — and then the token budget, filled greedily
    by score. Output keeps the original order; ``context_window`` adds neighbouring sentences
    when the budget allows. At least ``min_keep`` units are kept for a non-empty input, budget
    permitting: when the best unit alone is over the cap, its head (cut at a sentence, then word,
    boundary) is kept, and nothing under a cap of 0.

    ``entity_hops`` (hybrid scorer): rounds of bridging from the evidence *text* (``_compressors.bridging``):
    chunks that hold a name, quoted title or year of the best units are raised, also without titles;
    ``1`` (default) is one round, ``0`` bridges through titles only (the 0.1.0 default; why the
    default changed: ``eval/RESULTS.md``, "Entity bridging from the evidence text").

    ``weights``: the weights of the hybrid score, a :class:`HybridWeights` (or a mapping of some of
    its fields; ``None`` for the defaults), e.g. ``set_params(weights=HybridWeights(lead=0.05))``.

    ``filler_ratio`` (``0``–``1``, default ``0.5``): no filler far below a unit that did not fit.
    Once a unit is skipped because it does not fit the room left, a lower-ranked unit is kept only
    when its score above the call's lowest score is at least ``filler_ratio`` times the skipped
    unit's (:func:`~ctxcompress.extend.fill_under_cap`). So at a tiny budget the room the best
    sentence did not fit in is not spent on an unrelated one: the best unit's head is kept instead
    (with a warning), or nothing with ``min_keep=0`` (with a warning). At ordinary budgets it
    changes some selections, mostly by leaving low-scoring room unused (``eval/RESULTS.md``, "No filler
    far below a skipped unit"). ``0`` takes every unit that fits, as before.

    Options of the selection (``_compressors.coverage``; off by default, measured in ``eval/RESULTS.md``):
    ``redundancy`` > 0 takes units greedily by score minus ``redundancy`` times their largest cosine
    to a unit already kept (MMR, Carbonell & Goldstein 1998; needs the ``"hybrid"`` or
    ``"embedding"`` scorer), ``coverage`` > 0 adds ``coverage`` times the weight of the query words and
    bridge names a unit is the first to cover (a submodular coverage objective, Lin & Bilmes 2011);
    ``pronoun_context=True`` adds the sentence before a kept sentence that opens by pointing back
    ("He", "It", "The film", ...) when it fits the budget (context-aware extraction, as in EXIT).

    ``cascade`` (hybrid scorer, with a budget; ``None``, the default, embeds every unit): a cheap first
    pass ranks the units by the hybrid score without its embedding term (BM25, bridging, lead), and
    only the best of them, whose tokens add up to ``cascade`` times the budget, are embedded; the
    others score as if their cosine were the lowest of the embedded ones. Fewer texts reach the
    embedder on a tight budget (speed and answer recall of ``cascade=2``, and why it is not the
    default: ``eval/RESULTS_speed.md``). The same units are embedded with or without a vector store,
    so the output does not depend on what is stored.
    """

    def __init__(
        self,
        *,
        granularity: Granularity = "sentence",
        scorer: ScorerSpec | Scorer = "hybrid",
        embedder: Embedder | str | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
        percentile: float | None = None,
        context_window: int = 0,
        min_keep: int = 1,
        title_key: str = "title",
        on_error: OnError = "raise",
        entity_hops: int = 1,
        weights: HybridWeights | Mapping[str, Any] | None = None,
        filler_ratio: float = 0.5,
        redundancy: float = 0.0,
        coverage: float = 0.0,
        pronoun_context: bool = False,
        cascade: float | None = None,
    ) -> None:
        self.granularity: Granularity = validate_choice("granularity", granularity, ("sentence", "document"))
        self.scorer = check_scorer(scorer)
        self.embedder = embedder
        self.top_k = validate_number("top_k", top_k, low=1, integer=True)
        self.threshold = validate_number("threshold", threshold)
        self.percentile = validate_number("percentile", percentile, low=0, high=100)
        self.context_window = validate_number("context_window", context_window, low=0, integer=True, allow_none=False)
        self.min_keep = validate_number("min_keep", min_keep, low=0, integer=True, allow_none=False)
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        self.entity_hops = validate_number("entity_hops", entity_hops, low=0, high=4, integer=True, allow_none=False)
        self.filler_ratio = validate_number("filler_ratio", filler_ratio, low=0, high=1, allow_none=False)
        self.title_key = check_title_key(title_key)
        self.weights = HybridWeights.coerce(weights)
        self.redundancy = float(validate_number("redundancy", redundancy, low=0, allow_none=False))
        self.coverage = float(validate_number("coverage", coverage, low=0, allow_none=False))
        if not isinstance(pronoun_context, bool):
            raise ConfigError(f"pronoun_context must be a bool, got {pronoun_context!r}")
        self.pronoun_context = pronoun_context
        self.cascade = validate_number("cascade", cascade, low=1)
        self._embedder_obj: Embedder | None = None

    # ---------------------------------------------------------------- models
    def warm_up(self) -> None:
        if self.scorer in ("hybrid", "embedding"):
            self._get_embedder().encode(["warm up"])

    def embedding_texts(self, chunks: Sequence[Chunk]) -> list[tuple[Embedder, list[str]]]:
        """The unit texts :meth:`score_units` embeds for ``chunks`` (title-prefixed when titled)."""
        if not isinstance(self.scorer, str) or self.scorer == "bm25":
            return []
        units = make_units(list(chunks), self.granularity)
        if not units:
            return []
        titles = [chunk_title(c, self.title_key) for c in chunks]
        return [(self._get_embedder(), _embedded_texts(units, titles))]

    # ---------------------------------------------------------------- scoring
    def score_units(
        self,
        chunks: Sequence[Chunk],
        units: Sequence[Unit],
        query: str,
        ctx: CallContext,
        *,
        cost: Sequence[int] | None = None,
        cap: int | None = None,
    ) -> NDArray[np.float64]:
        """Relevance of each unit to ``query`` (larger is better); with ``cascade`` set, ``cost`` (tokens
        of each unit) and ``cap``, only the cascade's candidates are embedded."""
        if not units:
            return np.zeros(0)
        titles = [chunk_title(c, self.title_key) for c in chunks]
        if not query.strip():
            # nothing to be relevant to: prefer earlier units, keep the original order stable
            return -np.arange(len(units), dtype=np.float64)
        if not isinstance(self.scorer, str):
            return ctx.score(self.scorer, query, [u.text for u in units])
        if self.scorer == "bm25":
            return self._bm25(query, units, titles)
        texts = _embedded_texts(units, titles)
        emb = self._get_embedder()
        picked = None
        if self.scorer == "hybrid" and cost is not None:
            picked = self._cascade_candidates(query, chunks, units, titles, cost, cap)
        if picked is None:
            vecs = ctx.embed(emb, texts)
            qv = ctx.embed(emb, [query], queries=True)[0]
            cos: NDArray[np.float64] = (vecs @ qv).astype(np.float64)
        else:
            vecs = ctx.embed(emb, [texts[i] for i in picked])
            qv = ctx.embed(emb, [query], queries=True)[0]
            sub = (vecs @ qv).astype(np.float64)
            cos = np.full(len(units), float(sub.min()))
            cos[picked] = sub
            ctx.details["embedded_units"] = len(picked)
        if self.scorer == "embedding":
            return cos
        return self._hybrid(query, chunks, units, titles, cos)

    def _cascade_candidates(
        self,
        query: str,
        chunks: Sequence[Chunk],
        units: Sequence[Unit],
        titles: Sequence[str],
        cost: Sequence[int],
        cap: int | None,
    ) -> list[int] | None:
        """The units worth embedding (sorted), or ``None`` for all: the best by the hybrid score
        without its embedding term, until their tokens reach ``cascade`` times ``cap``."""
        if self.cascade is None or cap is None or sum(cost) <= self.cascade * cap:
            return None
        cheap = self._hybrid(query, chunks, units, titles, np.zeros(len(units)))
        return cascade_pick(cheap, cost, self.cascade * cap)

    def _bm25(self, query: str, units: Sequence[Unit], titles: Sequence[str]) -> NDArray[np.float64]:
        from .._backends.scorers import BM25Scorer

        texts = [f"{titles[u.chunk]} {u.text}" for u in units]
        scores: NDArray[np.float64] = np.asarray(BM25Scorer().score(query, texts), dtype=np.float64)
        return scores

    def _hybrid(
        self,
        query: str,
        chunks: Sequence[Chunk],
        units: Sequence[Unit],
        titles: Sequence[str],
        cos: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        w = self.weights
        n_chunks = len(chunks)
        unit_chunk = np.array([u.chunk for u in units])
        lex = _minmax(self._bm25(query, units, titles))
        base = cos + w.lex * lex
        # chunk relevance: the best unit of each chunk
        chunk_best = np.full(n_chunks, -np.inf)
        np.maximum.at(chunk_best, unit_chunk, base)
        chunk_best[~np.isfinite(chunk_best)] = 0.0
        # evidence: the best units overall; what they name opens the second hop
        order = np.argsort(-base, kind="stable")
        evidence = order[: w.n_evidence]
        evidence_chunks = {int(unit_chunk[i]) for i in evidence}
        evidence_text = " ".join(units[i].text for i in evidence).lower()
        qlow = query.lower()
        bridge = np.zeros(n_chunks)
        for ci in range(n_chunks):
            t = norm_title(titles[ci])
            if ci not in evidence_chunks and mentions(evidence_text, t, min_len=3, whole_words=False):
                bridge[ci] = 1.0
            elif mentions(qlow, t, min_len=3, whole_words=False):
                bridge[ci] = max(bridge[ci], w.title_in_query)
        lead = np.array([1.0 if u.index == 0 else 0.0 for u in units])
        total: NDArray[np.float64] = (
            base + w.doc * chunk_best[unit_chunk] + w.bridge * bridge[unit_chunk] + w.lead * lead
        )
        if self.entity_hops:
            from .bridging import entity_bridge

            texts = [u.text for u in units]
            index = [u.index for u in units]
            chunk_texts = [c.text for c in chunks]
            total = total + entity_bridge(
                query,
                chunk_texts,
                texts,
                unit_chunk,
                index,
                total,
                hops=self.entity_hops,
                n_evidence=w.entity_evidence,
                weight=w.entity_bridge,
                decay=w.entity_decay,
                year_strength=w.entity_year,
            )
        return total

    # ---------------------------------------------------------------- selection
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        units = make_units(chunks, self.granularity)
        if not units:
            return []
        cost = [ctx.count(u.text) + 1 for u in units]
        scores = self.score_units(chunks, units, query, ctx, cost=cost, cap=cap)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        eligible = self._eligible(scores, order)
        if self.redundancy or self.coverage:
            taken = self._cover(chunks, units, scores, eligible, query, cost, cap, ctx)
            used = sum(cost[i] for i in taken)
            refused = 0
        else:
            taken, used = fill_under_cap(
                eligible, cost.__getitem__, cap, scores=scores.tolist(), filler_ratio=self.filler_ratio
            )
            refused = self._refused_fillers(eligible, taken, cost, used, cap)
        chosen = set(taken)
        if refused and not chosen and self.min_keep == 0:
            ctx.warnings.append(
                f"nothing kept: the best unit is over the budget of {cap} tokens and no other scores near it "
                f"(filler_ratio={self.filler_ratio})"
            )
        if len(chosen) < self.min_keep:  # never empty for a non-empty input unless asked
            for i in order:
                if len(chosen) >= self.min_keep:
                    break
                chosen.add(i)
        if self.pronoun_context and self.granularity == "sentence":
            from .coverage import pronoun_neighbours

            chosen = pronoun_neighbours(units, chosen, order, cost, used, cap)
            used = sum(cost[i] for i in chosen)
        if self.context_window and self.granularity == "sentence":
            chosen = self._add_context(units, order, chosen, cost, used, cap)
        out = build_chunks(chunks, units, sorted(chosen))
        # exact check: drop the weakest units until the rendered text fits (O(log k) full counts)
        if cap is not None and ctx.count(join_text(out)) > cap:
            strongest_first = sorted(chosen, key=lambda i: scores[i])[::-1]
            best_unit = strongest_first[0]
            chosen = set(drop_weakest(chunks, units, strongest_first, cap, ctx.count))
            out = build_chunks(chunks, units, sorted(chosen))
            if not out and cap > 0:  # even the best unit alone is over the cap: keep its head
                out, was_cut = fit_to_budget(build_chunks(chunks, units, [best_unit]), cap, ctx.count)
                if was_cut:
                    ctx.warnings.append(
                        f"the best unit alone is over the budget of {cap} tokens: its head was kept "
                        "(cut at a sentence/word boundary)"
                    )
        record_chunk_scores(ctx.scores, chunks, units, scores)
        ctx.details.update(
            {
                "units": len(units),
                "kept_units": len(chosen),
                "granularity": self.granularity,
                "fillers_refused": refused,
            }
        )
        return out

    @staticmethod
    def _refused_fillers(
        eligible: Sequence[int], taken: Sequence[int], cost: Sequence[int], used: int, cap: int | None
    ) -> int:
        """How many eligible units would have fitted the room left but were refused as fillers."""
        if cap is None:
            return 0
        kept = set(taken)
        return sum(1 for i in eligible if i not in kept and used + cost[i] <= cap)

    def _cover(
        self,
        chunks: Sequence[Chunk],
        units: Sequence[Unit],
        scores: NDArray[np.float64],
        eligible: list[int],
        query: str,
        cost: Sequence[int],
        cap: int | None,
        ctx: CallContext,
    ) -> list[int]:
        """The eligible units chosen by :func:`~ctxcompress._compressors.coverage.coverage_select`
        (coverage of the query's words and the best units' names, MMR redundancy), in the order taken."""
        from .coverage import concepts_of, coverage_select

        texts = [units[i].text for i in eligible]
        covers, weights = concepts_of(query, texts, evidence=list(range(min(3, len(eligible)))))
        vectors = None
        if self.redundancy and self.scorer in ("hybrid", "embedding"):
            titles = [chunk_title(c, self.title_key) for c in chunks]
            keyed = [
                f"{titles[units[i].chunk]}: {units[i].text}" if titles[units[i].chunk] else units[i].text
                for i in eligible
            ]
            raw = np.asarray(ctx.embed(self._get_embedder(), keyed), dtype=np.float64)
            vectors = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        picked = coverage_select(
            scores[eligible],
            [cost[i] for i in eligible],
            cap,
            covers=covers,
            concept_weights=weights,
            vectors=vectors,
            coverage=self.coverage,
            redundancy=self.redundancy,
        )
        return [eligible[k] for k in picked]

    def _eligible(self, scores: NDArray[np.float64], order: list[int]) -> list[int]:
        keep = order
        if self.threshold is not None:
            keep = [i for i in keep if scores[i] >= self.threshold]
        if self.percentile is not None:
            cut = float(np.percentile(scores, self.percentile))
            keep = [i for i in keep if scores[i] >= cut]
        if self.top_k is not None:
            keep = keep[: self.top_k]
        return keep

    def _add_context(
        self,
        units: Sequence[Unit],
        order: Sequence[int],
        chosen: set[int],
        cost: Sequence[int],
        used: int,
        cap: int | None,
    ) -> set[int]:
        result = set(chosen)
        for i in [j for j in order if j in chosen]:
            for d in range(1, self.context_window + 1):
                for j in (i - d, i + d):
                    same_chunk = 0 <= j < len(units) and units[j].chunk == units[i].chunk
                    if same_chunk and j not in result and (cap is None or used + cost[j] <= cap):
                        result.add(j)
                        used += cost[j]
        return result
