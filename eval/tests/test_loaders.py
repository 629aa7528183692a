"""One loader test per data set, on the small fixtures in fixtures/data (see FIXTURES.md)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from ctxcompress.testing import FakeEmbedder

from ctxcompress_eval import load_dataset, load_jsonl
from ctxcompress_eval._datasets import dataset_key, parse_dataset_spec

pytestmark = pytest.mark.unit


def test_hotpotqa_ircot(data_dir: Path) -> None:
    qs = load_dataset("hotpotqa", data_dir=data_dir)
    assert len(qs) == 5
    q = qs[0]
    assert q.id == "5a8c7595554299585d9e36b6" or q.id
    assert len(q.contexts) == 10 and q.n_supporting == 2
    assert all(p.title and p.text for p in q.contexts)
    assert q.answers and not q.label_answer
    assert len(load_dataset("hotpotqa", data_dir=data_dir, limit=2)) == 2


def test_hotpotqa_original_format(data_dir: Path) -> None:
    qs = load_dataset("hotpotqa-train", data_dir=data_dir)
    assert len(qs) == 2
    for q in qs:
        assert q.n_supporting == 2
        assert len(q.answers) == 1
        assert all(not p.text.startswith(" ") for p in q.contexts)


def test_musique(data_dir: Path) -> None:
    qs = load_dataset("musique", data_dir=data_dir)
    assert len(qs) == 2
    assert all(len(q.contexts) == 20 and q.n_supporting >= 2 for q in qs)
    assert qs[0].meta["hops"] >= 2


def test_rgb_synthetic(data_dir: Path) -> None:
    qs = load_dataset("rgb", data_dir=data_dir)
    assert [q.id for q in qs] == ["1", "2", "3"]
    assert qs[0].n_supporting == 2 and len(qs[0].contexts) == 5
    assert qs[1].answers[:2] == ("June 4 2030", "Jun 4, 2030")  # a list of alternatives, flattened
    assert all(q.meta["fakeanswer"] for q in qs)
    # counterfactual snippets are not given to the compressors
    assert not any("Lena Brandt" in p.text for p in qs[0].contexts)
    again = load_dataset("rgb", data_dir=data_dir)
    assert [p.id for p in again[0].contexts] == [p.id for p in qs[0].contexts]  # seeded shuffle


@pytest.mark.parametrize(("name", "n"), [("nq", 6), ("xquad", 6), ("pubmedqa", 3)])
def test_retrieval_built(data_dir: Path, tmp_path: Path, name: str, n: int) -> None:
    emb = FakeEmbedder()
    qs = load_dataset(f"{name}@2", data_dir=data_dir, embedder=emb, cache_dir=tmp_path)
    assert len(qs) == n
    for q in qs:
        assert len(q.contexts) == 2
        assert q.meta["gold_retrieved"] == (q.n_supporting == 1)
        assert q.n_supporting <= 1
    calls = emb.calls
    load_dataset(f"{name}@2", data_dir=data_dir, embedder=emb, cache_dir=tmp_path)
    assert emb.calls == calls + 1  # passage vectors came from the cache: only the queries were embedded
    gold = load_dataset(f"{name}@gold", data_dir=data_dir)
    assert all(len(q.contexts) == 1 and q.n_supporting == 1 for q in gold)
    wide = load_dataset(name, data_dir=data_dir, embedder=emb, default_k=50)
    assert all(q.meta["gold_retrieved"] for q in wide)  # k above the corpus size: everything retrieved


def test_pubmedqa_answers_are_labels(data_dir: Path) -> None:
    qs = load_dataset("pubmedqa@gold", data_dir=data_dir)
    assert all(q.yes_no and q.answers[0] in ("yes", "no", "maybe") for q in qs)


def test_nq_limit_indexes_whole_split(data_dir: Path) -> None:
    qs = load_dataset("nq@3", data_dir=data_dir, embedder=FakeEmbedder(), limit=2)
    assert len(qs) == 2 and all(len(q.contexts) == 3 for q in qs)


def test_user_jsonl_and_demo_file(tmp_path: Path) -> None:
    from importlib import resources

    demo = resources.files("ctxcompress").joinpath("data/hotpotqa_demo.jsonl")
    path = tmp_path / "demo.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(demo.read_text(encoding="utf-8"))
    qs = load_dataset(str(path))
    assert len(qs) == 8 and all(q.n_supporting == 2 for q in qs)
    own = tmp_path / "own.jsonl"
    own.write_text(
        json.dumps({"question": "Q?", "answers": "A", "contexts": [{"title": "t", "text": "A is here."}, "plain"]})
        + "\n\n"
        + json.dumps({"id": "x", "question": "Is it?", "answers": ["yes"], "contexts": []})
        + "\n"
    )
    a, b = load_jsonl(own)
    assert a.id == "0" and a.answers == ("A",) and a.contexts[1].text == "plain" and a.contexts[0].is_supporting is None
    assert b.id == "x" and b.yes_no
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Q?"}) + "\n")
    with pytest.raises(ValueError, match="answers"):
        load_jsonl(bad)


def test_specs_and_keys(tmp_path: Path) -> None:
    assert parse_dataset_spec("nq") == ("nq", 10)
    assert parse_dataset_spec("nq@20") == ("nq", 20)
    assert parse_dataset_spec("xquad@gold") == ("xquad", None)
    with pytest.raises(ValueError):
        parse_dataset_spec("nq@x")
    assert dataset_key("hotpotqa") == "hotpotqa"
    assert dataset_key("nq") == "nq@10"
    assert dataset_key("my/data.jsonl.gz") == "data"
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("nope", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError):
        load_dataset("hotpotqa", data_dir=tmp_path)


def test_seeded_sample_is_stable_and_grows(data_dir: Path) -> None:
    from ctxcompress_eval._runner import sample_questions

    qs = load_dataset("hotpotqa", data_dir=data_dir)
    three = sample_questions(qs, 3, seed=0)
    assert len(three) == 3 and three == sample_questions(qs, 3, seed=0)
    assert {q.id for q in three} <= {q.id for q in sample_questions(qs, 4, seed=0)}
    order = [q.id for q in qs]
    assert [q.id for q in three] == sorted((q.id for q in three), key=order.index)  # file order kept
