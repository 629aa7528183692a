"""``CtxCompressIndexer`` in an ``IngestionPipeline``, and ``CtxCompressPostprocessor(store=...)``, with fakes."""

from __future__ import annotations

from pathlib import Path

from li_support import fake_pipeline
from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.postprocessor.ctxcompress import CtxCompressIndexer, CtxCompressPostprocessor

from ctxcompress import VectorStore
from ctxcompress.testing import FakeEmbedder

QUERY = "What is the capital of France?"

DOCS = [
    Document(text="Paris is the capital of France. It has many museums.", metadata={"title": "Paris"}),
    Document(text="Berlin is the capital of Germany. Paris is the capital of France.", metadata={"title": "Berlin"}),
]


def _embedder(pp: object) -> FakeEmbedder:
    emb = pp[0].embedder  # type: ignore[index]
    assert isinstance(emb, FakeEmbedder)
    return emb


def test_indexer_in_ingestion_pipeline_then_postprocessor_embeds_only_the_query(tmp_path: Path) -> None:
    pipe = fake_pipeline()
    db = str(tmp_path / "v.db")
    indexer = CtxCompressIndexer(store=db, compressor=pipe)
    nodes = IngestionPipeline(transformations=[indexer]).run(documents=DOCS)
    assert [n.get_content() for n in nodes] == [d.get_content() for d in DOCS]  # passed through unchanged
    assert indexer.last_report is not None and indexer.last_report.embedded > 0
    stored = VectorStore(db).count()
    assert stored == indexer.last_report.embedded

    retrieved = [NodeWithScore(node=TextNode(text=n.get_content(), metadata=n.metadata), score=0.5) for n in nodes]
    plain = CtxCompressPostprocessor(compressor=pipe).postprocess_nodes(retrieved, query_bundle=QueryBundle(QUERY))
    emb = _embedder(pipe)
    emb.texts_seen = 0
    pp = CtxCompressPostprocessor(compressor=pipe, store=VectorStore(db))
    out = pp.postprocess_nodes(retrieved, query_bundle=QueryBundle(QUERY))
    assert emb.texts_seen == 1  # the query only
    assert [n.node.get_content() for n in out] == [n.node.get_content() for n in plain]
    assert VectorStore(db).count() == stored


def test_indexer_returns_the_same_node_objects(tmp_path: Path) -> None:
    nodes = [TextNode(text="One sentence here. Another one.", metadata={"title": "T"})]
    indexer = CtxCompressIndexer(store=str(tmp_path / "v.db"), compressor=fake_pipeline())
    assert indexer(nodes) is nodes
    assert nodes[0].get_content() == "One sentence here. Another one."


def test_store_serialises_as_its_path(tmp_path: Path) -> None:
    db = str(tmp_path / "v.db")
    pp = CtxCompressPostprocessor(compressor=fake_pipeline(), store=db)
    assert isinstance(pp.store, VectorStore)
    data = pp.to_dict()
    assert data["store"] == db
    back = CtxCompressPostprocessor.from_dict(data)
    assert isinstance(back.store, VectorStore) and back.store.path == db
    assert CtxCompressIndexer(store=db, compressor=fake_pipeline()).to_dict()["store"] == db
