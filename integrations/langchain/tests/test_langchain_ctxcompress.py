"""Tests of ``langchain_ctxcompress.CtxCompressor``: unit tests with fakes, then end to end with the real MiniLM."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

import langchain_ctxcompress
import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_ctxcompress import METADATA_KEY, REPORT_EVENT, CtxCompressor
from lc_support import fake_pipeline, snapshot
from pydantic import ValidationError

from ctxcompress import Budget, Chunk, CompressionResult, Compressor, SavingsReport, default_pipeline
from ctxcompress.testing import WhitespaceCounter

QUERY = "What is the capital of France?"


class EventRecorder(BaseCallbackHandler):
    """Records ``on_custom_event`` calls and the prompts chat models receive."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, UUID]] = []
        self.prompts: list[list[BaseMessage]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        self.prompts.extend(messages)


class AsyncEventRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data))


class SpyCompressor(Compressor):
    """Wraps a compressor; records which entry point ran. ``compress`` fails when ``sync_ok`` is False."""

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


class ListRetriever(BaseRetriever):
    """A retriever returning fixed documents (a stand-in where no embedding model is wanted)."""

    documents: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return list(self.documents)


def make(**kwargs: Any) -> CtxCompressor:
    kwargs.setdefault("compressor", fake_pipeline())
    kwargs.setdefault("counter", WhitespaceCounter())
    return CtxCompressor(**kwargs)


# ---------------------------------------------------------------------- unit
@pytest.mark.unit
def test_public_surface() -> None:
    assert langchain_ctxcompress.__all__ == sorted(langchain_ctxcompress.__all__)
    assert issubclass(CtxCompressor, BaseDocumentCompressor)
    assert issubclass(CtxCompressor, Runnable)


@pytest.mark.unit
def test_compress_documents_keeps_ids_metadata_and_reports(docs: list[Document]) -> None:
    before = snapshot(docs)
    comp = make()
    out = comp.compress_documents(docs, QUERY)
    assert snapshot(docs) == before, "the caller's documents were modified"
    assert out, "nothing kept"
    report = comp.last_report
    assert isinstance(report, SavingsReport)
    assert report.tokens_saved > 0
    assert report.counter == "whitespace"
    by_title = {d.metadata["title"]: d for d in docs}
    for doc in out:
        src = by_title[doc.metadata["title"]]
        assert doc is not src
        assert doc.id == src.id
        # every original metadata field kept, only for its own document
        assert {k: v for k, v in doc.metadata.items() if k != METADATA_KEY and not k.startswith("ctxcompress.")} == (
            src.metadata
        )
        summary = doc.metadata[METADATA_KEY]
        assert summary["tokens_out"] <= summary["tokens_in"]
        assert summary["call"]["tokens_saved"] == report.tokens_saved
        for span in summary["spans"]:
            source_text = next(d.page_content for i, d in enumerate(docs) if (d.id or str(i)) == span["source_id"])
            assert source_text[span["start"] : span["end"]] == doc.page_content[span["out_start"] : span["out_end"]]
    assert sum(len(d.page_content) for d in out) < sum(len(d.page_content) for d in docs)


@pytest.mark.unit
def test_documents_without_or_with_repeated_ids() -> None:
    docs = [
        Document("Alpha beta gamma. Delta epsilon.", metadata={"n": 0}),
        Document("Alpha beta zeta. Eta theta.", id="1", metadata={"n": 1}),
        Document("Alpha beta iota. Kappa lambda.", id="1", metadata={"n": 2}),
    ]
    comp = make(compressor=fake_pipeline(top_k=6))
    out = comp.compress_documents(docs, "alpha beta")
    assert [d.metadata["n"] for d in out] == [0, 1, 2]
    assert [d.id for d in out] == [None, "1", "1"]  # each keeps its own id, even a repeated one
    ids = [c.id for c in comp.last_report.chunks]  # type: ignore[union-attr]
    assert len(set(ids)) == 3 and "1" in ids


@pytest.mark.unit
def test_score_key_feeds_chunk_score_and_metadata_is_kept(docs: list[Document]) -> None:
    seen: list[float | None] = []

    class Recorder(Compressor):
        def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: Any) -> list[Chunk]:
            seen.extend(c.score for c in chunks)
            return chunks

    out = make(compressor=Recorder()).compress_documents(docs, QUERY)
    assert seen == [0.9, None, 0.4]
    assert [d.metadata.get("relevance_score") for d in out] == [0.9, None, 0.4]
    seen.clear()
    make(compressor=Recorder(), score_key=None).compress_documents(docs, QUERY)
    assert seen == [None, None, None]


@pytest.mark.unit
def test_budget_is_held(docs: list[Document]) -> None:
    comp = make(compressor=fake_pipeline(top_k=10), budget=8)
    out = comp.compress_documents(docs, QUERY)
    report = comp.last_report
    assert report is not None and report.tokens_out <= 8
    assert sum(len(d.page_content.split()) for d in out) <= 8
    assert make(budget=Budget(fraction=0.5)).budget == Budget(fraction=0.5)
    assert make(budget=0.5).budget == Budget(fraction=0.5)


@pytest.mark.unit
def test_bad_parameters_fail_loudly() -> None:
    with pytest.raises(ValidationError, match="ctxcompress Compressor"):
        CtxCompressor(compressor="not a compressor")
    with pytest.raises(ValidationError, match="invalid budget"):
        CtxCompressor(budget="lots")
    with pytest.raises(ValidationError):
        CtxCompressor(metadata_key="")
    default = CtxCompressor()  # the default pipeline; builds no model until the first call
    assert isinstance(default.compressor, Compressor)
    assert default.compressor == default_pipeline()


@pytest.mark.unit
def test_empty_input() -> None:
    comp = make()
    assert comp.compress_documents([], QUERY) == []
    assert comp.invoke({"documents": [], "query": QUERY}) == []
    assert comp.last_report is not None and comp.last_report.tokens_in == 0


@pytest.mark.unit
def test_async_is_native(docs: list[Document]) -> None:
    spy = SpyCompressor(sync_ok=False)
    comp = make(compressor=spy)
    out = asyncio.run(comp.acompress_documents(docs, QUERY))
    assert out and spy.calls == ["acompress"]
    out2 = asyncio.run(comp.ainvoke({"documents": docs, "query": QUERY}))
    assert [d.page_content for d in out2] == [d.page_content for d in out]
    assert spy.calls == ["acompress", "acompress"]
    assert comp.last_report is not None and comp.last_report.tokens_saved > 0


@pytest.mark.unit
def test_runnable_inputs(docs: list[Document]) -> None:
    comp = make()
    by_dict = comp.invoke({"documents": docs, "query": QUERY})
    assert [d.page_content for d in by_dict] == [d.page_content for d in comp.compress_documents(docs, QUERY)]
    by_question = comp.invoke({"documents": docs, "question": QUERY})
    assert [d.page_content for d in by_question] == [d.page_content for d in by_dict]
    assert comp.last_report is not None and not comp.last_report.warnings
    # a retriever's output alone: compressed without a query, with a warning, and the report says so
    with pytest.warns(langchain_ctxcompress.NoQueryWarning, match="with_retriever"):
        comp.invoke(docs)
    assert comp.last_report is not None
    assert any("no query given" in w for w in comp.last_report.warnings)
    with pytest.raises(TypeError, match="with_retriever"):
        comp.invoke("a query string")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="documents"):
        comp.invoke({"docs": docs, "query": QUERY})
    with pytest.raises(TypeError, match="not a langchain_core Document"):
        comp.invoke({"documents": ["text"], "query": QUERY})
    batch = comp.batch([{"documents": docs, "query": QUERY}, {"documents": docs[:1], "query": QUERY}])
    assert len(batch) == 2 and len(batch[1]) <= 1


@pytest.mark.unit
def test_lcel_composition(docs: list[Document]) -> None:
    comp = make()
    retriever = ListRetriever(documents=docs)
    expected = [d.page_content for d in comp.compress_documents(docs, QUERY)]
    chain = {"documents": retriever, "query": RunnablePassthrough()} | comp
    assert [d.page_content for d in chain.invoke(QUERY)] == expected
    assert [d.page_content for d in comp.with_retriever(retriever).invoke(QUERY)] == expected
    assert [d.page_content for d in asyncio.run(comp.with_retriever(retriever).ainvoke(QUERY))] == expected
    plain = retriever | comp  # composes, but query-agnostic: a clear warning names the right composition
    with pytest.warns(langchain_ctxcompress.NoQueryWarning, match=r"retriever \| compressor"):
        assert plain.invoke(QUERY)
    formatted = comp.with_retriever(retriever) | RunnableLambda(lambda ds: "\n\n".join(d.page_content for d in ds))
    assert formatted.invoke(QUERY) == "\n\n".join(expected)


@pytest.mark.unit
def test_report_reaches_callbacks(docs: list[Document]) -> None:
    comp = make()
    rec = EventRecorder()
    comp.with_retriever(ListRetriever(documents=docs)).invoke(QUERY, config={"callbacks": [rec]})
    assert [name for name, _, _ in rec.events] == [REPORT_EVENT]
    data = rec.events[0][1]
    assert data["query"] == QUERY
    assert comp.last_report is not None
    assert data["report"] == comp.last_report.to_dict()
    # direct calls outside any run: no event, no error
    rec.events.clear()
    comp.compress_documents(docs, QUERY)
    assert rec.events == []
    # async handlers through ainvoke
    arec = AsyncEventRecorder()
    asyncio.run(comp.ainvoke({"documents": docs, "query": QUERY}, config={"callbacks": [arec]}))
    assert [name for name, _ in arec.events] == [REPORT_EVENT]


@pytest.mark.unit
def test_stream_events_show_the_report(docs: list[Document]) -> None:
    comp = make()

    async def collect() -> list[dict[str, Any]]:
        return [e async for e in comp.astream_events({"documents": docs, "query": QUERY}, version="v2")]

    events = asyncio.run(collect())
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert [e["name"] for e in custom] == [REPORT_EVENT]
    assert custom[0]["data"]["report"]["tokens_saved"] > 0


@pytest.mark.unit
def test_contextual_compression_retriever(docs: list[Document]) -> None:
    classic = pytest.importorskip("langchain_classic.retrievers", reason="langchain-classic is a test extra")
    comp = make()
    ccr = classic.ContextualCompressionRetriever(base_compressor=comp, base_retriever=ListRetriever(documents=docs))
    rec = EventRecorder()
    out = ccr.invoke(QUERY, config={"callbacks": [rec]})
    assert out and all(METADATA_KEY in d.metadata for d in out)
    assert [name for name, _, _ in rec.events] == [REPORT_EVENT]
    spy = SpyCompressor(sync_ok=False)
    ccr_async = classic.ContextualCompressionRetriever(
        base_compressor=make(compressor=spy), base_retriever=ListRetriever(documents=docs)
    )
    assert asyncio.run(ccr_async.ainvoke(QUERY))
    assert spy.calls == ["acompress"]


@pytest.mark.unit
def test_rag_chain_with_fake_chat_model(docs: list[Document]) -> None:
    comp = make()
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context.\n\n{context}"), ("human", "{question}")]
    )
    llm = FakeListChatModel(responses=["Paris"])
    rec = EventRecorder()

    def format_docs(ds: list[Document]) -> str:
        return "\n\n".join(d.page_content for d in ds)

    chain = (
        {"context": comp.with_retriever(ListRetriever(documents=docs)) | format_docs, "question": RunnablePassthrough()}
        | prompt
        | llm
        | StrOutputParser()
    )
    assert chain.invoke(QUERY, config={"callbacks": [rec]}) == "Paris"
    system = str(rec.prompts[0][0].content)
    assert "Paris is the capital of France." in system
    assert len(system) < len(format_docs(docs)), "the model saw the uncompressed context"
    assert [name for name, _, _ in rec.events] == [REPORT_EVENT]


# ---------------------------------------------------------------------- integration (real MiniLM)
def _answer_in(text: str, answers: list[str]) -> bool:
    from ctxcompress._core.answers import answer_in_context as answer_in

    return answer_in(text, answers)


@pytest.mark.integration
def test_in_memory_vector_store_end_to_end(demo_store: InMemoryVectorStore) -> None:
    from ctxcompress._demo import load_demo_sample

    retriever = demo_store.as_retriever(search_kwargs={"k": 8})
    comp = CtxCompressor(compressor=default_pipeline(), budget=Budget(fraction=0.3), counter="o200k_base")
    prompt = ChatPromptTemplate.from_messages([("system", "Context:\n{context}"), ("human", "{question}")])
    llm = FakeListChatModel(responses=["Animorphs"])
    rec = EventRecorder()
    compressed = comp.with_retriever(retriever)
    chain = (
        {
            "context": compressed | RunnableLambda(lambda ds: "\n\n".join(d.page_content for d in ds)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | llm
        | StrOutputParser()
    )
    sample = load_demo_sample()[1]  # a single-hop answer: this test is about the plumbing
    assert chain.invoke(sample.question, config={"callbacks": [rec]}) == "Animorphs"
    report = comp.last_report
    assert report is not None
    assert report.counter == "o200k_base"
    assert 0 < report.tokens_out <= report.budget_tokens  # type: ignore[operator]
    assert report.tokens_saved > 0
    assert rec.events and rec.events[0][1]["report"]["tokens_saved"] == report.tokens_saved
    retrieved = retriever.invoke(sample.question)
    out = compressed.invoke(sample.question)
    by_id = {d.id: d for d in retrieved}
    for doc in out:  # ids and metadata kept, text verbatim from the source
        assert doc.id in by_id
        assert doc.metadata["title"] == by_id[doc.id].metadata["title"]
        for span in doc.metadata[METADATA_KEY]["spans"]:
            src = by_id[span["source_id"]].page_content
            assert src[span["start"] : span["end"]] == doc.page_content[span["out_start"] : span["out_end"]]
    assert _answer_in("\n".join(d.page_content for d in out), sample.answers)
    system = str(rec.prompts[0][0].content)  # what the chat model saw: the compressed context
    assert len(system) < sum(len(d.page_content) for d in retrieved)


@pytest.mark.integration
def test_in_memory_vector_store_async(demo_store: InMemoryVectorStore) -> None:
    from ctxcompress._demo import load_demo_sample

    store = demo_store
    comp = CtxCompressor(budget=200, counter="o200k_base")
    question = load_demo_sample()[0].question

    async def run() -> list[Document]:
        return await comp.with_retriever(store.as_retriever(search_kwargs={"k": 6})).ainvoke(question)

    out = asyncio.run(run())
    assert out
    assert comp.last_report is not None and comp.last_report.tokens_out <= 200
    assert comp.last_report.tokens_saved > 0
    assert all(isinstance(d.metadata[METADATA_KEY], Mapping) for d in out)
