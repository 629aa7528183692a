"""``logging.getLogger("ctxcompress")``: silent by default, INFO for loading with timings, WARNING once
for every passthrough, fallback and cut of a call (issue 16 §2)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ctxcompress import Budget, Chunk, Pipeline, RedundancyFusion, RelevanceFilter
from ctxcompress._backends.tokens import factory as _factory
from ctxcompress._core.log import logger, timed
from ctxcompress.testing import FailingEmbedder, FakeEmbedder, WhitespaceCounter

pytestmark = pytest.mark.unit

CHUNKS = [
    Chunk("Paris is the capital of France. Cats sleep a lot. The sky is blue today.", id="a"),
    Chunk("Berlin is the capital of Germany. Dogs bark at night. Rain fell in May.", id="b"),
]


def _ours(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("ctxcompress") and r.levelno == level]


def test_the_library_only_adds_a_null_handler() -> None:
    assert logger.name == "ctxcompress"
    assert logger.handlers and all(isinstance(h, logging.NullHandler) for h in logger.handlers)


def test_passthrough_is_logged_once_per_call(caplog: pytest.LogCaptureFixture) -> None:
    pipe = Pipeline(
        [("fuse", RedundancyFusion(embedder=FailingEmbedder())), ("filter", RelevanceFilter(scorer="bm25"))],
        on_error="passthrough",
    )
    with caplog.at_level(logging.WARNING, logger="ctxcompress"):
        result = pipe.compress(CHUNKS, query="capital of France", counter=WhitespaceCounter())
    logged = _ours(caplog, logging.WARNING)
    reported = [w for stage in result.report.stages for w in stage.warnings] + list(result.report.warnings)
    assert reported and logged == reported
    assert any("passed through" in w for w in logged)


def test_cut_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    comp = RelevanceFilter(embedder=FakeEmbedder(), granularity="document", top_k=2)
    with caplog.at_level(logging.WARNING, logger="ctxcompress"):
        result = comp.compress(CHUNKS, query="capital", budget=Budget(max_tokens=5), counter=WhitespaceCounter())
    reported = [w for stage in result.report.stages for w in stage.warnings] + list(result.report.warnings)
    assert reported and _ours(caplog, logging.WARNING) == reported
    assert any("cut" in w for w in reported)


def test_a_quiet_call_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ctxcompress"):
        RelevanceFilter(scorer="bm25", top_k=1).compress(CHUNKS, query="capital", counter=WhitespaceCounter())
    assert _ours(caplog, logging.WARNING) == []


def test_timed_logs_at_info_on_success_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ctxcompress"):
        with timed("loaded the thing"):
            pass
        with pytest.raises(RuntimeError), timed("never loaded"):
            raise RuntimeError("boom")
    messages = _ours(caplog, logging.INFO)
    assert len(messages) == 1 and messages[0].startswith("loaded the thing in ") and messages[0].endswith(" s")


def test_graph_loading_is_logged_with_its_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("networkx")
    from ctxcompress import load_graph

    edges = tmp_path / "edges.csv"
    edges.write_text(
        "source,target,predicate,provenance,source_type,target_type\nD1,G1,ASSOCIATES,test,Disease,Gene\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.INFO, logger="ctxcompress"):
        load_graph(edges, cache=False)
    assert any(m.startswith("loaded the graph") and str(edges) in m for m in _ours(caplog, logging.INFO))


def test_approximate_default_counter_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_factory, "_offline_available", lambda name: False)
    monkeypatch.setattr(_factory, "_WARNED_APPROX", [])
    with caplog.at_level(logging.WARNING, logger="ctxcompress"):
        first = _factory.get_counter(None)
        _factory.get_counter("auto")
    assert first.name == "approx"
    logged = _ours(caplog, logging.WARNING)
    assert len(logged) == 1 and "ctxcompress[tiktoken]" in logged[0]
