"""Pipeline per-step budgets and ``ctxcompress.tune`` / ``ctxcompress tune`` with fakes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ctxcompress
from ctxcompress import Budget, ConfigError, InputError, LongContextReorder, Pipeline, RelevanceFilter
from ctxcompress._core.answers import answer_in_context
from ctxcompress._core.registry import register_type
from ctxcompress._tune import read_dev_set, tune
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

WS = WhitespaceCounter()
DEMO = Path(str(resources.files("ctxcompress") / "data" / "hotpotqa_demo.jsonl"))


class CountingEmbedder(FakeEmbedder):
    """A fake that records every text its ``encode`` is asked for (class-wide: survives to_dict copies)."""

    seen: list[str] = []  # noqa: RUF012

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        CountingEmbedder.seen.extend(texts)
        return super().encode(texts)


register_type(CountingEmbedder, name="tests.CountingEmbedder")


def sentences_pipeline(embedder: Any = None) -> Pipeline:
    emb = embedder or FakeEmbedder()
    return Pipeline(
        [
            ("docs", RelevanceFilter(granularity="document", scorer="embedding", embedder=emb)),
            ("filter", RelevanceFilter(granularity="sentence", scorer="embedding", embedder=emb)),
        ]
    )


# --------------------------------------------------------------------------- per-step budgets
def test_step_budget_caps_that_step_against_the_pipeline_input() -> None:
    chunks = [f"Sentence number {i} talks about topic {i % 3}." for i in range(20)]
    total = WS.count("\n\n".join(chunks))
    pipe = Pipeline([("filter", RelevanceFilter(scorer="bm25"))], budgets={"filter": 0.25})
    res = pipe.compress(chunks, query="topic 1", counter=WS)
    assert res.report.tokens_out <= int(0.25 * total)
    assert res.report.stages[0].tokens_out <= int(0.25 * total)
    loose = Pipeline([("filter", RelevanceFilter(scorer="bm25"))])
    assert loose.compress(chunks, query="topic 1", counter=WS).report.tokens_out == total
    # the pipeline's own budget still applies when it is the smaller
    assert pipe.compress(chunks, query="topic 1", counter=WS, budget=10).report.tokens_out <= 10


def test_step_budgets_round_trip_and_validate() -> None:
    pipe = Pipeline([("filter", RelevanceFilter(scorer="bm25")), ("reorder", LongContextReorder())])
    pipe.set_params(budgets={"filter": 0.3, "reorder": 200})
    data = pipe.to_dict()
    assert data["init_parameters"]["budgets"] == {"filter": 0.3, "reorder": 200}
    again = Pipeline.from_dict(data)
    assert again.budgets == {"filter": 0.3, "reorder": 200} and again.get_params()["budgets"] == again.budgets
    assert "budgets" not in Pipeline([RelevanceFilter()]).to_dict()["init_parameters"]  # unchanged files
    with pytest.raises(ConfigError, match="no step"):
        Pipeline([("filter", RelevanceFilter())], budgets={"filtre": 0.3})
    for bad in (0.0, 1.5, -3, "0.3", True):
        with pytest.raises(ConfigError):
            Pipeline([("filter", RelevanceFilter())], budgets={"filter": bad})


# --------------------------------------------------------------------------- the dev-set reader
def test_read_dev_set(tmp_path: Path) -> None:
    qs = read_dev_set(DEMO)
    assert len(qs) == 8 and all(q.contexts and q.answers for q in qs)
    assert qs[0].contexts[0].metadata["title"] == "Meet Corliss Archer"
    path = tmp_path / "dev.jsonl"
    lines = [
        {"question": "q?", "answers": "yes", "contexts": ["a b c"]},
        {"id": "x", "question": "q2?", "answers": ["Paris"], "contexts": [{"title": "t", "text": "in Paris"}]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n", encoding="utf-8")
    a, b = read_dev_set(path)
    assert not a.scored and b.scored and b.contexts[0].id == "x:0"
    path.write_text('{"question": "q"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="answers"):
        read_dev_set(path)
    with pytest.raises(InputError):
        read_dev_set(tmp_path / "missing.jsonl")


# --------------------------------------------------------------------------- tune
def test_tune_finds_least_fraction_within_tolerance() -> None:
    pipe = sentences_pipeline()
    before = pipe.to_dict()
    res = tune(pipe, DEMO, tolerance=0.2, counter=WS)
    assert pipe.to_dict() == before  # the caller's pipeline is not changed
    qs = [q for q in read_dev_set(DEMO) if q.scored]
    baseline = sum(answer_in_context("\n\n".join(c.text for c in q.contexts), q.answers) for q in qs) / len(qs)
    assert res.baseline_recall == pytest.approx(baseline)
    assert res.recall >= res.target_recall - 1e-9
    assert res.budgets and all(0 < f < 1 for f in res.budgets.values())
    assert res.kept < res.untuned_kept
    for stage, f in res.budgets.items():  # the chosen fraction is the least that holds
        lower = [p for p in res.points if p.stage == stage and p.budget < f]
        assert all(p.recall < res.target_recall for p in lower)
    assert res.pipeline.budgets == res.budgets
    assert isinstance(res.pipeline["filter"].embedder, FakeEmbedder)  # written with the user's embedder
    md = res.to_markdown()
    assert "## stage `docs`" in md and "(chosen)" in md
    assert not any("below one question" in n for n in res.notes)
    strict = tune(pipe, DEMO, tolerance=0.01, counter=WS, stages=["filter"])
    assert any("below one question" in n for n in strict.notes)
    assert strict.recall >= strict.baseline_recall - 0.01 and set(strict.budgets) <= {"filter"}


def test_tune_embeds_nothing_twice() -> None:
    CountingEmbedder.seen.clear()
    res = tune(sentences_pipeline(CountingEmbedder()), DEMO, tolerance=0.1, counter=WS)
    assert len(res.points) > 2  # several evaluations of every question
    assert CountingEmbedder.seen and len(CountingEmbedder.seen) == len(set(CountingEmbedder.seen))
    assert res.vectors_reused > res.vectors_computed > 0


def test_tune_validation() -> None:
    with pytest.raises(ConfigError):
        tune(sentences_pipeline(), DEMO, tolerance=1.5)
    with pytest.raises(ConfigError):
        tune(sentences_pipeline(), DEMO, grid=[0.0, 0.5])
    with pytest.raises(ConfigError, match="no step"):
        tune(sentences_pipeline(), DEMO, stages=["nope"])
    assert ctxcompress.tune is tune and "tune" in ctxcompress.__all__


def test_cli_tune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ctxcompress._cli import main

    config = tmp_path / "pipe.json"
    config.write_text(json.dumps(sentences_pipeline().to_dict()), encoding="utf-8")
    out, report = tmp_path / "tuned.yaml", tmp_path / "report.md"
    args = ["tune", "--dev", str(DEMO), "--config", str(config), "--out", str(out), "--report", str(report)]
    assert main([*args, "--tolerance", "0.2", "--counter", "whitespace", "--stage", "filter"]) == 0
    printed = capsys.readouterr().out
    assert "# ctxcompress tune" in printed and report.read_text(encoding="utf-8") in printed + "\n"
    tuned = ctxcompress.load_config(out)
    assert isinstance(tuned, Pipeline) and set(tuned.budgets) <= {"filter"}
    assert tuned.compress(read_dev_set(DEMO)[0].contexts, query="q", budget=Budget(), counter=WS).report
