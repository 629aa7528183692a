"""KG-schema pruning (KG-RAG, Soman et al., Bioinformatics 2024): minimal graph context for a question.

:class:`KGSchemaPruner` links the entities of a question to nodes of a knowledge graph, takes each
node's one-hop neighbourhood (optionally only some relation types), verbalises every edge as one
sentence with its provenance, and keeps the sentences most similar to the question: above the
``percentile``-th percentile of that node's similarities *and* above ``min_similarity`` (both
strict), at most ``context_volume / n_entities`` per node, ordered by similarity.

Two entry points, one pruning rule:

- :meth:`KGSchemaPruner.retrieve` (``query -> CompressionResult``) produces context *from the
  graph*. Its sources are the full one-hop contexts, one chunk per linked node (one sentence per
  line), so ``report.tokens_in`` is the full one-hop context, ``result.sources`` holds it, and every
  kept sentence has a verbatim span into it. The CLI's ``ctxcompress kg`` uses this path.
- :meth:`KGSchemaPruner.compress` (``chunks -> CompressionResult``, the verb every compressor
  shares) post-processes retrieved documents: each chunk is one entity's context. Its facts are the
  graph triples in ``metadata["triples"]`` when present (verbalised as above; a verbatim span when the
  chunk's text holds the sentence, else the sentence is new text with an abstractive span over the
  whole chunk), else the sentences of its text (KG-RAG's pre-extracted node context text). So
  "empty in, empty out" holds, and the pruner composes in a :class:`Pipeline`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.errors import BackendError, ConfigError, InputError
from .._core.log import logger
from .._core.protocols import Embedder, TokenCounter
from .._core.result import CompressionResult
from .._core.types import Budget, Chunk, Span
from .._core.validate import validate_choice, validate_number
from .compact import render_compact
from .entities import ENTITY_PROMPT, parse_entities
from .facts import Fact
from .graph import is_graph
from .linking import Link, NodeIndex, get_index
from .loaders import load_graph
from .traversal import neighbourhood, relation_matches
from .verbalise import triple_fact, triple_field

__all__ = ["FACTS_KEY", "KGSchemaPruner", "select_by_similarity"]

Output = Literal["per_entity", "joined"]
Format = Literal["prose", "compact", "auto"]

FACTS_KEY = "kg_facts"
"""Output-chunk metadata key: one entry per kept sentence (node ids, edge key, provenance, similarity)."""

JOINED_ID = "kg-context"
"""Id of the single output chunk when ``output="joined"``."""

FACT_SEPARATOR = "\n"
"""Sentences of one entity's context are one per line, in the sources and in the output."""

GraphSpec = Any  # a networkx graph, a path, or a list of paths


def select_by_similarity(
    similarities: Sequence[float] | np.ndarray[Any, Any],
    *,
    percentile: float | None = 75.0,
    min_similarity: float | None = 0.5,
    max_keep: int | None = None,
) -> list[int]:
    """KG-RAG's pruning rule: the indices kept, most similar first.

    A sentence is kept when its similarity is strictly above the ``percentile``-th percentile of all
    ``similarities`` (numpy's linear interpolation) and strictly above ``min_similarity``; at most
    ``max_keep`` are kept (``None``: no limit; either threshold ``None``: not applied). For
    ``[.82, .71, .66, .58, .49, .40, .35, .30]`` the 75th percentile is 0.6725, so ``[0, 1]``.
    """
    sims = np.asarray(similarities, dtype=np.float64).reshape(-1)
    if sims.size == 0:
        return []
    cut = float(np.percentile(sims, percentile)) if percentile is not None else -math.inf
    floor = float(min_similarity) if min_similarity is not None else -math.inf
    order = np.argsort(-sims, kind="stable")
    keep = [int(i) for i in order if sims[i] > cut and sims[i] > floor]
    return keep if max_keep is None else keep[: max(0, max_keep)]


# --------------------------------------------------------------------------- per-call state
@dataclass
class _Context:
    """One entity's context: its source chunk and its facts, each at (start, end) in the chunk or None."""

    chunk: Chunk
    facts: list[Fact]
    offsets: list[tuple[int, int] | None]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pending:
    """Graph facts for the sources :meth:`KGSchemaPruner.retrieve` hands to ``compress``."""

    contexts: dict[str, _Context]
    n_entities: int
    warnings: list[str]
    details: dict[str, Any]


_PENDING: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar("ctxcompress_kg_pending", default=None)


def _as_names(name: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ConfigError(f"{name} must be None or a list of strings, got {type(value).__name__}")
    items = tuple(value)
    if not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{name} must be None (all) or a non-empty list of non-empty strings, got {value!r}")
    return items


def _as_graph(value: Any) -> GraphSpec:
    if value is None or is_graph(value):
        return value
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, Sequence) and value and all(isinstance(v, (str, os.PathLike)) for v in value):
        return [os.fspath(v) for v in value]
    raise ConfigError(
        "graph must be a networkx graph, a path (Hetionet or DISEASES folder, edge-list file) or a list "
        f"of paths; got {type(value).__name__}"
    )


class KGSchemaPruner(Compressor):
    """Minimal, provenance-carrying knowledge-graph context for a question (KG-RAG's context pruning).

    ``graph``: a networkx graph (nodes with ``name``/``type``, edges with ``predicate`` and a
    provenance attribute), or a path / list of paths loaded with :func:`load_graph` (Hetionet and
    JensenLab DISEASES folders, CSV/TSV/JSON-lines edge lists; several are merged on the Disease
    Ontology id). Only paths serialise: ``to_dict()`` of a pruner holding a graph *object* raises
    :class:`ConfigError`. ``None`` is allowed for :meth:`compress` on chunks that carry their facts.

    Linking: ``node_types`` restricts which nodes can be linked (``None``: every node with an edge;
    KG-RAG links ``["Disease"]``); exact / alias matches, then embedded n-grams with cosine
    ``>= link_threshold`` (n-grams of ``min_fuzzy_words`` to ``max_fuzzy_words`` words: single words
    link only exactly by default, as every fuzzy single-word link on the KG-RAG dev questions was
    wrong, e.g. "syndrome" -> "CHILD syndrome"), else the question's ``fallback_k`` nearest nodes.
    ``entity_extractor`` (any ``LLM`` callable) replaces the first two steps with KG-RAG's JSON entity
    extraction (a reply without JSON falls back to n-gram linking, with a warning). The node-name embeddings are built
    once per graph object and reused by every call (saved under ``index_cache`` when given).

    Context: the one-hop edges of ``relation_types`` (``None``: all; a predicate such as
    ``"associates"`` or a relation code such as ``"DaG"``), one sentence per edge
    (``"{SourceType} {source} {predicate} {TargetType} {target} and Provenance of this association is
    {source_db}."``) with the ``edge_properties`` asked for, after the node's identifier sentence.

    Pruning: :func:`select_by_similarity` per entity with ``percentile``, ``min_similarity`` and
    ``context_volume / n_entities``; ``output="per_entity"`` gives one chunk per entity,
    ``"joined"`` one chunk. Every output chunk lists each kept sentence's provenance under
    ``metadata["kg_facts"]``.

    Rendering (``format``), after the selection (the same facts are kept either way): ``"prose"``
    (default) writes KG-RAG's one sentence per edge; ``"compact"`` one line per subject and relation
    (``Disease psoriasis — associates Gene: IL23R, TNIP1 (DISEASES); CARM1 (TIGA)``, see
    :func:`~ctxcompress._kg.compact.render_compact`), every item a verbatim span into its edge's
    sentence and listed in ``metadata["kg_facts"]`` as before; ``"auto"`` renders both and keeps the
    one with fewer tokens for the call's counter (under a budget: the one that keeps more facts, then
    the cheaper). The stage details say which (``"format"``). Under a budget the facts kept are the
    most similar ones whose *rendering* fits, so the cap is hard in every format.
    """

    def __init__(
        self,
        graph: GraphSpec = None,
        *,
        embedder: Embedder | str | None = None,
        node_types: Sequence[str] | None = None,
        relation_types: Sequence[str] | None = None,
        edge_properties: Sequence[str] = (),
        percentile: float | None = 75.0,
        min_similarity: float | None = 0.5,
        context_volume: int | None = 150,
        output: Output = "per_entity",
        format: Format = "prose",
        entity_extractor: Callable[[str], str] | None = None,
        link_threshold: float = 0.9,
        fallback_k: int = 5,
        min_fuzzy_words: int = 2,
        max_fuzzy_words: int = 6,
        index_cache: str | None = None,
        on_error: OnError = "raise",
    ) -> None:
        if isinstance(embedder, str):
            if not embedder.strip():
                raise ConfigError("embedder must be None, a spec string such as 'onnx', or an Embedder")
        elif embedder is not None and not callable(getattr(embedder, "encode", None)):
            raise ConfigError("embedder must be None, a spec string such as 'onnx', or an object with encode(texts)")
        self.embedder = embedder
        self.percentile = validate_number("percentile", percentile, low=0, high=100)
        self.min_similarity = validate_number("min_similarity", min_similarity, low=-1.0, high=1.0)
        self.context_volume = validate_number("context_volume", context_volume, low=1, integer=True)
        self.link_threshold = validate_number("link_threshold", link_threshold, low=-1.0, high=1.0, allow_none=False)
        self.fallback_k = validate_number("fallback_k", fallback_k, low=1, integer=True, allow_none=False)
        self.min_fuzzy_words = validate_number(
            "min_fuzzy_words", min_fuzzy_words, low=1, integer=True, allow_none=False
        )
        self.max_fuzzy_words = validate_number(
            "max_fuzzy_words", max_fuzzy_words, low=1, integer=True, allow_none=False
        )
        self.output: Output = validate_choice("output", output, ("per_entity", "joined"))
        self.format: Format = validate_choice("format", format, ("prose", "compact", "auto"))
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        if entity_extractor is not None and not callable(entity_extractor):
            raise ConfigError("entity_extractor must be None or a callable prompt -> text (any LLM)")
        self.entity_extractor = entity_extractor
        if index_cache is not None and not isinstance(index_cache, (str, os.PathLike)):
            raise ConfigError("index_cache must be None or a folder path")
        self.index_cache = os.fspath(index_cache) if index_cache is not None else None
        self.edge_properties: tuple[str, ...] = _as_names("edge_properties", edge_properties or None) or ()
        self.graph: GraphSpec = _as_graph(graph)
        self.node_types = _as_names("node_types", node_types)
        self.relation_types = _as_names("relation_types", relation_types)
        self._embedder_obj: Embedder | None = None
        self._graph_obj: Any = None

    @property
    def abstractive(self) -> bool:
        """True unless ``format="prose"``: a compact line is new text (its items are verbatim)."""
        return self.format != "prose"

    # ---------------------------------------------------------------- lazy state
    def get_graph(self) -> Any:
        """The graph object (loaded from the configured path(s) on first use, shared per paths)."""
        if self._graph_obj is None:
            if self.graph is None:
                raise ConfigError(
                    "this KGSchemaPruner has no graph: pass graph=<networkx graph or path(s)> to link questions "
                    "and retrieve context (compress() on chunks with facts works without one)"
                )
            self._graph_obj = self.graph if is_graph(self.graph) else load_graph(self.graph)
        return self._graph_obj

    def _relations(self) -> frozenset[str] | None:
        return None if self.relation_types is None else frozenset(r.lower() for r in self.relation_types)

    def index(self) -> NodeIndex:
        """The node index of the graph (built once, shared by pruners using the same graph object)."""
        types = None if self.node_types is None else frozenset(t.lower() for t in self.node_types)
        return get_index(self.get_graph(), types, self._relations())

    def warm_up(self) -> None:
        """Load the graph, build the node index and embed the node names now."""
        if self.graph is None:
            self._get_embedder().encode(["warm up"])
            return
        idx = self.index()
        if len(idx):
            idx.search(self._get_embedder(), ["warm up"], 1, self.index_cache)

    # ---------------------------------------------------------------- linking
    def link(self, query: str) -> list[Link]:
        """The graph nodes ``query`` is about (see the class docstring for the steps)."""
        return self._link(query)[0]

    def _link(self, query: str) -> tuple[list[Link], list[str]]:
        if not isinstance(query, str):
            raise InputError(f"query must be a str, got {type(query).__name__}")
        idx = self.index()
        emb = self._get_embedder()
        warnings: list[str] = []
        if not query.strip() or not len(idx):
            return [], warnings
        if self.entity_extractor is not None:
            kinds = " or ".join(self.node_types) if self.node_types else "biomedical"
            key = (self.node_types[0] + "s") if self.node_types and len(self.node_types) == 1 else "Entities"
            prompt = ENTITY_PROMPT.format(kinds=kinds, key=key, question=query)
            try:
                reply = self.entity_extractor(prompt)
            except Exception as exc:
                if self.on_error == "raise":
                    raise BackendError(f"entity extractor failed: {exc}") from exc
                reply, warnings = "", [f"entity extractor failed ({exc}); fell back to n-gram linking"]
            entities = parse_entities(reply) if isinstance(reply, str) else None
            if entities:
                try:
                    links = idx.link_entities(entities, emb, cache_dir=self.index_cache)
                except BackendError as exc:
                    if self.on_error != "passthrough":
                        raise
                    warnings.append(f"embedder failed while linking extracted entities ({exc})")
                    links = []
                if links:
                    return links, warnings
            if not warnings:
                warnings.append(
                    "entity extractor returned no JSON entity list; fell back to n-gram linking"
                    if entities is None
                    else "entity extractor found no entity; fell back to n-gram linking"
                )
        try:
            links = idx.link(
                query,
                emb,
                threshold=self.link_threshold,
                fallback_k=self.fallback_k,
                cache_dir=self.index_cache,
                min_fuzzy_words=self.min_fuzzy_words,
                max_fuzzy_words=self.max_fuzzy_words,
            )
        except BackendError as exc:
            if self.on_error != "passthrough":
                raise
            warnings.append(f"embedder failed while linking ({exc}); only exact name matches were linked")
            links = idx.link(query, emb, threshold=self.link_threshold, fallback_k=self.fallback_k, embed=False)
        return links, warnings

    def one_hop(self, node: Any) -> list[Fact]:
        """The full one-hop context of ``node`` (identifier sentence + one sentence per kept edge)."""
        graph = self.get_graph()
        if node not in graph:
            raise InputError(f"node {node!r} is not in the graph")
        return neighbourhood(
            graph, node, relation_types=self._relations(), edge_properties=self.edge_properties, identity=True
        )

    # ---------------------------------------------------------------- retrieval
    def retrieve(
        self,
        query: str,
        *,
        budget: Budget | int | float | None = None,
        counter: TokenCounter | str | None = None,
    ) -> CompressionResult:
        """Context for ``query`` from the graph, pruned: link, take one-hop contexts, prune.

        ``result.sources`` are the full one-hop contexts (one chunk per linked node, id
        ``"kg:<node id>"``), so ``report.tokens_in`` counts the full context and ``tokens_out`` the
        pruned one; the stage details list the linked entities and the facts kept.
        """
        links, warnings = self._link(query)
        contexts: dict[str, _Context] = {}
        sources: list[Chunk] = []
        for lk in links:
            facts = self.one_hop(lk.node)
            if not facts:
                continue
            cid = f"kg:{lk.node}"
            offsets: list[tuple[int, int] | None] = []
            pos = 0
            for f in facts:
                offsets.append((pos, pos + len(f.text)))
                pos += len(f.text) + len(FACT_SEPARATOR)
            chunk = Chunk(
                FACT_SEPARATOR.join(f.text for f in facts),
                id=cid,
                metadata={
                    "kg_node": str(lk.node),
                    "kg_name": lk.name,
                    "kg_type": lk.type,
                    "kg_link": lk.to_dict(),
                    "kg_facts_total": len(facts),
                },
                score=lk.score,
            )
            contexts[cid] = _Context(chunk, facts, offsets, {"link": lk.to_dict()})
            sources.append(chunk)
        if not links and query.strip():
            warnings.append("no graph node could be linked to the question: no context")
        details = {"entities": [lk.to_dict() for lk in links]}
        pending = _Pending(contexts, max(1, len(links)), warnings, details)
        token = _PENDING.set(pending)
        try:
            result = self.compress(sources, query=query, budget=budget, counter=counter)
        finally:
            _PENDING.reset(token)
        if not sources and warnings:
            for warning in warnings:  # compress() had nothing to report them with: log them here
                logger.warning("%s", warning)
            report = dataclasses.replace(result.report, warnings=tuple(result.report.warnings) + tuple(warnings))
            result = dataclasses.replace(result, report=report)
        return result

    async def aretrieve(
        self,
        query: str,
        *,
        budget: Budget | int | float | None = None,
        counter: TokenCounter | str | None = None,
    ) -> CompressionResult:
        """Async :meth:`retrieve` (runs in a worker thread)."""
        import asyncio

        return await asyncio.to_thread(self.retrieve, query, budget=budget, counter=counter)

    # ---------------------------------------------------------------- the compressor hook
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        pending = _PENDING.get()
        if pending is not None and all(c.id in pending.contexts and pending.contexts[c.id].chunk is c for c in chunks):
            contexts = [pending.contexts[str(c.id)] for c in chunks]
            n_entities = pending.n_entities
            ctx.warnings.extend(pending.warnings)
            ctx.details.update(pending.details)
        else:
            contexts = [c for c in (self._context_of(ch) for ch in chunks) if c.facts]
            n_entities = max(1, len(contexts))
        return self._prune(contexts, query=query, cap=cap, ctx=ctx, n_entities=n_entities)

    def _context_of(self, chunk: Chunk) -> _Context:
        triples = chunk.metadata.get("triples")
        if triples is None:
            from .._core.segment import split_sentences

            segs = split_sentences(chunk.text)
            return _Context(chunk, [Fact(text=s.text) for s in segs], [(s.start, s.end) for s in segs])
        if isinstance(triples, (str, bytes)) or not isinstance(triples, Iterable):
            raise InputError(f"chunk {chunk.id!r}: metadata['triples'] must be a list of triples")
        wanted = self._relations()
        facts: list[Fact] = []
        offsets: list[tuple[int, int] | None] = []
        cursor = 0
        for n, item in enumerate(triples):
            fact = triple_fact(item, self.edge_properties, where=f"chunk {chunk.id!r} triple {n}")
            if not relation_matches({"predicate": fact.predicate, "relation": triple_field(item, "relation")}, wanted):
                continue
            at = chunk.text.find(fact.text, cursor)
            if at < 0:
                at = chunk.text.find(fact.text)
            if at >= 0:
                offsets.append((at, at + len(fact.text)))
                cursor = at + len(fact.text)
            else:
                offsets.append(None)
            facts.append(fact)
        return _Context(chunk, facts, offsets)

    def _prune(
        self, contexts: list[_Context], *, query: str, cap: int | None, ctx: CallContext, n_entities: int
    ) -> list[Chunk]:
        texts = [f.text for c in contexts for f in c.facts]
        if not texts:
            return []
        sims: np.ndarray[Any, Any] | None = None
        if query.strip():
            emb = self._get_embedder()
            vecs = ctx.embed(emb, texts)
            qv = ctx.embed(emb, [query], queries=True)[0]
            sims = (vecs @ qv).astype(np.float64)
        per = None if self.context_volume is None else int(self.context_volume / max(1, n_entities))
        kept: list[tuple[int, int, float | None]] = []  # (context, fact, similarity), in output order
        stats = []
        pos = 0
        for ci, c in enumerate(contexts):
            n = len(c.facts)
            if sims is None:
                keep = list(range(n if per is None else min(n, per)))
                entity_sims = None
            else:
                entity_sims = sims[pos : pos + n]
                keep = select_by_similarity(
                    entity_sims, percentile=self.percentile, min_similarity=self.min_similarity, max_keep=per
                )
            pos += n
            for fi in keep:
                kept.append((ci, fi, None if entity_sims is None else float(entity_sims[fi])))
            if entity_sims is not None and c.chunk.id is not None:
                ctx.scores[c.chunk.id] = float(entity_sims.max())
            stats.append({"id": c.chunk.id, "facts_in": n, "facts_kept": len(keep)})
        fmt, kept, out = self._render_kept(contexts, kept, cap, ctx)
        ctx.details.update(
            {
                "format": fmt,
                "facts_in": len(texts),
                "facts_kept": len(kept),
                "max_per_entity": per,
                "n_entities": n_entities,
                "contexts": stats,
            }
        )
        return out

    def _render_kept(
        self, contexts: list[_Context], kept: list[tuple[int, int, float | None]], cap: int | None, ctx: CallContext
    ) -> tuple[str, list[tuple[int, int, float | None]], list[Chunk]]:
        """The format used, the facts kept under ``cap`` and the output chunks."""
        formats = ("prose", "compact") if self.format == "auto" else (self.format,)
        best: tuple[tuple[int, int], str, list[tuple[int, int, float | None]], list[Chunk]] | None = None
        for fmt in formats:
            chosen = self._fit(contexts, kept, cap, ctx, fmt) if cap is not None and kept else kept
            out = self._build(contexts, chosen, fmt)
            rank = (-len(chosen), ctx.count(self._render(out)) if len(formats) > 1 else 0)
            if best is None or rank < best[0]:
                best = (rank, fmt, chosen, out)
        assert best is not None
        return best[1], best[2], best[3]

    def _fit(
        self,
        contexts: list[_Context],
        kept: list[tuple[int, int, float | None]],
        cap: int,
        ctx: CallContext,
        fmt: str = "prose",
    ) -> list[tuple[int, int, float | None]]:
        """The most similar kept facts whose rendering fits ``cap`` (binary search on their number)."""

        def order(i: int) -> tuple[float, int]:
            s = kept[i][2]
            return (-(s if s is not None else 0.0), i)

        rank = sorted(range(len(kept)), key=order)

        def subset(m: int) -> list[tuple[int, int, float | None]]:
            chosen = set(rank[:m])
            return [k for i, k in enumerate(kept) if i in chosen]

        def fits(m: int) -> bool:
            return ctx.count(self._render(self._build(contexts, subset(m), fmt))) <= cap

        if fits(len(kept)):
            return kept
        lo, hi = 0, len(kept)  # fits(lo) holds (empty output), fits(hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        return subset(lo)

    def _build(
        self, contexts: list[_Context], kept: list[tuple[int, int, float | None]], fmt: str = "prose"
    ) -> list[Chunk]:
        by_ctx: dict[int, list[tuple[int, float | None]]] = {}
        for ci, fi, s in kept:
            by_ctx.setdefault(ci, []).append((fi, s))
        pieces: list[tuple[_Context, str, list[Span], list[dict[str, Any]]]] = []
        for ci in sorted(by_ctx):
            c = contexts[ci]
            if fmt == "compact":
                pieces.append((c, *_compact_piece(c, by_ctx[ci])))
                continue
            parts: list[str] = []
            spans: list[Span] = []
            metas: list[dict[str, Any]] = []
            pos = 0
            for fi, s in by_ctx[ci]:
                fact = c.facts[fi]
                if parts:
                    pos += len(FACT_SEPARATOR)
                parts.append(fact.text)
                spans.extend(_spans_for(c.chunk, c.offsets[fi], pos, len(fact.text)))
                metas.append(_fact_meta(fact, s, c.chunk.id))
                pos += len(fact.text)
            pieces.append((c, FACT_SEPARATOR.join(parts), spans, metas))
        if self.output == "joined":
            if not pieces:
                return []
            text_parts: list[str] = []
            all_spans: list[Span] = []
            all_metas: list[dict[str, Any]] = []
            offset = 0
            for _, text, spans, metas in pieces:
                if text_parts:
                    offset += len(FACT_SEPARATOR)
                text_parts.append(text)
                all_spans.extend(
                    dataclasses.replace(sp, out_start=sp.out_start + offset, out_end=sp.out_end + offset)
                    for sp in spans
                )
                all_metas.extend(metas)
                offset += len(text)
            entities = [
                {k: v for k, v in c.chunk.metadata.items() if k.startswith("kg_") and k != FACTS_KEY}
                | {"id": c.chunk.id}
                for c, *_ in pieces
            ]
            return [
                Chunk(
                    FACT_SEPARATOR.join(text_parts),
                    id=JOINED_ID,
                    metadata={"kg_entities": entities, FACTS_KEY: all_metas},
                    spans=tuple(all_spans),
                )
            ]
        out: list[Chunk] = []
        for c, text, spans, metas in pieces:
            if text == c.chunk.text and c.chunk.is_source:
                spans = [Span(str(c.chunk.id), 0, len(text), 0, len(text))]
            meta = dict(c.chunk.metadata)
            meta[FACTS_KEY] = metas
            out.append(c.chunk.replace(text=text, spans=tuple(spans), metadata=meta))
        return out

    # ---------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        if is_graph(self.graph):
            raise ConfigError(
                "a KGSchemaPruner holding a graph object cannot be serialised: configure it with the graph's "
                "path(s) instead (graph='path/to/hetionet_v1' or a list of paths), which load_graph() reads"
            )
        return super().to_dict()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, KGSchemaPruner)
        mine, theirs = self.get_params(deep=False), other.get_params(deep=False)
        if is_graph(self.graph) or is_graph(other.graph):
            if self.graph is not other.graph:
                return False
            mine.pop("graph")
            theirs.pop("graph")
        return mine == theirs

    __hash__ = object.__hash__

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if not is_graph(self.graph):
            state["_graph_obj"] = None  # reloaded from the paths
        return state


# --------------------------------------------------------------------------- helpers
def _spans_for(chunk: Chunk, where: tuple[int, int] | None, out_start: int, length: int) -> list[Span]:
    if where is not None:
        return chunk.trace(where[0], where[1], out_start=out_start)
    # a triple whose sentence is not in the chunk's text: it summarises the whole chunk
    if chunk.is_source:
        return [Span(str(chunk.id), 0, len(chunk.text), out_start, out_start + length, verbatim=False)]
    return [
        Span(sp.source_id, sp.start, sp.end, out_start, out_start + length, verbatim=False) for sp in chunk.spans[:1]
    ]


def _compact_piece(c: _Context, chosen: list[tuple[int, float | None]]) -> tuple[str, list[Span], list[dict[str, Any]]]:
    """One context's kept facts as compact lines: the text, its spans and the facts' metadata."""
    pivot = c.chunk.metadata.get("kg_node")
    facts = [c.facts[fi] for fi, _ in chosen]
    text, placed = render_compact(facts, None if pivot is None else str(pivot))
    spans: list[Span] = []
    for p in placed:
        fi = chosen[p.fact][0]
        where = c.offsets[fi]
        if p.header is not None:
            spans.extend(_summary_spans(c.chunk, where, p.header[0], p.header[1]))
        if where is not None and p.name_at is not None:
            spans.extend(c.chunk.trace(where[0] + p.name_at[0], where[0] + p.name_at[1], out_start=p.start))
        else:
            spans.extend(_summary_spans(c.chunk, where, p.start, p.end))
    spans.sort(key=lambda sp: (sp.out_start, sp.out_end))
    metas = [_fact_meta(c.facts[fi], s, c.chunk.id) for fi, s in chosen]
    return text, spans, metas


def _summary_spans(chunk: Chunk, where: tuple[int, int] | None, out_start: int, out_end: int) -> list[Span]:
    """Abstractive spans placing ``[out_start, out_end)`` over the fact's sentence (or the whole chunk)."""
    if where is None:
        return _spans_for(chunk, None, out_start, out_end - out_start)
    return [
        Span(sp.source_id, sp.start, sp.end, out_start, out_end, verbatim=False)
        for sp in chunk.trace(where[0], where[1], out_start=0)
    ]


def _fact_meta(fact: Fact, similarity: float | None, entity: str | None) -> dict[str, Any]:
    meta = {k: v for k, v in fact.meta().items() if v not in (None, "", {})}
    meta["entity"] = entity
    meta["similarity"] = None if similarity is None else round(similarity, 6)
    return meta
