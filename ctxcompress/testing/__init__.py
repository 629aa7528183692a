"""Fakes and a conformance test base class for compressors (yours and ours).

>>> from ctxcompress.testing import FakeEmbedder, CompressorConformance
>>> class TestMyCompressor(CompressorConformance):
...     def make_compressor(self):
...         return MyCompressor(embedder=FakeEmbedder())

Every compressor shipped with ctxcompress passes :class:`CompressorConformance`.
"""

from __future__ import annotations

from . import _fakes
from ._conformance import SAMPLE_CHUNKS, SAMPLE_QUERY, CompressorConformance
from ._fakes import *  # noqa: F403 - the fakes, listed once in _fakes.__all__

__all__ = ["SAMPLE_CHUNKS", "SAMPLE_QUERY", "CompressorConformance"]
__all__ += _fakes.__all__
