"""Core types, budget, report, pipeline and budget enforcement."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctxcompress
from ctxcompress import (
    Budget,
    Chunk,
    CompressionResult,
    ConfigError,
    InputError,
    LongContextReorder,
    Pipeline,
    RedundancyFusion,
    RelevanceFilter,
    SavingsReport,
    Span,
)
from ctxcompress._core.text import extract, fit_to_budget
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY, FailingEmbedder, FakeEmbedder, WhitespaceCounter

WS = WhitespaceCounter()


def test_public_surface_is_sorted_and_importable() -> None:
    names = ctxcompress.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(ctxcompress, name), name


# ----------------------------------------------------------------------------- Chunk / Span
def test_chunk_is_immutable_and_copies_metadata() -> None:
    meta = {"title": "T", "nested": {"a": 1}}
    c = Chunk("hello", id="x", metadata=meta)
    meta["title"] = "changed"
    assert c.metadata["title"] == "T"
    with pytest.raises(AttributeError):
        c.text = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.metadata["title"] = "x"  # type: ignore[index]


def test_chunk_pickles_and_round_trips() -> None:
    c = Chunk("hello world", id="a", metadata={"k": [1, 2]}, score=0.5, spans=(Span("s", 0, 5, 0, 5),))
    assert pickle.loads(pickle.dumps(c)) == c
    assert Chunk.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_chunk_rejects_bad_fields() -> None:
    with pytest.raises(InputError):
        Chunk(123)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        Chunk("x", metadata=[1])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        Chunk("x", score="high")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        Span("s", 0, 5, 0, 4)  # verbatim spans have equal lengths


def test_trace_maps_through_earlier_stages() -> None:
    src = Chunk("Alpha beta. Gamma delta. Epsilon.", id="src")
    first = extract(src, [(0, 11), (25, 33)])  # "Alpha beta. Epsilon."
    assert first is not None and first.text == "Alpha beta. Epsilon."
    second = extract(first, [(12, 20)])  # "Epsilon."
    assert second is not None and second.text == "Epsilon."
    (sp,) = second.spans
    assert (sp.source_id, sp.start, sp.end) == ("src", 25, 33)
    assert src.text[sp.start : sp.end] == second.text[sp.out_start : sp.out_end]


def test_extract_merges_adjacent_ranges_with_original_whitespace() -> None:
    src = Chunk("One.  Two.  Three.", id="s")
    out = extract(src, [(0, 4), (6, 10)])
    assert out is not None and out.text == "One.  Two."
    assert len(out.spans) == 1


def test_coerce_assigns_ids_and_rejects_duplicates() -> None:
    res = RelevanceFilter(embedder=FakeEmbedder()).compress(["a b", "c d"], query="a", counter=WS)
    assert {c.id for c in res.sources} == {"0", "1"}
    with pytest.raises(InputError):
        RelevanceFilter(embedder=FakeEmbedder()).compress([Chunk("a", id="x"), Chunk("b", id="x")], query="a")


# ----------------------------------------------------------------------------- Budget
def test_budget_resolution_and_validation() -> None:
    assert Budget().resolve(100) is None
    assert Budget(max_tokens=30).resolve(100) == 30
    assert Budget(fraction=0.25).resolve(100) == 25
    assert Budget(max_tokens=30, fraction=0.1).resolve(100) == 10
    assert Budget.coerce(300) == Budget(max_tokens=300)
    assert Budget.coerce(0.5) == Budget(fraction=0.5)
    for bad in (dict(max_tokens=-1), dict(fraction=0.0), dict(fraction=1.5), dict(max_tokens=True)):
        with pytest.raises(ConfigError):
            Budget(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        Budget.coerce("lots")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- report
def _report() -> SavingsReport:
    res = Pipeline(
        [("fuse", RedundancyFusion(embedder=FakeEmbedder())), ("filter", RelevanceFilter(embedder=FakeEmbedder()))]
    ).compress(list(SAMPLE_CHUNKS), query=SAMPLE_QUERY, budget=Budget(max_tokens=60), counter=WS)
    return res.report


def test_report_numbers_and_renderings() -> None:
    rep = _report()
    assert rep.tokens_out <= 60 < rep.tokens_in
    assert rep.tokens_saved == rep.tokens_in - rep.tokens_out
    assert rep.ratio == pytest.approx(rep.tokens_in / rep.tokens_out)
    assert rep.kept_fraction == pytest.approx(rep.tokens_out / rep.tokens_in)
    assert rep.counter == "whitespace"
    assert [s.name for s in rep.stages] == ["fuse", "filter"]
    assert rep.stages[0].tokens_in == rep.tokens_in
    assert {c.id for c in rep.chunks} == {c.id for c in SAMPLE_CHUNKS}
    assert sum(c.tokens_in for c in rep.chunks) <= rep.tokens_in
    assert rep.cost_saved(2.5) == pytest.approx(rep.tokens_saved * 2.5 / 1e6)
    d = rep.to_dict()
    assert isinstance(d["ratio"], float) and d["counter"] == "whitespace"
    assert SavingsReport.from_dict(json.loads(rep.to_json())).to_dict() == d
    md = rep.with_price(5.0).to_markdown(per_chunk=True)
    assert "| fuse |" in md and "cost saved" in md and "| kept |" in md
    assert "whitespace" in rep.to_text()


# ----------------------------------------------------------------------------- budget enforcement
def test_fit_to_budget_cuts_at_sentence_then_word() -> None:
    chunks = [Chunk("One two three. Four five six.", id="a"), Chunk("Seven eight nine.", id="b")]
    out, cut = fit_to_budget(chunks, 5, WS.count)
    assert cut
    text = "\n\n".join(c.text for c in out)
    assert WS.count(text) == 5 and text.startswith("One two three. Four five")
    out, cut = fit_to_budget(chunks, 0, WS.count)
    assert out == [] and cut


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=200), max_size=6),
    cap=st.integers(min_value=0, max_value=80),
)
def test_pipeline_budget_is_a_hard_cap(texts: list[str], cap: int) -> None:
    pipe = Pipeline(
        [("fuse", RedundancyFusion(embedder=FakeEmbedder())), ("filter", RelevanceFilter(embedder=FakeEmbedder()))]
    )
    res = pipe.compress(texts, query="what is this", budget=Budget(max_tokens=cap), counter=WS)
    assert WS.count(res.text) <= cap
    assert res.report.tokens_out == WS.count(res.text)
    assert res.check_spans() == []


# ----------------------------------------------------------------------------- pipeline
def test_pipeline_composition_params_and_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = RedundancyFusion(embedder=FakeEmbedder())
    b = RelevanceFilter(embedder=FakeEmbedder(), top_k=3)
    pipe = a | b
    assert isinstance(pipe, Pipeline) and list(pipe.named_steps) == ["redundancyfusion", "relevancefilter"]
    pipe2 = Pipeline([("fuse", a), ("filter", b)])
    pipe2.set_params(filter__top_k=5, fuse__similarity_threshold=0.8)
    assert pipe2["filter"].top_k == 5  # type: ignore[attr-defined]
    assert pipe2.get_params()["filter__top_k"] == 5
    with pytest.raises(ConfigError):
        pipe2.set_params(nope__x=1)
    with pytest.raises(ConfigError):
        pipe2.set_params(filter__nope=1)
    with pytest.raises(ConfigError):
        pipe2.set_params(filter__top_k=-1)
    data = pipe2.to_dict()
    again = Pipeline.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text(
        "steps:\n"
        "  - name: fuse\n    type: RedundancyFusion\n    init_parameters: {similarity_threshold: 0.85}\n"
        "  - name: filter\n    type: ctxcompress.RelevanceFilter\n"
        "    init_parameters: {granularity: sentence, scorer: bm25}\n"
    )
    loaded = ctxcompress.load_config(cfg)
    assert isinstance(loaded, Pipeline) and loaded["filter"].scorer == "bm25"  # type: ignore[attr-defined]
    (tmp_path / "bad.yaml").write_text("steps:\n  - type: NoSuchThing\n")
    with pytest.raises(ConfigError):
        ctxcompress.load_config(tmp_path / "bad.yaml")


def test_pipeline_rejects_bad_steps() -> None:
    with pytest.raises(ConfigError):
        Pipeline([("a", "not a compressor")])  # type: ignore[list-item]
    with pytest.raises(ConfigError):
        Pipeline([("a__b", RelevanceFilter())])


def test_backend_failure_raises_or_passes_through_with_warning() -> None:
    chunks = list(SAMPLE_CHUNKS)
    with pytest.raises(ctxcompress.BackendError):
        RelevanceFilter(embedder=FailingEmbedder()).compress(chunks, query=SAMPLE_QUERY, counter=WS)
    res = RelevanceFilter(embedder=FailingEmbedder(), on_error="passthrough").compress(
        chunks, query=SAMPLE_QUERY, counter=WS
    )
    assert [c.id for c in res.chunks] == [c.id for c in chunks]
    assert any("passed through" in w for w in res.report.stages[0].warnings)
    pipe = Pipeline([("f", RelevanceFilter(embedder=FailingEmbedder()))], on_error="passthrough")
    res = pipe.compress(chunks, query=SAMPLE_QUERY, budget=Budget(max_tokens=40), counter=WS)
    assert res.report.tokens_out <= 40 and res.report.stages[0].warnings


def test_acompress_matches_compress() -> None:
    import asyncio

    comp = RelevanceFilter(embedder=FakeEmbedder())
    a = comp.compress(list(SAMPLE_CHUNKS), query=SAMPLE_QUERY, budget=50, counter=WS)
    b = asyncio.run(comp.acompress(list(SAMPLE_CHUNKS), query=SAMPLE_QUERY, budget=50, counter=WS))
    assert isinstance(b, CompressionResult) and a.chunks == b.chunks


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ctxcompress; heavy = [m for m in ('torch', 'onnxruntime', 'sentence_transformers', "
        "'transformers', 'faiss', 'tiktoken', 'tokenizers') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ----------------------------------------------------------------------------- compressors
def test_relevance_filter_keeps_relevant_sentences_in_order() -> None:
    chunks = [
        Chunk("Paris is the capital of France. Bananas are yellow.", id="a", metadata={"title": "Paris"}),
        Chunk("The Eiffel Tower is in Paris, the capital.", id="b"),
        Chunk("Cats sleep a lot.", id="c"),
    ]
    res = RelevanceFilter(embedder=FakeEmbedder(), scorer="embedding", top_k=2).compress(
        chunks, query="What is the capital of France?", counter=WS
    )
    assert "Paris is the capital of France." in res.text
    assert "Bananas" not in res.text and "Cats" not in res.text
    assert [c.id for c in res.chunks] == ["a", "b"]
    assert res.chunks[0].metadata["title"] == "Paris"


def test_relevance_filter_selection_rules() -> None:
    chunks = [Chunk(f"apple {'apple ' * i}pie number {i}.", id=str(i)) for i in range(6)]
    f = RelevanceFilter(embedder=FakeEmbedder(), scorer="bm25", granularity="document", percentile=50)
    assert 1 <= len(f.compress(chunks, query="apple", counter=WS).chunks) <= 4
    f = RelevanceFilter(embedder=FakeEmbedder(), scorer="bm25", threshold=1e9, min_keep=1)
    assert len(f.compress(chunks, query="apple", counter=WS).chunks) == 1  # never empty
    f = RelevanceFilter(embedder=FakeEmbedder(), scorer="bm25", threshold=1e9, min_keep=0)
    assert f.compress(chunks, query="apple", counter=WS).chunks == ()
    with pytest.raises(ConfigError):
        RelevanceFilter(granularity="word")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        RelevanceFilter(percentile=150)


def test_relevance_filter_context_window_adds_neighbours() -> None:
    chunk = Chunk("Intro here. He was born in Ulm. Then more. Unrelated end.", id="a")
    base = RelevanceFilter(embedder=FakeEmbedder(), scorer="bm25", top_k=1)
    wide = RelevanceFilter(embedder=FakeEmbedder(), scorer="bm25", top_k=1, context_window=1)
    q = "where was he born"
    assert base.compress([chunk], query=q, counter=WS).text == "He was born in Ulm."
    assert wide.compress([chunk], query=q, counter=WS).text == "Intro here. He was born in Ulm. Then more."


def test_fusion_merges_duplicates_and_records_sources() -> None:
    chunks = [
        Chunk("The tower is 330 metres tall. It opened in 1889.", id="a", metadata={"title": "A"}),
        Chunk("The tower is 330 metres tall. Cats purr.", id="b", metadata={"title": "B"}),
        Chunk("The tower is 330 metres tall.", id="c"),
    ]
    res = RedundancyFusion(embedder=FakeEmbedder()).compress(chunks, query="when did it open", counter=WS)
    assert res.text.count("The tower is 330 metres tall.") == 1
    merged = [m for c in res.chunks for m in c.metadata.get("ctxcompress.merged", [])]
    assert {m["source_id"] for m in merged} == {"b", "c"} or len(merged) == 2
    assert res.report.stages[0].details["merged_sentences"] == 2
    assert res.check_spans() == []


def test_reorder_puts_best_at_the_edges() -> None:
    from ctxcompress._compressors.long_context_reorder import edge_order

    assert edge_order([1, 2, 3, 4, 5]) == [1, 3, 5, 4, 2]
    chunks = [Chunk(f"doc {i}", id=str(i), score=s) for i, s in enumerate([0.1, 0.9, 0.5, 0.7])]
    res = LongContextReorder(use_scores=True).compress(chunks, query="q", counter=WS)
    assert [c.id for c in res.chunks] == ["1", "2", "0", "3"]
