"""SemanticCompressor (TCRA-LLM semantic compression) with fake embedders."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

import ctxcompress
from ctxcompress import BackendError, Budget, Chunk, Compressor, ConfigError, Pipeline, RelevanceFilter, split_words
from ctxcompress._compressors.semantic_compressor import SemanticCompressor
from ctxcompress.testing import (
    SAMPLE_CHUNKS,
    SAMPLE_QUERY,
    CompressorConformance,
    FailingEmbedder,
    FakeEmbedder,
    WhitespaceCounter,
)

WS = WhitespaceCounter()


class WeightedEmbedder:
    """Each known word is its own axis with a fixed weight; a text embeds to its normalised weight sum.

    Removing word ``i`` (weight ``wᵢ``) from a text of orthogonal words moves the unit vector by
    ``sqrt(2 - 2·sqrt(1 - wᵢ²/|w|²))``: the heavier the word, the larger its importance.
    """

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights
        self.axes = {w: i + 1 for i, w in enumerate(weights)}
        self.calls = 0
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return "weighted"

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        self.texts.extend(texts)
        out = np.zeros((len(texts), len(self.axes) + 1), dtype=np.float32)
        for r, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                if w in self.axes:
                    out[r, self.axes[w]] += self.weights[w]
            if not out[r].any():
                out[r, 0] = 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def kept_word_offsets(result: ctxcompress.CompressionResult, source: Chunk) -> set[tuple[int, int]]:
    """Offsets of the source's words that the output kept, read from the verbatim spans."""
    covered: set[int] = set()
    for ch in result.chunks:
        if not ch.spans and ch.id == source.id:
            return {(w.start, w.end) for w in split_words(source.text)}
        for sp in ch.spans:
            if sp.source_id == source.id:
                covered.update(range(sp.start, sp.end))
    return {(w.start, w.end) for w in split_words(source.text) if w.start in covered}


# --------------------------------------------------------------------------- conformance
class TestSemanticConformance(CompressorConformance):
    # protected words (numbers, dates, entities, negations) are never dropped: a cap below what they
    # add up to is held by the base class's final cut
    honours_budget = False

    def make_compressor(self) -> Compressor:
        return SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=30)


class TestSemanticConformanceChunkQuery(CompressorConformance):
    honours_budget = False  # protected words, as above

    def make_compressor(self) -> Compressor:
        return SemanticCompressor(
            embedder=FakeEmbedder(),
            drop_percentile=50,
            granularity="chunk",
            distance="cosine",
            query_weight=1.0,
            protect=("numbers", "query"),
            protect_patterns=(r"\bArcher\b",),
        )


def test_exported_from_top_level() -> None:
    assert ctxcompress.SemanticCompressor is SemanticCompressor


# --------------------------------------------------------------------------- the worked example
def test_worked_example_drops_the_lightest_words() -> None:
    weights = {"alpha": 5.0, "beta": 1.0, "gamma": 3.0, "delta": 2.0, "epsilon": 4.0}
    emb = WeightedEmbedder(weights)
    comp = SemanticCompressor(embedder=emb, drop_percentile=40, protect=())
    text = "alpha beta gamma delta epsilon."
    total = math.sqrt(sum(w * w for w in weights.values()))
    expected = [math.sqrt(2 - 2 * math.sqrt(1 - (w / total) ** 2)) for w in weights.values()]
    got = comp.word_importance(text)
    assert [w for w, _ in got] == list(weights)
    assert [s for _, s in got] == pytest.approx(expected, rel=1e-5)
    emb.calls, emb.texts = 0, []
    res = comp.compress([Chunk(text, id="x")], counter=WS)
    # 40 % of 5 words: the two least important, beta (1) and delta (2), go
    assert res.text == "alpha gamma epsilon."
    assert res.check_spans() == []
    # one batched call: the unit and its five leave-one-out variants (no re-embedding after deletions)
    assert emb.calls == 1
    assert emb.texts == [
        text,
        "beta gamma delta epsilon.",
        "alpha gamma delta epsilon.",
        "alpha beta delta epsilon.",
        "alpha beta gamma epsilon.",
        "alpha beta gamma delta.",
    ]
    details = res.report.stages[0].details
    assert details["dropped_words"] == 2 and details["words"] == 5 and details["embeddings"] == 6
    assert details["units_per_s"] is None or details["units_per_s"] > 0


def test_cosine_distance_ranks_the_same_way() -> None:
    weights = {"alpha": 5.0, "beta": 1.0, "gamma": 3.0}
    comp = SemanticCompressor(embedder=WeightedEmbedder(weights), drop_percentile=34, distance="cosine", protect=())
    assert comp.compress(["alpha beta gamma"], counter=WS).text == "alpha gamma"


# --------------------------------------------------------------------------- properties
def _sentences() -> list[Chunk]:
    return [Chunk(s.text, id=f"s{i}") for i, s in enumerate(ctxcompress.split_sentences(SAMPLE_CHUNKS[1].text))] + [
        Chunk(s.text, id=f"k{i}") for i, s in enumerate(ctxcompress.split_sentences(SAMPLE_CHUNKS[0].text))
    ]


@pytest.mark.parametrize("j", [10, 20, 30, 50, 80])
def test_ordering_property_and_kept_count(j: int) -> None:
    comp = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=j, protect=())
    for src in _sentences():
        words = split_words(src.text)
        imp = dict(zip([(w.start, w.end) for w in words], [s for _, s in comp.word_importance(src.text)], strict=True))
        res = comp.compress([src], counter=WS)
        assert res.check_spans() == []
        kept = kept_word_offsets(res, src)
        dropped = set(imp) - kept
        n = len(words)
        assert len(kept) == n - int(j / 100 * n + 0.5)  # round(j/100 · n) dropped per unit
        assert abs(len(kept) - (1 - j / 100) * n) <= 0.5 + 1e-9
        if kept and dropped:
            # a more important word is never dropped before a less important one
            assert max(imp[d] for d in dropped) <= min(imp[k] for k in kept)  # type: ignore[type-var]
        # the output is an order-preserving subsequence of the input words
        out_words = [w.text for w in split_words(res.text)]
        assert out_words == [src.text[s:e] for s, e in sorted(kept)]


def test_kept_fraction_over_many_units() -> None:
    chunks = list(SAMPLE_CHUNKS[:4])
    for j in (20, 30, 50):
        res = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=j, protect=()).compress(chunks, counter=WS)
        d = res.report.stages[0].details
        assert abs((d["words"] - d["dropped_words"]) / d["words"] - (1 - j / 100)) < 0.03


def test_protected_words_survive_everything() -> None:
    text = (
        "Yesterday the committee did not approve 3 of the 12 proposals from Acme Corporation in March, "
        "and the chairman, whose code is XJ-99, resigned. Paris remains calm. Nobody in Paris said anything."
    )
    comp = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100, protect_patterns=(r"chair\w+",))
    res = comp.compress([Chunk(text, id="t")], counter=WS)
    out = {w.text for w in split_words(res.text)}
    must = {"not", "3", "12", "Acme", "Corporation", "March", "chairman", "XJ-99", "Paris", "Nobody"}
    assert must <= out
    # everything droppable went
    assert {"committee", "approve", "proposals", "resigned", "remains", "calm", "said"}.isdisjoint(out)
    assert res.check_spans() == []
    protected = [w for w, s in comp.word_importance(text) if s is None]
    assert set(protected) >= must


def test_protection_rules_can_be_switched_off_and_query_words_protected() -> None:
    text = "The committee met in March and did not approve 12 proposals."
    none = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100, protect=())
    assert none.compress([text], counter=WS).chunks == ()
    q = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100, protect=("query",))
    res = q.compress([text], query="Which proposals did the committee approve?", counter=WS)
    assert [w.text for w in split_words(res.text)] == ["The", "committee", "did", "approve", "proposals"]


def test_punctuation_rules() -> None:
    weights = {"film": 0.1, "comedy": 5.0, "old": 4.0, "shirley": 6.0, "temple": 6.0, "starring": 3.0}
    comp = SemanticCompressor(embedder=WeightedEmbedder(weights), drop_percentile=30, protect=())
    text = "A comedy film, starring (old) Shirley Temple."
    imp = dict(comp.word_importance(text))
    assert imp["A"] == pytest.approx(0.0, abs=1e-6)  # unknown words do not move the fake embedding
    res = comp.compress([Chunk(text, id="c")], counter=WS)
    # "A" and "film" go; the comma touching "film" goes with it, the final period stays
    assert res.text == "comedy starring (old) Shirley Temple."
    assert res.check_spans() == []


def test_brackets_and_final_punctuation() -> None:
    weights = {"born": 0.1, "john": 5.0, "smith": 5.0, "was": 0.2, "here": 0.3, "there": 4.0}
    comp = SemanticCompressor(embedder=WeightedEmbedder(weights), drop_percentile=50, protect=())
    res = comp.compress(["John Smith (born there) was here."], counter=WS)
    # "(" attaches to "born", ")" to "there"; the terminal "." is kept when "here" is dropped
    assert res.text == "John Smith there)."
    assert res.check_spans() == []


def test_cjk_is_pruned_per_character_without_spaces() -> None:
    text = "東京は日本の首都です。人口は約1400万人です。"
    res = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=50, protect=()).compress(
        [Chunk(text, id="ja")], counter=WS
    )
    assert res.check_spans() == []
    assert " " not in res.text
    assert res.text.endswith("。")
    src_chars = [c for c in text]
    it = iter(src_chars)
    assert all(c in it for c in res.text)  # a subsequence of the source characters
    assert len(res.text) < len(text)


def test_code_blocks_and_tables_are_kept_whole() -> None:
    text = "Intro words are here to be pruned away.\n\n```python\nx = compute(a, b)\n```\n\n| a | b |\n| 1 | 2 |"
    res = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100, protect=()).compress(
        [Chunk(text, id="md")], counter=WS
    )
    assert "```python\nx = compute(a, b)\n```" in res.text
    assert "| a | b |\n| 1 | 2 |" in res.text
    assert "Intro" not in res.text
    assert res.check_spans() == []


def test_query_awareness_raises_query_words() -> None:
    text = "The red apple and the green pear lay there."
    plain = dict(SemanticCompressor(embedder=FakeEmbedder(), protect=()).word_importance(text))
    aware = dict(
        SemanticCompressor(embedder=FakeEmbedder(), protect=(), query_weight=2.0).word_importance(
            text, query="pear colour"
        )
    )
    rank = sorted(aware, key=lambda w: aware[w] or 0.0)
    assert aware["pear"] > plain["pear"]  # type: ignore[operator]
    assert rank[-1] == "pear"


def test_budget_drops_more_and_holds() -> None:
    chunks = list(SAMPLE_CHUNKS[:4])
    comp = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=20)
    free = comp.compress(chunks, counter=WS)
    for cap in (150, 100, 60):
        res = comp.compress(chunks, budget=Budget(max_tokens=cap), counter=WS)
        assert res.report.tokens_out <= cap
        assert res.check_spans() == []
        assert res.report.stages[0].details["drop_fraction"] >= 0.2
    assert free.report.tokens_out > 150


def test_one_embedding_call_per_compress_and_cache_reuse() -> None:
    emb = FakeEmbedder()
    comp = SemanticCompressor(embedder=emb, query_weight=1.0)
    comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    assert emb.calls == 2  # all units and variants in one call, the query in another
    cached = ctxcompress.CachedEmbedder(FakeEmbedder())
    comp2 = SemanticCompressor(embedder=cached)
    a = comp2.compress(SAMPLE_CHUNKS, counter=WS)
    b = comp2.compress(SAMPLE_CHUNKS, counter=WS)
    assert a.chunks == b.chunks
    info = cached.cache_info()
    assert info.hits == info.misses  # the second call was served from the cache


def test_long_units_are_scored_in_windows() -> None:
    text = " ".join(f"w{i}x" if i % 7 else "the" for i in range(1000)) + "."
    emb = FakeEmbedder()
    comp = SemanticCompressor(embedder=emb, drop_percentile=50, protect=(), max_unit_words=100)
    res = comp.compress([Chunk(text, id="long")], counter=WS)
    d = res.report.stages[0].details
    assert d["units"] == 10 and d["dropped_words"] == 500
    assert emb.texts_seen == 10 * 101  # 10 windows, each with its 100 variants
    assert res.check_spans() == [] and res.text.endswith(".")


def test_in_a_pipeline_spans_point_to_root_sources() -> None:
    pipe = Pipeline(
        [("filter", RelevanceFilter(embedder=FakeEmbedder())), ("words", SemanticCompressor(embedder=FakeEmbedder()))]
    )
    res = pipe.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.5, counter=WS)
    assert res.check_spans() == []
    assert res.report.tokens_out <= res.report.tokens_in // 2


def test_zero_percentile_without_budget_is_identity() -> None:
    emb = FakeEmbedder()
    res = SemanticCompressor(embedder=emb, drop_percentile=0).compress(SAMPLE_CHUNKS, counter=WS)
    assert [c.text for c in res.chunks] == [c.text for c in SAMPLE_CHUNKS]
    assert emb.calls == 0


def test_backend_failure_follows_the_error_policy() -> None:
    with pytest.raises(BackendError):
        SemanticCompressor(embedder=FailingEmbedder()).compress(SAMPLE_CHUNKS, counter=WS)
    res = SemanticCompressor(embedder=FailingEmbedder(), on_error="passthrough").compress(SAMPLE_CHUNKS, counter=WS)
    assert [c.text for c in res.chunks] == [c.text for c in SAMPLE_CHUNKS]
    assert any("passed through" in w for st in res.report.stages for w in st.warnings)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"drop_percentile": 120},
        {"drop_percentile": -1},
        {"granularity": "word"},
        {"distance": "manhattan"},
        {"query_weight": -1.0},
        {"protect": "numbers"},
        {"protect": ("numbers", "colours")},
        {"protect_patterns": ("(unclosed",)},
        {"protect_patterns": "abc"},
        {"embedder": 42},
        {"max_unit_words": 1},
        {"on_error": "ignore"},
    ],
)
def test_bad_parameters_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SemanticCompressor(**kwargs)  # type: ignore[arg-type]


def test_round_trip_and_set_params() -> None:
    comp = SemanticCompressor(embedder="onnx", drop_percentile=20, protect=("numbers",), protect_patterns=(r"\d+",))
    again = SemanticCompressor.from_dict(comp.to_dict())
    assert again == comp and again.protect == ("numbers",)
    comp.set_params(drop_percentile=50)
    assert comp.drop_percentile == 50.0
