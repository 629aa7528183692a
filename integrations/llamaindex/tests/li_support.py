"""Helpers shared by the llama-index-postprocessor-ctxcompress tests (a uniquely named module)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import NodeWithScore

from ctxcompress import Embedder, Pipeline, RedundancyFusion, RelevanceFilter
from ctxcompress.testing import FakeEmbedder


class CtxEmbedding(BaseEmbedding):
    """A LlamaIndex embedding model over any ctxcompress embedder (the local MiniLM, or a fake)."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "CtxEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        encode = getattr(self._embedder, "encode_queries", self._embedder.encode)
        vector: list[float] = encode([query])[0].tolist()
        return vector

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        vector: list[float] = self._embedder.encode([text])[0].tolist()
        return vector

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self._embedder.encode(texts).tolist()
        return vectors


def fake_pipeline(top_k: int = 2) -> Pipeline:
    emb = FakeEmbedder()
    return Pipeline([("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(embedder=emb, top_k=top_k))])


def snapshot(nodes: Sequence[NodeWithScore]) -> list[dict[str, Any]]:
    return [n.model_dump() for n in nodes]
