"""``ctxcompress.distributed``: the worker and driver steps with fakes (no Ray), then the Ray Data jobs on a
local 2-CPU cluster (skipped when ``ray[data]`` is not installed)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctxcompress import (
    ConfigError,
    InputError,
    MissingDependencyError,
    Pipeline,
    RedundancyFusion,
    RelevanceFilter,
    VectorStore,
    embedder_identity,
    index_chunks,
)
from ctxcompress._core.types import coerce_chunks
from ctxcompress.distributed import _batch_chunks as batch_chunks
from ctxcompress.distributed import compress_batch, embed_batch, write_rows
from ctxcompress.testing import FakeEmbedder

CHUNKS = [
    {"id": "p", "text": "Paris is the capital of France. It has many museums.", "metadata": {"title": "Paris"}},
    {"id": "q", "text": "Paris is the capital of France. Dogs bark at night.", "metadata": {"title": "France"}},
    {"id": "b", "text": "Berlin is the capital of Germany. It is large."},
]


def pipe() -> Pipeline:
    emb = FakeEmbedder()
    return Pipeline(
        [("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(granularity="sentence", embedder=emb))]
    )


def stored(store: VectorStore, comp: Pipeline) -> dict[str, np.ndarray]:
    emb = comp.embedding_texts(coerce_chunks(CHUNKS))[0][0]
    all_texts = sorted({t for _, ts in comp.embedding_texts(coerce_chunks(CHUNKS)) for t in ts})
    vecs, found = store.get(emb, all_texts)
    assert found.all()
    return dict(zip(all_texts, vecs, strict=True))


# ---------------------------------------------------------------------- worker and driver steps, no Ray
def test_embed_batch_then_write_rows_fills_the_store_as_index_chunks_does(tmp_path: Path) -> None:
    comp = pipe()
    rows = embed_batch(comp, coerce_chunks(CHUNKS), batch_texts=3)
    assert set(rows) == {"identity", "text", "vector"}
    assert len(rows["text"]) == len(set(rows["text"]))  # each distinct text embedded once
    assert set(rows["identity"]) == {embedder_identity(FakeEmbedder())}
    ours = VectorStore(tmp_path / "ray.db")
    assert write_rows(ours, rows) == len(rows["text"])
    assert write_rows(ours, rows) == 0  # already stored
    theirs = VectorStore(tmp_path / "local.db")
    report = index_chunks(CHUNKS, theirs, compressor=comp)
    assert report.embedded == len(rows["text"])
    a, b = stored(ours, comp), stored(theirs, comp)
    assert a.keys() == b.keys()
    for t in a:
        np.testing.assert_array_equal(a[t], b[t])


def test_batch_chunks_from_json_lines_and_from_columns() -> None:
    lines = np.array([json.dumps(c) for c in CHUNKS], dtype=object)
    assert [c.text for c in batch_chunks({"json": lines})] == [c["text"] for c in CHUNKS]
    columns: dict[str, Any] = {
        "id": np.array(["p", "q", "b"], dtype=object),
        "text": np.array([c["text"] for c in CHUNKS], dtype=object),
        "metadata": np.array([{"title": "Paris"}, {"title": "France"}, None], dtype=object),
        "score": np.array([0.5, float("nan"), 1.0]),
    }
    chunks = batch_chunks(columns)
    assert [c.id for c in chunks] == ["p", "q", "b"]
    assert chunks[0].metadata["title"] == "Paris" and dict(chunks[2].metadata) == {}
    assert chunks[0].score == 0.5 and chunks[1].score is None
    with pytest.raises(InputError, match="'text' column"):
        batch_chunks({"body": np.array(["x"], dtype=object)})
    with pytest.raises(InputError, match="line 2"):
        batch_chunks({"json": np.array([json.dumps(CHUNKS[0]), "{not json"], dtype=object)})


def test_compress_batch_one_line_per_record_and_errors_do_not_stop_it() -> None:
    comp = pipe()
    records = [
        json.dumps({"id": 1, "query": "What is the capital of France?", "chunks": CHUNKS}),
        "",
        "{broken",
        json.dumps({"id": 3, "question": "Which city is in Germany?", "chunks": [c["text"] for c in CHUNKS]}),
        json.dumps({"id": 4, "chunks": CHUNKS}),
        json.dumps([1, 2]),
    ]
    out = [json.loads(line) for line in compress_batch(comp, records, budget=0.5)]
    assert [r.get("id") for r in out] == [1, None, 3, 4, None]
    expected = comp.compress(CHUNKS, query="What is the capital of France?", budget=0.5).to_dict()
    assert out[0]["chunks"] == expected["chunks"] and out[0]["text"] == expected["text"]
    assert out[0]["report"]["tokens_out"] == expected["report"]["tokens_out"]
    assert "error" not in out[2] and out[2]["query"] == "Which city is in Germany?"
    assert out[1]["error"].startswith("InputError: not a JSON record")
    assert "'query'" in out[3]["error"] and "JSON object" in out[4]["error"]


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ctxcompress.distributed import compress_records, index_dataset

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(MissingDependencyError, match=r"ctxcompress\[ray\]"):
        index_dataset(str(tmp_path / "c.jsonl"), tmp_path / "v.db", compressor=pipe())
    with pytest.raises(MissingDependencyError, match=r"ctxcompress\[ray\]"):
        compress_records(str(tmp_path / "r.jsonl"), tmp_path / "out.jsonl", compressor=pipe())


def test_arguments_are_checked_before_ray_starts(tmp_path: Path) -> None:
    from ctxcompress.distributed import compress_records, index_dataset

    with pytest.raises(ConfigError, match="workers"):
        index_dataset("c.jsonl", tmp_path / "v.db", workers=0)
    with pytest.raises(ConfigError, match="compressor"):
        index_dataset("c.jsonl", tmp_path / "v.db", compressor="fuse")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="counter"):
        compress_records("r.jsonl", tmp_path / "o.jsonl", counter=object())  # type: ignore[arg-type]


def test_import_ctxcompress_does_not_import_ray() -> None:
    import subprocess

    code = "import ctxcompress, ctxcompress.distributed, sys; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------- the Ray Data wiring, on a stand-in
class _FakeData:
    """An in-process stand-in for the few ``ray.data`` calls the jobs make (read_text, map_batches with
    a function or an actor class, iter_batches): it checks the wiring (columns, batches, order), not Ray;
    the tests below run the real thing where ``ray[data]`` is installed."""

    class ActorPoolStrategy:
        def __init__(self, size: int) -> None:
            self.size = size

    class DataContext:
        current: Any = None

        @staticmethod
        def get_current() -> Any:
            from types import SimpleNamespace

            if _FakeData.DataContext.current is None:
                _FakeData.DataContext.current = SimpleNamespace(execution_options=SimpleNamespace(preserve_order=False))
            return _FakeData.DataContext.current

    class Dataset:
        def __init__(self, rows: list[dict[str, Any]]) -> None:
            self.rows = rows

        def map_batches(self, fn: Any, *, batch_size: int = 4, fn_constructor_kwargs: Any = None, **kw: Any) -> Any:
            if isinstance(fn, type):
                assert isinstance(kw["compute"], _FakeData.ActorPoolStrategy) and kw["num_cpus"] == 1
                fn = fn(**(fn_constructor_kwargs or {}))
            out: list[dict[str, Any]] = []
            for s in range(0, len(self.rows), batch_size):
                part = self.rows[s : s + batch_size]
                cols = fn({k: np.array([r[k] for r in part], dtype=object) for k in part[0]})
                out += [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]
            return _FakeData.Dataset(out)

        def iter_batches(self, *, batch_size: int, batch_format: str) -> Any:
            for s in range(0, len(self.rows), batch_size):
                part = self.rows[s : s + batch_size]
                yield {k: np.array([r[k] for r in part], dtype=object) for k in part[0]}

    @staticmethod
    def read_text(paths: str | list[str]) -> Any:
        files = [paths] if isinstance(paths, str) else paths
        return _FakeData.Dataset(
            [{"text": line} for f in files for line in Path(f).read_text(encoding="utf-8").splitlines() if line]
        )


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import ctxcompress.distributed as dist

    monkeypatch.setattr(dist, "_ray", lambda: (None, _FakeData))
    monkeypatch.setattr(dist, "ray_session", lambda *a, **k: contextlib.nullcontext())


def test_index_dataset_wiring(tmp_path: Path, fake_ray: None) -> None:
    from ctxcompress.distributed import index_dataset

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(c) + "\n" for c in CHUNKS), encoding="utf-8")
    comp = pipe()
    ours = VectorStore(tmp_path / "ray.db")
    report = index_dataset(str(corpus), ours, compressor=comp, batch_chunks=2)
    theirs = VectorStore(tmp_path / "local.db")
    assert report.new == index_chunks(CHUNKS, theirs, compressor=comp).embedded == ours.count()
    assert stored(ours, comp).keys() == stored(theirs, comp).keys()
    assert index_dataset([str(corpus)], ours, compressor=comp).new == 0
    # a Dataset of chunk rows (columns text, id, metadata)
    rows = _FakeData.Dataset([{"id": c["id"], "text": c["text"], "metadata": c.get("metadata")} for c in CHUNKS])
    assert index_dataset(rows, VectorStore(tmp_path / "rows.db"), compressor=comp).new == report.new
    with pytest.raises(ConfigError, match="source"):
        index_dataset(42, ours, compressor=comp)


def test_compress_records_wiring(tmp_path: Path, fake_ray: None) -> None:
    from ctxcompress.distributed import compress_records

    records = tmp_path / "records.jsonl"
    lines = [json.dumps({"id": i, "query": q, "chunks": CHUNKS}) for i, q in enumerate(["Paris?", "Germany?"])]
    records.write_text("\n".join([*lines, "{broken"]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = compress_records(str(records), out, compressor=pipe(), budget=0.5, counter="approx", batch_records=2)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert report.rows == 3 and report.errors == 1 and [r.get("id") for r in rows] == [0, 1, None]
    assert rows[1]["text"] == pipe().compress(CHUNKS, query="Germany?", budget=0.5, counter="approx").text
    assert _FakeData.DataContext.get_current().execution_options.preserve_order is False  # restored
    with pytest.raises(ConfigError, match="cannot write the output"):
        compress_records(str(records), tmp_path / "no" / "such" / "out.jsonl", compressor=pipe())


# ---------------------------------------------------------------------- Ray Data on a local cluster
def _has_ray_data() -> bool:
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("ray", "pandas", "pyarrow"))
    except ValueError:
        return False


_RAY_MARKS = [
    pytest.mark.skipif(not _has_ray_data(), reason="ray[data] is not installed (pip install 'ctxcompress[ray]')"),
    # Ray's own deprecation notices are not ours to fail on
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def needs_ray(fn: Any) -> Any:
    for mark in _RAY_MARKS:
        fn = mark(fn)
    return fn


@pytest.fixture(scope="module")
def local_ray() -> Any:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    # two actors hold one CPU each; the read task needs a third
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@needs_ray
def test_index_dataset_on_ray_matches_index_chunks(tmp_path: Path, local_ray: Any) -> None:
    from ctxcompress.distributed import index_dataset

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(c) + "\n" for c in CHUNKS), encoding="utf-8")
    comp = pipe()
    ours = VectorStore(tmp_path / "ray.db")
    report = index_dataset(str(corpus), ours, compressor=comp, workers=2, batch_chunks=2)
    theirs = VectorStore(tmp_path / "local.db")
    local = index_chunks(CHUNKS, theirs, compressor=comp)
    assert report.new == local.embedded == ours.count()
    assert report.rows >= report.new  # a text in two batches is embedded twice, written once
    a, b = stored(ours, comp), stored(theirs, comp)
    assert a.keys() == b.keys()
    for t in a:
        np.testing.assert_array_equal(a[t], b[t])
    again = index_dataset(str(corpus), ours, compressor=comp, workers=2)
    assert again.new == 0


@needs_ray
def test_compress_records_on_ray_keeps_the_order(tmp_path: Path, local_ray: Any) -> None:
    from ctxcompress.distributed import compress_records

    questions = ["What is the capital of France?", "Which city is in Germany?", "Do dogs bark?"]
    records = tmp_path / "records.jsonl"
    lines = [json.dumps({"id": i, "query": q, "chunks": CHUNKS}) for i, q in enumerate(questions * 4)]
    records.write_text("\n".join([*lines, "{broken"]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = compress_records(str(records), out, compressor=pipe(), budget=0.5, workers=2, batch_records=3)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert report.rows == len(rows) == 13 and report.errors == 1
    assert [r.get("id") for r in rows[:-1]] == list(range(12))
    expected = pipe().compress(CHUNKS, query=questions[1], budget=0.5).to_dict()
    assert rows[1]["text"] == expected["text"]


# ---------------------------------------------------------------------- the command line
def test_cli_index_ray_and_batch(tmp_path: Path, fake_ray: None, capsys: pytest.CaptureFixture[str]) -> None:
    from ctxcompress._cli import main

    config = tmp_path / "pipe.json"
    config.write_text(json.dumps(pipe().to_dict()), encoding="utf-8")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(c) + "\n" for c in CHUNKS), encoding="utf-8")
    db = tmp_path / "v.db"
    assert (
        main(["index", "--ray", "--workers", "2", "--store", str(db), "--input", str(corpus), "--config", str(config)])
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["new"] == VectorStore(db).count() > 0 and summary["workers"] == 2
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"id": "a", "query": "Paris?", "chunks": CHUNKS}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["batch", "--input", str(records), "--output", str(out), "--config", str(config), "--budget", "50%"]
    assert main([*args, "--store", str(db), "--counter", "approx", "--compact"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 1
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["id"] == "a" and row["report"]["tokens_out"] < row["report"]["tokens_in"]


def test_cli_ray_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ctxcompress._cli import main

    assert main(["index", "--ray", "--store", str(tmp_path / "v.db")]) == 2
    assert "--input" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)
    records = tmp_path / "r.jsonl"
    records.write_text("{}\n", encoding="utf-8")
    assert main(["batch", "--input", str(records), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "pip install 'ctxcompress[ray]'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["batch", "--input", str(records), "--output", "o.jsonl", "--workers", "0"])
