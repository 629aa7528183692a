"""LangChain: retriever -> ctxcompress compressor -> prompt -> chat model, with the savings report.

    pip install 'ctxcompress[all]' ./integrations/langchain
    python examples/langchain_chain.py

Runs offline: an InMemoryVectorStore over the HotpotQA sample embedded in ctxcompress (CC BY-SA 4.0)
with the local MiniLM, and a fake chat model. On your own data, keep the ``CtxCompressor`` lines and
use your vector store, embeddings (e.g. ``OpenAIEmbeddings()``) and chat model (e.g. ``ChatOpenAI()``).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from typing import Any
from uuid import UUID

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local model files only

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_ctxcompress import REPORT_EVENT, CtxCompressor

from ctxcompress import Budget, SavingsReport, default_embedder, default_pipeline

N_QUESTIONS = 2  # index the passages of this many sample questions (10 each): quick on any CPU


class LocalMiniLM(Embeddings):
    """LangChain embeddings over ctxcompress's local MiniLM (stand-in for any Embeddings class)."""

    def __init__(self) -> None:
        self.model = default_embedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.model.encode(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        vector: list[float] = self.model.encode_queries([text])[0].tolist()
        return vector


class PrintReport(BaseCallbackHandler):
    """The compressor sends its full report to callbacks as the custom event ``ctxcompress_report``."""

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if name == REPORT_EVENT:
            print("Savings report (from the callback):")
            print(SavingsReport.from_dict(data["report"]).to_markdown())
            print()


def load_documents() -> tuple[list[str], list[Document]]:
    """The sample's questions and passages as Documents (stand-in for your own loader)."""
    lines = (resources.files("ctxcompress") / "data" / "hotpotqa_demo.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in lines.splitlines() if line.strip()][:N_QUESTIONS]
    docs = {
        c["title"]: Document(c["text"], id=c["title"], metadata={"title": c["title"]})
        for r in records
        for c in r["contexts"]
    }
    return [r["question"] for r in records], list(docs.values())


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{d.metadata['title']}] {d.page_content}" for d in docs)


def main() -> None:
    questions, documents = load_documents()
    question = questions[1]

    store = InMemoryVectorStore(embedding=LocalMiniLM())
    store.add_documents(documents)
    retriever = store.as_retriever(search_kwargs={"k": 8})

    # the compressor: any ctxcompress pipeline, a token budget, and the target LLM's tokenizer
    compressor = CtxCompressor(compressor=default_pipeline(), budget=Budget(fraction=0.3), counter="gpt-4o")

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer the question from the context only.\n\nContext:\n{context}"), ("human", "{question}")]
    )
    llm = FakeListChatModel(responses=["Latin"])  # e.g. ChatOpenAI(model="gpt-4o") with network access

    # query -> retriever -> compressor -> prompt -> chat model
    # (compressor.with_retriever(retriever) == {"documents": retriever, "query": RunnablePassthrough()} | compressor)
    chain = (
        {"context": compressor.with_retriever(retriever) | format_docs, "question": RunnablePassthrough()}
        | prompt
        | llm
        | StrOutputParser()
    )
    answer = chain.invoke(question, config={"callbacks": [PrintReport()]})

    print(f"Question: {question}")
    print(f"Answer: {answer}\n")
    docs = compressor.with_retriever(retriever).invoke(question)
    print("Compressed documents (ids and metadata kept, per-document summary under metadata['ctxcompress']):")
    for d in docs:
        s = d.metadata["ctxcompress"]
        print(f"- {d.id}: {s['tokens_in']} -> {s['tokens_out']} tokens ({s['kept_fraction']:.0%} kept)")
    print()
    report = compressor.last_report
    assert report is not None
    print(f"Savings report (compressor.last_report): {report}")


if __name__ == "__main__":
    main()
