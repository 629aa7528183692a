"""VectorStore, StoredEmbedder, index_chunks and compress(store=) with fake embedders (no model)."""

from __future__ import annotations

import io
import json
import multiprocessing as mp
import pickle
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from ctxcompress import (
    BackendError,
    CachedEmbedder,
    ConfigError,
    Pipeline,
    RedundancyFusion,
    RelevanceFilter,
    StoredEmbedder,
    VectorStore,
    embedder_identity,
    index_chunks,
)
from ctxcompress._cli import main
from ctxcompress._core.types import coerce_chunks
from ctxcompress.testing import FakeEmbedder

CHUNKS = [
    {"id": "p", "text": "Paris is the capital of France. It has many museums.", "metadata": {"title": "Paris"}},
    {"id": "q", "text": "Paris is the capital of France. Dogs bark at night.", "metadata": {"title": "France"}},
    {"id": "b", "text": "Berlin is the capital of Germany. It is large."},
]


class OtherFake(FakeEmbedder):
    """Same vectors size as FakeEmbedder, another model: must not share its stored vectors."""

    @property
    def identity(self) -> str:
        return "other-model:v1"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return -super().encode(texts)


def _pipe(emb: FakeEmbedder) -> Pipeline:
    return Pipeline([("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(embedder=emb, top_k=2))])


def test_round_trip_float32_is_exact_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    emb = FakeEmbedder(dim=32)
    texts = ["a b c", "d e", "a b c", "x"]
    vecs = emb.encode(texts)
    with VectorStore(path, dtype="float32") as store:
        assert store.put(emb, texts, vecs) == 3  # the repeated text is one row
        assert store.put(emb, texts, vecs) == 0  # already there
    fresh = VectorStore(path)  # the file's dtype is kept
    assert fresh.dtype == "float32"
    got, found = fresh.get(emb, [*texts, "missing"])
    assert found.tolist() == [True, True, True, True, False]
    np.testing.assert_array_equal(got[:4], vecs)
    assert not got[4].any()
    assert fresh.count() == 3 and fresh.count(emb) == 3
    with pytest.raises(ConfigError, match="float32"):
        VectorStore(path, dtype="float16")


def test_float16_within_tolerance(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(200, 384)).astype(np.float32)
    vecs = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    texts = [f"sentence {i}" for i in range(200)]
    store = VectorStore(tmp_path / "v.db")
    assert store.dtype == "float16"
    store.put("model-x", texts, vecs)
    got, found = store.get("model-x", texts)
    assert found.all() and got.dtype == np.float32
    assert float(np.abs(got @ got.T - vecs @ vecs.T).max()) < 2e-3


def test_encode_writes_misses_back_and_embeds_only_them(tmp_path: Path) -> None:
    emb = FakeEmbedder(dim=16)
    store = VectorStore(tmp_path / "v.db", dtype="float32")
    first = store.encode(emb, ["one two", "three"])
    assert (emb.calls, emb.texts_seen) == (1, 2)
    again = VectorStore(tmp_path / "v.db").encode(emb, ["three", "four", "one two", "four"])
    assert (emb.calls, emb.texts_seen) == (2, 3)  # only "four", once
    np.testing.assert_array_equal(again[[2, 0]], first)
    np.testing.assert_array_equal(again[1], again[3])
    wrapped = StoredEmbedder(emb, store)
    assert wrapped.identity == embedder_identity(emb) and wrapped.name == emb.name
    wrapped.encode(["four", "three"])
    assert emb.calls == 2


def test_identities_are_separate(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v.db", dtype="float32")
    a, b = FakeEmbedder(dim=16), OtherFake(dim=16)
    va = store.encode(a, ["shared text"])
    vb = store.encode(b, ["shared text"])
    assert a.calls == 1 and b.calls == 1
    np.testing.assert_array_equal(vb, -va)
    assert store.info().vectors == {"fake-bow-16": 1, "other-model:v1": 1}
    # a wrapper keeps the identity of what it wraps
    assert embedder_identity(CachedEmbedder(b)) == "other-model:v1"
    with pytest.raises(BackendError, match="dimension"):
        store.put(a, ["t"], np.ones((1, 8), dtype=np.float32))


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        VectorStore(":memory:")
    with pytest.raises(ConfigError):
        VectorStore(tmp_path / "v.db", dtype="int8")  # type: ignore[arg-type]
    store = VectorStore(tmp_path / "v.db")
    with pytest.raises(ConfigError):
        store.put("m", ["a"], np.ones((2, 3), dtype=np.float32))
    with pytest.raises(BackendError, match="non-finite"):
        store.put("m", ["a"], np.full((1, 3), np.nan, dtype=np.float32))
    with pytest.raises(ConfigError):
        StoredEmbedder(FakeEmbedder(), "v.db")  # type: ignore[arg-type]


def test_pickled_store_reopens_the_file(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v.db")
    store.put("m", ["a"], np.ones((1, 4), dtype=np.float32))
    copy = pickle.loads(pickle.dumps(store))
    assert copy.path == store.path and copy.count("m") == 1


def _worker(path: str, seed: int, n: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        emb = FakeEmbedder(dim=32)
        store = VectorStore(path, timeout=120)
        rng = np.random.default_rng(seed)
        for _ in range(n):
            texts = [f"text {int(i)}" for i in rng.integers(0, 300, size=12)]
            got = store.encode(emb, texts)  # reads, embeds the misses, writes them
            np.testing.assert_allclose(got, emb.encode(texts), atol=2e-3)
        out.put(None)
    except BaseException as exc:  # report every failure, "database is locked" included
        out.put(f"{type(exc).__name__}: {exc}")


def test_processes_read_and_write_one_file_concurrently(tmp_path: Path) -> None:
    path = str(tmp_path / "v.db")
    VectorStore(path)  # the schema exists; the workers race on rows
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, seed, 40, out)) for seed in range(4)]
    for p in procs:
        p.start()
    errors = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [None] * 4
    assert all(p.exitcode == 0 for p in procs)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    texts = [f"text {i}" for i in range(300)]
    got, found = VectorStore(path).get(FakeEmbedder(dim=32), texts)
    np.testing.assert_allclose(got[found], FakeEmbedder(dim=32).encode(texts)[found], atol=2e-3)


def test_fresh_processes_create_the_same_file_concurrently(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")  # no schema yet: every worker creates it
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, seed, 5, out)) for seed in range(4)]
    for p in procs:
        p.start()
    errors = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [None] * 4


def test_embedding_texts_are_the_scored_strings() -> None:
    emb = FakeEmbedder()
    chunks = coerce_chunks(CHUNKS)
    [(e1, fuse)] = RedundancyFusion(embedder=emb).embedding_texts(chunks)
    [(e2, rel)] = RelevanceFilter(embedder=emb).embedding_texts(chunks)
    assert e1 is emb and e2 is emb
    assert fuse[:2] == ["Paris is the capital of France.", "It has many museums."]
    assert rel[:2] == ["Paris: Paris is the capital of France.", "Paris: It has many museums."]
    assert rel[-1] == "It is large."  # no title: the plain sentence
    assert RelevanceFilter(scorer="bm25").embedding_texts(chunks) == []
    assert len(_pipe(emb).embedding_texts(chunks)) == 2


def test_index_then_compress_embeds_only_the_query(tmp_path: Path) -> None:
    emb = FakeEmbedder()
    pipe = _pipe(emb)
    report = index_chunks(CHUNKS, tmp_path / "v.db", compressor=pipe)
    assert report.chunks == 3 and report.embedded == report.texts > 0
    assert index_chunks(CHUNKS, tmp_path / "v.db", compressor=pipe).embedded == 0  # nothing new
    expected = pipe.compress(CHUNKS, query="capital of France")
    emb.texts_seen = 0
    got = pipe.compress(CHUNKS, query="capital of France", store=VectorStore(tmp_path / "v.db"))
    assert emb.texts_seen == 1  # the query only
    assert got.text == expected.text


def test_compress_with_store_embeds_and_stores_misses(tmp_path: Path) -> None:
    emb = FakeEmbedder()
    pipe = _pipe(emb)
    path = str(tmp_path / "v.db")
    pipe.compress(CHUNKS, query="capital", store=path)  # a path opens the store
    stored = VectorStore(path).count(emb)
    assert stored > 0
    emb.texts_seen = 0
    pipe.compress(CHUNKS, query="capital", store=path)
    assert emb.texts_seen == 1
    with pytest.raises(ConfigError):
        pipe.compress(CHUNKS, query="capital", store=42)  # type: ignore[arg-type]


CONFIG = {
    "steps": [
        {
            "name": "filter",
            "type": "RelevanceFilter",
            "init_parameters": {
                "scorer": "embedding",
                "embedder": {"type": "ctxcompress.testing.FakeEmbedder", "init_parameters": {"dim": 64}},
            },
        }
    ]
}


def test_cli_index_then_compress_with_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "pipe.json"
    cfg.write_text(json.dumps(CONFIG))
    lines = "".join(json.dumps(c) + "\n" for c in CHUNKS)
    db = str(tmp_path / "v.db")
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["index", "--store", db, "--config", str(cfg), "--compact"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["chunks"] == 3 and summary["embedded"] == 6 and summary["vectors"] == {"fake-bow-64": 6}
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    args = ["compress", "--query", "capital of France", "--config", str(cfg), "--format", "text"]
    assert main([*args, "--store", db]) == 0
    with_store = capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(args) == 0
    assert capsys.readouterr().out == with_store
    assert VectorStore(db).count() == 6  # the query was not stored


def test_long_context_reorder_embedding_texts() -> None:
    from ctxcompress import LongContextReorder

    chunks = coerce_chunks(CHUNKS)
    [(_, texts)] = LongContextReorder(embedder=FakeEmbedder()).embedding_texts(chunks)
    assert texts[0] == "Paris: " + CHUNKS[0]["text"] and texts[2] == CHUNKS[2]["text"]
    scored = [c.replace(score=1.0) for c in chunks]
    assert LongContextReorder(embedder=FakeEmbedder(), use_scores=True).embedding_texts(scored) == []


def _worker_same_object(store: VectorStore, seed: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        emb = FakeEmbedder(dim=32)
        for i in range(10):
            store.encode(emb, [f"text {seed}-{i}", "shared"])
        out.put(None)
    except BaseException as exc:
        out.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_forked_children_reopen_the_parents_store(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v.db")
    store.encode(FakeEmbedder(dim=32), ["parent"])  # the parent holds an open connection
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker_same_object, args=(store, seed, out)) for seed in range(3)]
    for p in procs:
        p.start()
    errors = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert errors == [None] * 3
    assert store.count() == 1 + 1 + 3 * 10  # the parent's connection still works
