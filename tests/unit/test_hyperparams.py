"""Every hyperparameter is a constructor parameter (issue 13 §4): the hybrid score's weights."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import ctxcompress._compressors.relevance_filter as relevance_module
from ctxcompress import Compressor, ConfigError, HybridWeights, Pipeline, RelevanceFilter, load_config
from ctxcompress.extend import CallContext, make_units
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY, FakeEmbedder, WhitespaceCounter


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
