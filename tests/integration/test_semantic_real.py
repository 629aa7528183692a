"""SemanticCompressor with the real default embedder (ONNX all-MiniLM-L6-v2 when installed).

Behaviour only; the throughput is measured by ``eval/bench_tcra.py``. ``tests/conftest.py`` sets
``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

import statistics

import pytest

from ctxcompress import Chunk, split_words
from ctxcompress._compressors.semantic_compressor import SemanticCompressor
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY

pytestmark = pytest.mark.integration

FUNCTION_WORDS = {"a", "an", "the", "and", "of", "to", "in", "as", "their", "they", "when", "much", "then"}


def test_real_embedder_compresses_with_verbatim_spans(real_embedder) -> None:  # type: ignore[no-untyped-def]
    comp = SemanticCompressor(embedder=real_embedder, drop_percentile=30, protect=())
    chunks = list(SAMPLE_CHUNKS[:2])
    res = comp.compress(chunks, query=SAMPLE_QUERY, counter="whitespace")
    assert res.check_spans() == []
    d = res.report.stages[0].details
    assert d["dropped_words"] == pytest.approx(0.3 * d["words"], abs=d["units"])
    assert 0.55 < res.report.tokens_out / res.report.tokens_in < 0.85


def test_function_words_matter_less_than_content_words(real_embedder) -> None:  # type: ignore[no-untyped-def]
    comp = SemanticCompressor(embedder=real_embedder, protect=())
    scores = comp.word_importance(SAMPLE_CHUNKS[0].text)
    func = [s for w, s in scores if w.lower() in FUNCTION_WORDS and s is not None]
    content = [s for w, s in scores if w.lower() not in FUNCTION_WORDS and s is not None]
    assert statistics.mean(func) < statistics.mean(content)


def test_protected_answer_survives_heavy_compression(real_embedder) -> None:  # type: ignore[no-untyped-def]
    comp = SemanticCompressor(embedder=real_embedder, drop_percentile=70)
    res = comp.compress([Chunk(SAMPLE_CHUNKS[1].text, id="t")], query=SAMPLE_QUERY, counter="whitespace")
    words = {w.text for w in split_words(res.text)}
    assert {"Chief", "Protocol", "Ghana", "1928", "2014"} <= words
    assert res.check_spans() == []
