"""Tests of ``CtxCompressPostprocessor``: unit tests with fakes, then a real VectorStoreIndex + MiniLM + MockLLM."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any

import llama_index.postprocessor.ctxcompress as pkg
import pytest
from li_support import CtxEmbedding, fake_pipeline, snapshot
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.bridge.pydantic import ValidationError
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.base import BaseEvent
from llama_index.core.llms import MockLLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import ImageNode, MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.postprocessor.ctxcompress import METADATA_KEY, CtxCompressEndEvent, CtxCompressPostprocessor

from ctxcompress import Budget, Chunk, CompressionResult, Compressor, SavingsReport, default_pipeline
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

QUERY = "What is the capital of France?"


class SpyCompressor(Compressor):
    """Wraps the fake pipeline; records which entry point ran. ``compress`` fails when ``sync_ok`` is False."""

    def __init__(self, *, sync_ok: bool = True) -> None:
        self.sync_ok = sync_ok
        self.calls: list[str] = []
        self._inner = fake_pipeline()

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: Any) -> list[Chunk]:
        raise AssertionError("not used")

    def compress(self, chunks: Iterable[Any], **kwargs: Any) -> CompressionResult:
        self.calls.append("compress")
        if not self.sync_ok:
            raise AssertionError("the sync path was used from async code")
        return self._inner.compress(chunks, **kwargs)

    async def acompress(self, chunks: Iterable[Any], **kwargs: Any) -> CompressionResult:
        self.calls.append("acompress")
        await asyncio.sleep(0)
        return self._inner.compress(list(chunks), **kwargs)


class EventRecorder(BaseEventHandler):
    events: list[BaseEvent]

    @classmethod
    def class_name(cls) -> str:
        return "EventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def recorder() -> Iterator[EventRecorder]:
    rec = EventRecorder(events=[])
    root = get_dispatcher()
    root.add_event_handler(rec)
    try:
        yield rec
    finally:
        root.event_handlers = [h for h in root.event_handlers if h is not rec]


def make(**kwargs: Any) -> CtxCompressPostprocessor:
    kwargs.setdefault("compressor", fake_pipeline())
    kwargs.setdefault("counter", WhitespaceCounter())
    return CtxCompressPostprocessor(**kwargs)


# ---------------------------------------------------------------------- unit
@pytest.mark.unit
def test_public_surface() -> None:
    assert pkg.__all__ == sorted(pkg.__all__)
    assert issubclass(CtxCompressPostprocessor, BaseNodePostprocessor)
    assert CtxCompressPostprocessor.class_name() == "CtxCompressPostprocessor"


@pytest.mark.unit
def test_new_nodes_keep_ids_metadata_relationships_scores(nodes: list[NodeWithScore]) -> None:
    before = snapshot(nodes)
    pp = make()
    out = pp.postprocess_nodes(nodes, query_str=QUERY)
    assert snapshot(nodes) == before, "the caller's nodes were modified"
    assert out
    by_id = {n.node.node_id: n for n in nodes}
    for n in out:
        src = by_id[n.node.node_id]
        assert n is not src and n.node is not src.node
        assert n.score == src.score
        assert n.node.relationships == src.node.relationships
        assert n.node.relationships is not src.node.relationships
        # this node's own metadata (not every node's), plus the summary
        assert {k: v for k, v in n.node.metadata.items() if not k.startswith(METADATA_KEY)} == src.node.metadata
        summary = n.node.metadata[METADATA_KEY]
        assert summary["source_ids"] == [src.node.node_id]
        assert summary["tokens_out"] <= summary["tokens_in"]
        for sp in summary["spans"]:
            assert src.node.text[sp["start"] : sp["end"]] == n.node.text[sp["out_start"] : sp["out_end"]]
        # the summary never reaches a prompt or an embedding; exclusions the caller set are kept
        assert METADATA_KEY not in n.node.get_content(metadata_mode=MetadataMode.LLM)
        assert METADATA_KEY not in n.node.get_content(metadata_mode=MetadataMode.EMBED)
        assert set(src.node.excluded_llm_metadata_keys) <= set(n.node.excluded_llm_metadata_keys)
        if n.node.text != src.node.text:
            assert n.node.embedding is None
    assert "secret" not in out[0].node.get_content(metadata_mode=MetadataMode.LLM)
    report = pp.last_report
    assert isinstance(report, SavingsReport) and report.tokens_saved > 0
    assert sum(len(n.node.text) for n in out) < sum(len(n.node.text) for n in nodes)


@pytest.mark.unit
def test_query_bundle_and_missing_query(nodes: list[NodeWithScore]) -> None:
    pp = make()
    a = pp.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    b = pp.postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.text for n in a] == [n.node.text for n in b]
    assert pp.postprocess_nodes(nodes)  # no query: compressed without one, and the report says so
    assert pp.last_report is not None and any("no query given" in w for w in pp.last_report.warnings)
    assert pp.postprocess_nodes([], query_str=QUERY) == []


@pytest.mark.unit
def test_async_is_native(nodes: list[NodeWithScore]) -> None:
    spy = SpyCompressor(sync_ok=False)
    pp = make(compressor=spy)
    out = asyncio.run(pp.apostprocess_nodes(nodes, query_str=QUERY))
    assert out and spy.calls == ["acompress"]
    sync = make().postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.text for n in out] == [n.node.text for n in sync]


@pytest.mark.unit
def test_nodes_without_text_pass_through(nodes: list[NodeWithScore]) -> None:
    image = NodeWithScore(node=ImageNode(image_url="https://example.com/a.png", id_="img"), score=0.7)
    out = make().postprocess_nodes([*nodes, image], query_str=QUERY)
    assert out[-1].node.node_id == "img" and out[-1].score == 0.7
    assert out[-1] is not image


@pytest.mark.unit
def test_repeated_node_ids(nodes: list[NodeWithScore]) -> None:
    same_id = nodes[0].node.model_copy(update={"text": "Lyon is a city of France with silk weavers."})
    twice = [*nodes, NodeWithScore(node=same_id, score=0.1)]
    pp = make(compressor=fake_pipeline(top_k=20))
    out = pp.postprocess_nodes(twice, query_str=QUERY)
    assert [n.score for n in out] == [0.9, 0.5, 0.4, 0.1]
    assert [n.node.node_id for n in out] == ["paris", "berlin", "eiffel", "paris"]


@pytest.mark.unit
def test_budget_is_held(nodes: list[NodeWithScore]) -> None:
    pp = make(compressor=fake_pipeline(top_k=20), budget=8)
    out = pp.postprocess_nodes(nodes, query_str=QUERY)
    assert pp.last_report is not None and pp.last_report.tokens_out <= 8
    assert sum(len(n.node.text.split()) for n in out) <= 8
    assert make(budget=0.5).budget == Budget(fraction=0.5)
    assert make().budget == Budget()


@pytest.mark.unit
def test_bad_parameters_fail_loudly() -> None:
    with pytest.raises(ValidationError, match="ctxcompress Compressor"):
        CtxCompressPostprocessor(compressor=object())
    with pytest.raises(ValidationError, match="invalid budget"):
        CtxCompressPostprocessor(budget="lots")
    assert CtxCompressPostprocessor().compressor == default_pipeline()


@pytest.mark.unit
def test_to_dict_round_trip() -> None:
    pp = CtxCompressPostprocessor(compressor=default_pipeline(), budget=Budget(max_tokens=300), counter="o200k_base")
    data = pp.to_dict()
    assert data["class_name"] == "CtxCompressPostprocessor"
    back = CtxCompressPostprocessor.from_dict(data)
    assert back.compressor == pp.compressor
    assert back.budget == Budget(max_tokens=300) and back.counter == "o200k_base"
    assert CtxCompressPostprocessor.from_json(pp.to_json()).compressor == pp.compressor


@pytest.mark.unit
def test_report_event(nodes: list[NodeWithScore], recorder: Any) -> None:
    pp = make()
    pp.postprocess_nodes(nodes, query_str=QUERY)
    events = [e for e in recorder.events if isinstance(e, CtxCompressEndEvent)]
    assert len(events) == 1
    assert events[0].query == QUERY
    assert pp.last_report is not None and events[0].report == pp.last_report.to_dict()


@pytest.mark.unit
def test_query_engine_with_fake_embedding(recorder: Any) -> None:
    docs = [
        Document(text="Paris is the capital of France. Cats sleep a lot.", id_="fr", metadata={"title": "France"}),
        Document(text="Berlin is the capital of Germany. Dogs bark at night.", id_="de", metadata={"title": "Germany"}),
        Document(text="Rome is the capital of Italy. Pasta is boiled.", id_="it", metadata={"title": "Italy"}),
    ]
    index = VectorStoreIndex.from_documents(docs, embed_model=CtxEmbedding(FakeEmbedder()))
    pp = make(compressor=fake_pipeline(top_k=2))
    engine = index.as_query_engine(llm=MockLLM(), node_postprocessors=[pp], similarity_top_k=3)
    response = engine.query(QUERY)
    assert pp.last_report is not None and pp.last_report.tokens_saved > 0
    assert {n.node.node_id for n in response.source_nodes} <= {n.node_id for n in index.docstore.docs.values()}
    prompt = str(response)  # MockLLM answers with the prompt it was given
    assert "Paris is the capital of France." in prompt
    assert "Pasta is boiled" not in prompt and METADATA_KEY not in prompt
    for n in response.source_nodes:  # the document relationship survived compression
        assert n.node.source_node is not None and n.node.source_node.node_id in {"fr", "de", "it"}
    assert any(isinstance(e, CtxCompressEndEvent) for e in recorder.events)


# ---------------------------------------------------------------------- integration (real MiniLM)
@pytest.mark.integration
def test_vector_store_index_end_to_end(demo_index: VectorStoreIndex) -> None:
    from ctxcompress._core.answers import answer_in_context as answer_in
    from ctxcompress._demo import load_demo_sample

    sample = load_demo_sample()[1]  # a single-hop answer: this test is about the plumbing
    pp = CtxCompressPostprocessor(budget=Budget(fraction=0.3), counter="o200k_base")
    engine = demo_index.as_query_engine(llm=MockLLM(), node_postprocessors=[pp], similarity_top_k=8)
    response = engine.query(sample.question)
    report = pp.last_report
    assert report is not None and report.counter == "o200k_base"
    assert report.tokens_saved > 0 and report.tokens_out <= report.budget_tokens  # type: ignore[operator]
    retrieved = demo_index.as_retriever(similarity_top_k=8).retrieve(sample.question)
    by_id = {n.node.node_id: n for n in retrieved}
    assert response.source_nodes
    for n in response.source_nodes:
        src = by_id[n.node.node_id]
        assert n.score == src.score
        assert n.node.metadata["title"] == src.node.metadata["title"]
        assert n.node.relationships == src.node.relationships
        assert isinstance(n.node, TextNode)
        for sp in n.node.metadata[METADATA_KEY]["spans"]:
            assert src.node.text[sp["start"] : sp["end"]] == n.node.text[sp["out_start"] : sp["out_end"]]
    assert answer_in("\n".join(n.node.text for n in response.source_nodes), sample.answers)
    assert len(str(response)) < sum(len(n.node.text) for n in retrieved) + 2000


@pytest.mark.integration
def test_vector_store_index_async(demo_index: VectorStoreIndex) -> None:
    from ctxcompress._demo import load_demo_sample

    question = load_demo_sample()[0].question
    pp = CtxCompressPostprocessor(budget=200, counter="o200k_base")
    engine = demo_index.as_query_engine(llm=MockLLM(), node_postprocessors=[pp], similarity_top_k=6)
    response = asyncio.run(engine.aquery(question))
    assert response.source_nodes
    assert pp.last_report is not None and 0 < pp.last_report.tokens_out <= 200
    assert pp.last_report.tokens_saved > 0
