"""Lost-in-the-middle reordering: the most relevant chunks at the start and the end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.protocols import Embedder
from .._core.result import join_text
from .._core.text import fewest_drops, fit_to_budget, greedy_fill
from .._core.types import Chunk
from .._core.validate import validate_choice
from .relevance_filter import chunk_title

__all__ = ["LongContextReorder", "edge_order"]

T = TypeVar("T")


def edge_order(items_by_relevance: Sequence[T]) -> list[T]:
    """Given items from most to least relevant, place the best at both edges: 1, 3, 5, ..., 4, 2."""
    front = list(items_by_relevance[0::2])
    back = list(items_by_relevance[1::2])
    return front + back[::-1]


class LongContextReorder(Compressor):
    """Reorder chunks so the most relevant sit at the start and the end (Liu et al., 2023).

    Relevance is the chunk's retriever ``score`` when ``use_scores`` is true and every chunk has
    one, otherwise the embedding cosine to the query. Text is not changed. Under a token budget,
    the least relevant whole chunks are dropped first; when not even the most relevant one fits,
    its head (cut at a sentence, then word, boundary) is kept.
    """

    def __init__(
        self,
        *,
        embedder: Embedder | str | None = None,
        use_scores: bool = False,
        title_key: str = "title",
        on_error: OnError = "raise",
    ) -> None:
        self.embedder = embedder
        self.use_scores = validate_choice("use_scores", use_scores, (True, False))
        self.title_key = title_key
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        self._embedder_obj: Embedder | None = None

    def _texts(self, chunks: Sequence[Chunk]) -> list[str]:
        return [f"{chunk_title(c, self.title_key)}: {c.text}".lstrip(": ") for c in chunks]

    def embedding_texts(self, chunks: Sequence[Chunk]) -> list[tuple[Embedder, list[str]]]:
        """Each chunk's text, title-prefixed, as embedded when the chunks carry no retriever scores
        (after another stage the chunks, hence the texts, differ: then misses are embedded at query time)."""
        if self.use_scores and all(c.score is not None for c in chunks):
            return []
        return [(self._get_embedder(), self._texts(chunks))] if chunks else []

    def _relevance(self, chunks: list[Chunk], query: str, ctx: CallContext) -> list[float]:
        if self.use_scores and all(c.score is not None for c in chunks):
            return [float(c.score) for c in chunks if c.score is not None]
        if not query.strip():
            return [-float(i) for i in range(len(chunks))]
        emb = self._get_embedder()
        texts = self._texts(chunks)
        vecs = ctx.embed(emb, texts)
        qv = ctx.embed(emb, [query], queries=True)[0]
        return [float(x) for x in vecs @ qv]

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        rel = self._relevance(chunks, query, ctx)
        ranked = [chunks[i] for i in np.argsort(-np.asarray(rel), kind="stable")]
        for c, r in zip(chunks, rel, strict=True):
            if c.id is not None:
                ctx.scores[c.id] = r
        if cap is not None:
            # each chunk counted once (and each join locally): the most relevant that still fit, in
            # order; then one exact count of the joined text drops the last ones taken should it
            # still exceed the cap (token counts are not always additive)
            taken = greedy_fill([c.text for c in ranked], cap, ctx.count)
            kept = [ranked[i] for i in taken]
            k = fewest_drops(lambda k: ctx.count(join_text(kept[: len(kept) - k])) <= cap, len(kept))
            kept = kept[: len(kept) - k]
            # no whole chunk fits: the head of the most relevant one (nothing under a cap of 0)
            ranked = kept or fit_to_budget(ranked[:1], cap, ctx.count)[0]
        return edge_order(ranked)
