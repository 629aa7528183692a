"""Every hyperparameter is a constructor parameter (issue 13 §4): the hybrid score's weights (with the
entity-bridging ones), the Summarizer's query damping, the Refiner verifier's minimums, the KG linker's
fuzzy n-gram lengths."""

from __future__ import annotations

import dataclasses
import inspect
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import ctxcompress._compressors.bridging as bridging_module
import ctxcompress._compressors.relevance_filter as relevance_module
import ctxcompress._compressors.summarizer as summarizer_module
import ctxcompress._kg.linking as linking_module
import ctxcompress._refiner.verify as verify_module
from ctxcompress import (
    Chunk,
    Compressor,
    ConfigError,
    ExtractRestructure,
    HybridWeights,
    KGSchemaPruner,
    Pipeline,
    RelevanceFilter,
    Summarizer,
    load_config,
)
from ctxcompress._compressors.bridging import entity_bridge
from ctxcompress._refiner.parser import RefinerQuote
from ctxcompress._refiner.verify import verify_quotes
from ctxcompress.extend import CallContext, make_units
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY, FakeEmbedder, FakeLLM, WhitespaceCounter


def _scores(f: RelevanceFilter) -> np.ndarray:
    chunks = list(SAMPLE_CHUNKS)
    ctx = CallContext(counter=WhitespaceCounter(), sources=tuple(chunks))
    return f.score_units(chunks, make_units(chunks, "sentence"), SAMPLE_QUERY, ctx)


def test_no_module_level_weights() -> None:
    assert not hasattr(relevance_module, "_WEIGHTS")


def test_default_weights_are_the_tuned_ones() -> None:
    w = RelevanceFilter().weights
    assert w == HybridWeights(lex=0.3, n_evidence=3, title_in_query=0.5, doc=0.3, bridge=0.5, lead=0.15)
    assert dataclasses.is_dataclass(w)
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.lex = 1.0  # type: ignore[misc]


def test_weights_in_get_params_and_to_dict() -> None:
    f = RelevanceFilter(weights=HybridWeights(lead=0.05))
    assert f.get_params()["weights"] == HybridWeights(lead=0.05)
    data = f.to_dict()["init_parameters"]["weights"]
    assert data == {"type": "ctxcompress.HybridWeights", "init_parameters": {**HybridWeights().to_dict(), "lead": 0.05}}
    json.dumps(f.to_dict())  # plain data
    back = Compressor.from_dict(json.loads(json.dumps(f.to_dict())))
    assert isinstance(back, RelevanceFilter) and back.weights == HybridWeights(lead=0.05) and back == f
    assert pickle.loads(pickle.dumps(f)).weights == f.weights


def test_weights_change_the_scores() -> None:
    emb = FakeEmbedder()
    default = _scores(RelevanceFilter(embedder=emb))
    assert np.array_equal(default, _scores(RelevanceFilter(embedder=emb, weights=HybridWeights())))
    lead = _scores(RelevanceFilter(embedder=emb, weights=HybridWeights(lead=5.0)))
    assert not np.array_equal(default, lead)


def test_set_params_through_a_pipeline() -> None:
    emb = FakeEmbedder()
    pipe = Pipeline([("filter", RelevanceFilter(embedder=emb))])
    pipe.set_params(filter__weights=HybridWeights(lead=5.0))
    step = pipe.named_steps["filter"]
    assert isinstance(step, RelevanceFilter)
    assert step.weights.lead == 5.0
    assert np.array_equal(_scores(step), _scores(RelevanceFilter(embedder=emb, weights=HybridWeights(lead=5.0))))
    pipe.set_params(filter__weights={"bridge": 0.25})  # a mapping: the other weights keep their defaults
    assert step.weights == HybridWeights(bridge=0.25)
    step_data = pipe.to_dict()["init_parameters"]["steps"][0]["init_parameters"]
    assert step_data["weights"]["init_parameters"]["bridge"] == 0.25


def test_weights_from_a_yaml_file(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text(
        "steps:\n"
        "  - name: filter\n"
        "    type: RelevanceFilter\n"
        "    init_parameters:\n"
        "      scorer: bm25\n"
        "      weights: {lead: 0.05, n_evidence: 2}\n",
        encoding="utf-8",
    )
    pipe = load_config(cfg)
    assert isinstance(pipe, Pipeline)
    step = pipe.named_steps["filter"]
    assert isinstance(step, RelevanceFilter)
    assert step.weights == HybridWeights(lead=0.05, n_evidence=2)
    assert load_config(_dump(tmp_path, pipe)) == pipe


def _dump(tmp_path: Path, comp: Compressor) -> Path:
    out = tmp_path / "again.json"
    out.write_text(json.dumps(comp.to_dict()), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    "weights",
    [
        {"lexx": 1.0},
        {"lex": -0.1},
        {"lex": float("nan")},
        {"lead": float("inf")},
        {"n_evidence": 0},
        {"n_evidence": 1.5},
        {"doc": "0.3"},
        {"bridge": True},
        3,
        [0.3],
    ],
)
def test_bad_weights_are_config_errors(weights: object) -> None:
    with pytest.raises(ConfigError):
        RelevanceFilter(weights=weights)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the other module-level tunables
@pytest.mark.parametrize(
    ("module", "name"),
    [
        (summarizer_module, "QUERY_DAMPING"),
        (bridging_module, "_YEAR_STRENGTH"),
        (verify_module, "MIN_QUOTE_CHARS"),
        (verify_module, "MIN_PIECE_WORDS"),
        (verify_module, "MIN_UNTITLED_WORDS"),
        (linking_module, "MAX_NGRAM"),
        (linking_module, "MIN_FUZZY_WORDS"),
    ],
)
def test_no_module_level_tunables(module: object, name: str) -> None:
    assert not hasattr(module, name)


def test_defaults_are_todays_values() -> None:
    w = HybridWeights()
    assert (w.entity_bridge, w.entity_decay, w.entity_evidence, w.entity_year) == (0.5, 0.7, 3, 0.3)
    # the bridging helper's own defaults are the weights' defaults
    sig = inspect.signature(entity_bridge).parameters
    assert (sig["weight"].default, sig["decay"].default, sig["n_evidence"].default, sig["year_strength"].default) == (
        0.5,
        0.7,
        3,
        0.3,
    )
    assert Summarizer().query_damping == 0.5
    er = ExtractRestructure()
    assert (er.min_quote_chars, er.min_piece_words, er.min_untitled_words) == (3, 3, 5)
    kg = KGSchemaPruner()
    assert (kg.min_fuzzy_words, kg.max_fuzzy_words) == (2, 6)


NEW_PARAMS: list[tuple[type[Compressor], dict[str, object]]] = [
    (Summarizer, {"query_damping": 0.2}),
    (
        RelevanceFilter,
        {"entity_hops": 2, "weights": HybridWeights(entity_decay=0.5, entity_year=0.1, entity_evidence=2)},
    ),
    (ExtractRestructure, {"min_quote_chars": 4, "min_piece_words": 2, "min_untitled_words": 7}),
    (KGSchemaPruner, {"min_fuzzy_words": 1, "max_fuzzy_words": 4}),
]


@pytest.mark.parametrize(("cls", "params"), NEW_PARAMS)
def test_new_params_round_trip(cls: type[Compressor], params: dict[str, object]) -> None:
    comp = cls(**params)
    got = comp.get_params()
    assert all(got[k] == v for k, v in params.items())
    data = json.loads(json.dumps(comp.to_dict()))
    back = Compressor.from_dict(data)
    assert type(back) is cls and back == comp
    assert cls().set_params(**params) == comp


def test_new_params_from_a_yaml_file(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text(
        "steps:\n"
        "  - type: RelevanceFilter\n"
        "    init_parameters: {scorer: bm25, entity_hops: 1, weights: {entity_year: 0.1, entity_decay: 0.5}}\n"
        "  - type: Summarizer\n"
        "    init_parameters: {query_damping: 0.25}\n"
        "  - type: ExtractRestructure\n"
        "    init_parameters: {scorer: bm25, min_untitled_words: 8}\n",
        encoding="utf-8",
    )
    pipe = load_config(cfg)
    assert isinstance(pipe, Pipeline)
    rf, summ, er = (c for _, c in pipe.steps)
    assert isinstance(rf, RelevanceFilter) and rf.weights == HybridWeights(entity_year=0.1, entity_decay=0.5)
    assert isinstance(summ, Summarizer) and summ.query_damping == 0.25
    assert isinstance(er, ExtractRestructure) and er.min_untitled_words == 8
    assert load_config(_dump(tmp_path, pipe)) == pipe


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (Summarizer, {"query_damping": 1.5}),
        (Summarizer, {"query_damping": None}),
        (RelevanceFilter, {"weights": {"entity_evidence": 0}}),
        (RelevanceFilter, {"weights": {"entity_year": -1.0}}),
        (RelevanceFilter, {"weights": {"entity_decay": float("nan")}}),
        (ExtractRestructure, {"min_quote_chars": 0}),
        (ExtractRestructure, {"min_piece_words": 2.5}),
        (ExtractRestructure, {"min_untitled_words": None}),
        (KGSchemaPruner, {"min_fuzzy_words": 0}),
        (KGSchemaPruner, {"max_fuzzy_words": "6"}),
    ],
)
def test_bad_new_params_are_config_errors(cls: type[Compressor], params: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        cls(**params)


def test_query_damping_changes_the_extractive_summary() -> None:
    chunks = list(SAMPLE_CHUNKS)

    def ranks(damping: float) -> list[str]:
        comp = Summarizer(embedder=FakeEmbedder(), target_tokens=12, query_damping=damping)
        return [c.text for c in comp.compress(chunks, query=SAMPLE_QUERY, counter=WhitespaceCounter()).chunks]

    assert ranks(0.5) == [
        c.text
        for c in Summarizer(embedder=FakeEmbedder(), target_tokens=12)
        .compress(chunks, query=SAMPLE_QUERY, counter=WhitespaceCounter())
        .chunks
    ]
    assert len({tuple(ranks(d)) for d in (0.0, 0.5, 1.0)}) > 1


def test_entity_weights_change_the_bridge() -> None:
    query = "Who directed the film Blue Velvet, and where was it shot?"
    chunks = [
        Chunk("Lynch directed the film Blue Velvet in 1986.", id="a"),
        Chunk("Filming took place in Wilmington.", id="b"),
        Chunk("The studio in Wilmington opened in 1986.", id="c"),
        Chunk("Race walking is a sport.", id="d"),
        Chunk("Geelong is a port city.", id="e"),
    ]
    ctx = CallContext(counter=WhitespaceCounter(), sources=tuple(chunks))
    units = make_units(chunks, "sentence")

    def scores(**weights: object) -> np.ndarray:
        w = HybridWeights(**{"entity_evidence": 1, **weights})  # type: ignore[arg-type]
        return RelevanceFilter(embedder=FakeEmbedder(), entity_hops=2, weights=w).score_units(chunks, units, query, ctx)

    default = scores()
    assert np.array_equal(default, scores(entity_bridge=0.5, entity_decay=0.7, entity_year=0.3))
    for changed in ({"entity_bridge": 2.0}, {"entity_year": 1.0}, {"entity_evidence": 3}, {"entity_decay": 0.0}):
        assert not np.array_equal(default, scores(**changed)), changed


def test_verifier_minimums_are_the_compressors() -> None:
    src = [Chunk("The wasp is an insect. It was here last summer in the garden.", id="bugs")]
    # not contiguous in the source: verified piece by piece ("The wasp is an insect" has 5 words)
    quote = RefinerQuote(1, 1, "", "The wasp is an insect... in the garden")
    assert verify_quotes([quote], src).dropped == 0
    assert verify_quotes([quote], src, min_untitled_words=6).dropped == 1
    out = "1.1. ## bugs\nThe wasp is an insect... in the garden"

    def kept(**kw: int) -> str:
        comp = ExtractRestructure(engine="llm", llm=FakeLLM([out]), **kw)
        return comp.compress(src, query="wasp", counter=WhitespaceCounter()).text

    assert "The wasp is an insect" in kept() and "in the garden" in kept()
    assert "in the garden" not in kept(min_piece_words=4)
    assert kept(min_piece_words=6) == ""


def test_fuzzy_word_lengths_change_the_links() -> None:
    pytest.importorskip("networkx")
    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_node("D:ms", name="multiple sclerosis", type="Disease")
    g.add_node("G:il7r", name="IL7R", type="Gene")
    g.add_edge("D:ms", "G:il7r", key="DaG", predicate="associates", relation="DaG", provenance="DISEASES")

    def linked(**kw: int) -> list[str]:
        comp = KGSchemaPruner(g, embedder=FakeEmbedder(), link_threshold=-1.0, fallback_k=1, **kw)
        return [lk.method for lk in comp.link("sclerosis genes")]

    assert linked() == linked(min_fuzzy_words=2, max_fuzzy_words=6)
    assert linked(min_fuzzy_words=3) != linked(min_fuzzy_words=1)
