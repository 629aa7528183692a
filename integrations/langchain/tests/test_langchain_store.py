"""``CtxCompressIndexer`` (a document transformer) and ``CtxCompressor(store=...)``, with fakes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langchain_core.documents import BaseDocumentTransformer, Document
from langchain_ctxcompress import CtxCompressIndexer, CtxCompressor
from lc_support import fake_pipeline, snapshot

from ctxcompress import VectorStore
from ctxcompress.testing import FakeEmbedder

QUERY = "What is the capital of France?"


def _embedder(pipe: object) -> FakeEmbedder:
    emb = pipe[0].embedder  # type: ignore[index]
    assert isinstance(emb, FakeEmbedder)
    return emb


def test_indexer_passes_documents_through_and_fills_the_store(docs: list[Document], tmp_path: Path) -> None:
    pipe = fake_pipeline()
    db = str(tmp_path / "v.db")
    before = snapshot(docs)
    indexer = CtxCompressIndexer(store=db, compressor=pipe)
    assert isinstance(indexer, BaseDocumentTransformer)
    out = indexer.transform_documents(docs)
    assert list(out) == docs and all(a is b for a, b in zip(out, docs, strict=True))
    assert snapshot(docs) == before
    assert indexer.last_report is not None and indexer.last_report.embedded == VectorStore(db).count() > 0
    again = asyncio.run(indexer.atransform_documents(docs))
    assert list(again) == docs and indexer.last_report.embedded == 0  # already stored


def test_compressor_with_store_embeds_only_the_query(docs: list[Document], tmp_path: Path) -> None:
    pipe = fake_pipeline()
    db = str(tmp_path / "v.db")
    CtxCompressIndexer(store=db, compressor=pipe).transform_documents(docs)
    plain = CtxCompressor(compressor=pipe).compress_documents(docs, QUERY)
    emb = _embedder(pipe)
    emb.texts_seen = 0
    comp = CtxCompressor(compressor=pipe, store=db)
    assert isinstance(comp.store, VectorStore)
    out = comp.compress_documents(docs, QUERY)
    assert emb.texts_seen == 1  # the query only
    assert [d.page_content for d in out] == [d.page_content for d in plain]
    emb.texts_seen = 0
    asyncio.run(comp.acompress_documents(docs, QUERY))
    assert emb.texts_seen == 1


def test_indexer_needs_a_store() -> None:
    with pytest.raises(ValueError, match="store"):
        CtxCompressIndexer(store=None)
    with pytest.raises(ValueError, match="store"):
        CtxCompressor(store=42)
