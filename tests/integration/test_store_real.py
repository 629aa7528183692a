"""The VectorStore with the real ONNX MiniLM: after index_chunks, a fresh store object and a fresh
pipeline compress the demo questions embedding nothing but the queries, with the output of the cold path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from ctxcompress import Chunk, OnnxEmbedder, Pipeline, RedundancyFusion, RelevanceFilter, VectorStore, index_chunks
from ctxcompress._demo import load_demo_sample

pytestmark = pytest.mark.integration


class Counting:
    """The real embedder, counting the document texts and the queries it embeds."""

    def __init__(self, base: OnnxEmbedder) -> None:
        self.base = base
        self.doc_texts = 0
        self.queries = 0

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def identity(self) -> str:
        return self.base.identity

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.doc_texts += len(texts)
        return self.base.encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.queries += len(texts)
        return self.base.encode_queries(texts)


def _pipe(emb: Any) -> Pipeline:
    return Pipeline([("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(embedder=emb))])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_indexed_store_serves_every_vector(tmp_path: Path, dtype: str) -> None:
    base = OnnxEmbedder()
    questions = [
        (q.question, [Chunk(c["text"], id=c["title"], metadata={"title": c["title"]}) for c in q.contexts])
        for q in load_demo_sample()[:3]
    ]
    db = tmp_path / "vectors.db"
    report = index_chunks(
        [c for _, chunks in questions for c in chunks],
        VectorStore(db, dtype=dtype),  # type: ignore[arg-type]
        compressor=_pipe(base),
    )
    assert report.embedded > 0
    cold = [_pipe(base).compress(chunks, query=q, budget=0.25).text for q, chunks in questions]

    emb = Counting(OnnxEmbedder())  # a new embedder object: its identity finds the stored vectors
    store = VectorStore(db)
    pipe = _pipe(emb)
    warm = [pipe.compress(chunks, query=q, budget=0.25, store=store).text for q, chunks in questions]
    assert emb.doc_texts == 0
    assert emb.queries == len(questions)
    if dtype == "float32":
        assert warm == cold
    else:  # float16 rounding moves cosines by ~1e-4: the selection may differ on a near tie, rarely
        assert sum(a == b for a, b in zip(warm, cold, strict=True)) >= len(cold) - 1
