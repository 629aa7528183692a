"""Every shipped compressor passes the conformance suite (with fakes)."""

from __future__ import annotations

from ctxcompress import Compressor, LongContextReorder, Pipeline, RedundancyFusion, RelevanceFilter
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
