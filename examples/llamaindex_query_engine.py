"""LlamaIndex: a query engine whose retrieved nodes are compressed by ctxcompress before synthesis.

    pip install 'ctxcompress[all]' ./integrations/llamaindex
    python examples/llamaindex_query_engine.py

Runs offline: a VectorStoreIndex over the HotpotQA sample embedded in ctxcompress (CC BY-SA 4.0)
with the local MiniLM, and ``MockLLM`` (it answers with the prompt it was given, so you see exactly
what the LLM would read). On your own data, keep the ``CtxCompressPostprocessor`` lines and use your
index, embed model and LLM (e.g. ``OpenAI(model="gpt-4o")``).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local model files only

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import MockLLM
from llama_index.postprocessor.ctxcompress import CtxCompressPostprocessor

from ctxcompress import Budget, default_embedder, default_pipeline

N_QUESTIONS = 2  # index the passages of this many sample questions (10 each): quick on any CPU


class LocalMiniLM(BaseEmbedding):
    """A LlamaIndex embed model over ctxcompress's local MiniLM (stand-in for any embed model)."""

    _model: Any = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(model_name="all-MiniLM-L6-v2", **kwargs)
        self._model = default_embedder()

    def _get_query_embedding(self, query: str) -> list[float]:
        vector: list[float] = self._model.encode_queries([query])[0].tolist()
        return vector

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self._model.encode(texts).tolist()
        return vectors


def load_documents() -> tuple[list[str], list[Document]]:
    """The sample's questions and passages as Documents (stand-in for SimpleDirectoryReader etc.)."""
    lines = (resources.files("ctxcompress") / "data" / "hotpotqa_demo.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in lines.splitlines() if line.strip()][:N_QUESTIONS]
    docs = {
        c["title"]: Document(text=c["text"], id_=c["title"], metadata={"title": c["title"]})
        for r in records
        for c in r["contexts"]
    }
    return [r["question"] for r in records], list(docs.values())


def main() -> None:
    questions, documents = load_documents()
    question = questions[0]
    index = VectorStoreIndex.from_documents(documents, embed_model=LocalMiniLM())

    # the postprocessor: any ctxcompress pipeline, a token budget, and the target LLM's tokenizer
    compress = CtxCompressPostprocessor(compressor=default_pipeline(), budget=Budget(fraction=0.3), counter="gpt-4o")
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=8, node_postprocessors=[compress])
    response = engine.query(question)

    print(f"Question: {question}\n")
    print("Prompt the LLM received (MockLLM echoes it):\n")
    print(response)
    print()
    print("Source nodes (ids, metadata, relationships and scores kept; summary under metadata['ctxcompress']):")
    for n in response.source_nodes:
        s = n.node.metadata["ctxcompress"]
        print(
            f"- {n.node.metadata['title']} (node {n.node.node_id[:8]}, score {n.score:.3f}): "
            f"{s['tokens_in']} -> {s['tokens_out']} tokens "
            f"({s['kept_fraction']:.0%} kept)"
        )
    print()
    report = compress.last_report
    assert report is not None
    print(report.to_markdown())


if __name__ == "__main__":
    main()
