"""Every shipped compressor passes the conformance suite (with fakes)."""

from __future__ import annotations

import pytest

from ctxcompress import Chunk, Compressor, LongContextReorder, Pipeline, RedundancyFusion, RelevanceFilter
from ctxcompress._core.context import CallContext
from ctxcompress.testing import CompressorConformance, FakeEmbedder


class TestRelevanceFilterSentence(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return RelevanceFilter(embedder=FakeEmbedder())


class TestRelevanceFilterDocumentBM25(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return RelevanceFilter(granularity="document", scorer="bm25")


class TestRelevanceFilterWindow(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return RelevanceFilter(embedder=FakeEmbedder(), scorer="embedding", context_window=1, percentile=50)


class TestRedundancyFusion(CompressorConformance):
    # fusion merges near-duplicates and selects nothing: a cap below the fused text is the base class's cut
    honours_budget = False

    def make_compressor(self) -> Compressor:
        return RedundancyFusion(embedder=FakeEmbedder(), similarity_threshold=0.5)


class TestLongContextReorder(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return LongContextReorder(embedder=FakeEmbedder())


class TestPipeline(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return Pipeline(
            [
                ("fuse", RedundancyFusion(embedder=FakeEmbedder())),
                ("filter", RelevanceFilter(embedder=FakeEmbedder())),
                ("reorder", LongContextReorder(embedder=FakeEmbedder())),
            ]
        )


# --------------------------------------------------------------------------- the suite itself can fail
class _Overrun(Compressor):
    """Returns its input whatever the budget, so the base class has to cut it."""

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        return list(chunks)


class _OverrunSuite(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return _Overrun()


class _ExemptOverrunSuite(_OverrunSuite):
    honours_budget = False


def test_budget_check_flags_a_compressor_that_leaves_its_budget_to_the_base_class() -> None:
    with pytest.raises(AssertionError, match="output cut"):
        _OverrunSuite().test_budget_holds()
    _ExemptOverrunSuite().test_budget_holds()  # the final cut still holds every cap
