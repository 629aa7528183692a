"""Helpers shared by the langchain-ctxcompress tests (a uniquely named module, importable from tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from ctxcompress import Embedder, Pipeline, RedundancyFusion, RelevanceFilter
from ctxcompress.testing import FakeEmbedder


class CtxEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` over any ctxcompress embedder (here: the local MiniLM)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.embedder.encode(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        encode = getattr(self.embedder, "encode_queries", self.embedder.encode)
        vector: list[float] = encode([text])[0].tolist()
        return vector


def fake_pipeline(top_k: int = 2) -> Pipeline:
    emb = FakeEmbedder()
    return Pipeline([("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(embedder=emb, top_k=top_k))])


def snapshot(documents: Sequence[Document]) -> list[dict[str, Any]]:
    return [d.model_dump() for d in documents]
