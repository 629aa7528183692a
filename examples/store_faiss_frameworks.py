"""Sentence vectors computed once at ingestion, read at query time by a LangChain chain and a LlamaIndex
query engine after a restart.

    pip install 'ctxcompress[all]' ./integrations/langchain ./integrations/llamaindex langchain-community
    python examples/store_faiss_frameworks.py [WORKDIR]

Runs offline on the HotpotQA sample embedded in ctxcompress (CC BY-SA 4.0: 8 questions, 80 paragraphs)
with the local ONNX MiniLM, in two fresh Python processes:

1. ``index``: the paragraphs go through ``CtxCompressIndexer`` into a ``ctxcompress.VectorStore`` (one
   SQLite file of sentence vectors) on their way into the retrievers' indexes: a LangChain ``FAISS``
   vector store (``vectorstore.add_documents(indexer.transform_documents(docs))``) and a LlamaIndex
   ``IngestionPipeline(transformations=[indexer, embed_model])`` feeding a ``VectorStoreIndex``. Both
   indexes and the store are written to WORKDIR (a temporary folder by default).
2. ``serve``: a new process, nothing in memory, loads the indexes and the store and answers the 8
   questions through a LangChain chain (retriever -> ``CtxCompressor(store=...)`` -> prompt -> fake chat
   model) and a LlamaIndex query engine (retriever -> ``CtxCompressPostprocessor(store=...)`` ->
   ``MockLLM``), printing how long compression took per question (from the savings report) and how
   many vectors had to be embedded at query time (0: every sentence vector came from the store).

The LlamaIndex index uses LlamaIndex's default vector store; with ``llama-index-vector-stores-faiss``
installed, pass ``StorageContext.from_defaults(vector_store=FaissVectorStore(...))`` instead.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local model files only

from ctxcompress import Budget, VectorStore, default_embedder, default_pipeline

warnings.filterwarnings("ignore", message=".*langchain-community.*", category=DeprecationWarning)  # its FAISS wrapper

BUDGET = Budget(fraction=0.25)
TOP_K = 8  # paragraphs retrieved per question (of 80)


def load_sample() -> tuple[list[str], list[dict[str, str]]]:
    """The sample's questions and its distinct paragraphs (stand-in for your own loader)."""
    lines = (resources.files("ctxcompress") / "data" / "hotpotqa_demo.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in lines.splitlines() if line.strip()]
    paragraphs = {c["title"]: {"title": c["title"], "text": c["text"]} for r in records for c in r["contexts"]}
    return [r["question"] for r in records], list(paragraphs.values())


# ---------------------------------------------------------------------- embed models over the local MiniLM
def langchain_embeddings() -> Any:
    from langchain_core.embeddings import Embeddings

    class LocalMiniLM(Embeddings):
        """LangChain embeddings over ctxcompress's local MiniLM (stand-in for any Embeddings class)."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vectors: list[list[float]] = default_embedder().encode(texts).tolist()
            return vectors

        def embed_query(self, text: str) -> list[float]:
            vector: list[float] = default_embedder().encode_queries([text])[0].tolist()
            return vector

    return LocalMiniLM()


def llamaindex_embed_model() -> Any:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class LocalMiniLM(BaseEmbedding):
        """A LlamaIndex embed model over ctxcompress's local MiniLM (stand-in for any embed model)."""

        def _get_query_embedding(self, query: str) -> list[float]:
            vector: list[float] = default_embedder().encode_queries([query])[0].tolist()
            return vector

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            vectors: list[list[float]] = default_embedder().encode(texts).tolist()
            return vectors

    return LocalMiniLM(model_name="all-MiniLM-L6-v2")


# ---------------------------------------------------------------------- 1. indexing
def index(workdir: Path) -> None:
    import faiss
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS
    from langchain_community.vectorstores.utils import DistanceStrategy
    from langchain_core.documents import Document as LCDocument
    from langchain_ctxcompress import CtxCompressIndexer as LCIndexer
    from llama_index.core import Document as LIDocument
    from llama_index.core import VectorStoreIndex
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.postprocessor.ctxcompress import CtxCompressIndexer as LIIndexer

    _, paragraphs = load_sample()
    store = VectorStore(workdir / "vectors.db")
    pipe = default_pipeline()  # the same compressor at query time: the store holds the strings it embeds

    # LangChain: the indexer is a document transformer before vectorstore.add_documents(...)
    t0 = time.perf_counter()
    lc_indexer = LCIndexer(store=store, compressor=pipe)
    docs = [LCDocument(p["text"], id=p["title"], metadata={"title": p["title"]}) for p in paragraphs]
    embeddings = langchain_embeddings()
    vectorstore = FAISS(
        embedding_function=embeddings,
        index=faiss.IndexFlatIP(len(embeddings.embed_query("dimension"))),  # unit vectors: inner product = cosine
        docstore=InMemoryDocstore(),
        index_to_docstore_id={},
        distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT,
    )
    vectorstore.add_documents(list(lc_indexer.transform_documents(docs)))
    vectorstore.save_local(str(workdir / "langchain_faiss"))
    report = lc_indexer.last_report
    assert report is not None
    print(
        f"LangChain: {len(docs)} documents into FAISS; store: {report.texts} sentence texts, "
        f"{report.embedded} embedded ({(time.perf_counter() - t0) * 1000:.0f} ms)"
    )

    # LlamaIndex: the indexer is a TransformComponent of an IngestionPipeline
    t0 = time.perf_counter()
    li_indexer = LIIndexer(store=store, compressor=pipe)
    embed_model = llamaindex_embed_model()
    nodes = IngestionPipeline(transformations=[li_indexer, embed_model]).run(
        documents=[LIDocument(text=p["text"], id_=p["title"], metadata={"title": p["title"]}) for p in paragraphs]
    )
    VectorStoreIndex(nodes, embed_model=embed_model).storage_context.persist(str(workdir / "llamaindex"))
    li_report = li_indexer.last_report
    assert li_report is not None
    print(
        f"LlamaIndex: {len(nodes)} nodes into a VectorStoreIndex; store: {li_report.texts} sentence texts, "
        f"{li_report.embedded} embedded (the rest were already stored) "
        f"({(time.perf_counter() - t0) * 1000:.0f} ms)"
    )
    info = store.info()
    print(f"Vector store {info.path}: {info.total_vectors} vectors, {info.file_bytes / 1e6:.2f} MB ({info.dtype})")


# ---------------------------------------------------------------------- 2. serving, in a fresh process
def serve(workdir: Path) -> None:
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document as LCDocument
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough
    from langchain_ctxcompress import CtxCompressor
    from llama_index.core import StorageContext, load_index_from_storage
    from llama_index.core.llms import MockLLM
    from llama_index.postprocessor.ctxcompress import CtxCompressPostprocessor

    questions, _ = load_sample()
    store = VectorStore(workdir / "vectors.db")
    stored_before = store.count()
    # load the ONNX model, the tokenizer and the segmenter once, before the clock starts (a throwaway
    # text without the store: nothing of the corpus gets into memory)
    default_pipeline().compress(["A warm-up sentence. Another one."], query="warm up", budget=BUDGET, counter="gpt-4o")

    # LangChain: query -> FAISS retriever -> CtxCompressor(store=...) -> prompt -> chat model
    # (our own index, written above: FAISS.load_local unpickles its docstore, so only load files you wrote)
    vectorstore = FAISS.load_local(
        str(workdir / "langchain_faiss"), langchain_embeddings(), allow_dangerous_deserialization=True
    )
    retriever = vectorstore.as_retriever(search_kwargs={"k": TOP_K})
    compressor = CtxCompressor(compressor=default_pipeline(), budget=BUDGET, counter="gpt-4o", store=store)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer the question from the context only.\n\nContext:\n{context}"), ("human", "{question}")]
    )

    def format_docs(docs: list[LCDocument]) -> str:
        return "\n\n".join(f"[{d.metadata['title']}] {d.page_content}" for d in docs)

    llm = FakeListChatModel(responses=["(answer)"])  # e.g. ChatOpenAI(model="gpt-4o") with network access
    chain = (
        {"context": compressor.with_retriever(retriever) | format_docs, "question": RunnablePassthrough()}
        | prompt
        | llm
        | StrOutputParser()
    )

    # LlamaIndex: query engine with retriever -> CtxCompressPostprocessor(store=...) -> MockLLM
    storage = StorageContext.from_defaults(persist_dir=str(workdir / "llamaindex"))
    li_index = load_index_from_storage(storage, embed_model=llamaindex_embed_model())
    postprocessor = CtxCompressPostprocessor(
        compressor=default_pipeline(), budget=BUDGET, counter="gpt-4o", store=store
    )
    engine = li_index.as_query_engine(llm=MockLLM(), similarity_top_k=TOP_K, node_postprocessors=[postprocessor])

    print(f"{len(questions)} questions, top {TOP_K} paragraphs each, budget {BUDGET.fraction:.0%}")
    print("| # | LangChain compress ms | tokens in -> out | LlamaIndex compress ms | tokens in -> out | question |")
    print("|---|---:|---|---:|---|---|")
    lc_ms: list[float] = []
    li_ms: list[float] = []
    saved = 0
    for i, question in enumerate(questions, 1):
        chain.invoke(question)
        lc = compressor.last_report
        engine.query(question)
        li = postprocessor.last_report
        assert lc is not None and li is not None
        lc_ms.append(lc.seconds * 1000)
        li_ms.append(li.seconds * 1000)
        saved += lc.tokens_saved + li.tokens_saved
        print(
            f"| {i} | {lc_ms[-1]:.1f} | {lc.tokens_in} -> {lc.tokens_out} | {li_ms[-1]:.1f} | "
            f"{li.tokens_in} -> {li.tokens_out} | {question} |"
        )
    print(
        f"Median compression: LangChain {statistics.median(lc_ms):.1f} ms, "
        f"LlamaIndex {statistics.median(li_ms):.1f} ms per question"
    )
    print(f"Tokens: {saved} saved over {2 * len(questions)} compressions")
    print(f"Vectors embedded at query time (store misses written back): {store.count() - stored_before}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in ("index", "serve"):
        (index if sys.argv[1] == "index" else serve)(Path(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for step in ("index", "serve"):  # two processes: the second starts with nothing in memory
            print(f"== {step} (a fresh process)", flush=True)
            subprocess.run([sys.executable, __file__, step, str(workdir)], check=True)


if __name__ == "__main__":
    main()
