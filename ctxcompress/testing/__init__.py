"""Fakes and a conformance test base class for compressors (yours and ours).

>>> from ctxcompress.testing import FakeEmbedder, CompressorConformance
>>> class TestMyCompressor(CompressorConformance):
...     def make_compressor(self):
...         return MyCompressor(embedder=FakeEmbedder())

Every compressor shipped with ctxcompress passes :class:`CompressorConformance`.
"""

from __future__ import annotations

from ._conformance import SAMPLE_CHUNKS, SAMPLE_QUERY, CompressorConformance
from ._fakes import (
    FailingEmbedder,
    FakeEmbedder,
    FakeLLM,
    FakeScorer,
    FaultyEmbedder,
    FaultyScorer,
    WhitespaceCounter,
    hotpot_like_sentences,
)

__all__ = [
    "SAMPLE_CHUNKS",
    "SAMPLE_QUERY",
    "CompressorConformance",
    "FailingEmbedder",
    "FakeEmbedder",
    "FakeLLM",
    "FakeScorer",
    "FaultyEmbedder",
    "FaultyScorer",
    "WhitespaceCounter",
    "hotpot_like_sentences",
]
