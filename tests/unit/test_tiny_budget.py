"""At a tiny budget no irrelevant unit fills the room the relevant one did not fit in (issue 14 §2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxcompress import (
    AttentionFilter,
    Budget,
    Chunk,
    CompressionResult,
    Compressor,
    ConfigError,
    Pipeline,
    RedundancyFusion,
    RelevanceFilter,
)
from ctxcompress._core.select import fill_under_cap
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

CHUNKS = [
    Chunk("Berlin is in Germany.", id="berlin"),
    Chunk("Paris is the capital of France.", id="paris"),
    Chunk("The Rhine flows through Basel.", id="rhine"),
    Chunk("Tokyo is large.", id="tokyo"),
]
QUERY = "What is the capital of France?"
IRRELEVANT = ("Berlin", "Rhine", "Tokyo")


def _warnings(res: CompressionResult) -> list[str]:
    return [*res.report.warnings, *(w for st in res.report.stages for w in st.warnings)]


def _filter() -> RelevanceFilter:
    return RelevanceFilter(embedder=FakeEmbedder())


def _pipeline() -> Pipeline:
    emb = FakeEmbedder()
    return Pipeline([("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(embedder=emb))])


@pytest.mark.parametrize("make", [_filter, _pipeline], ids=["relevance_filter", "default_pipeline"])
@pytest.mark.parametrize("tokens", [3, 4, 5, 6, 7])
def test_tiny_budget_never_fills_with_an_irrelevant_sentence(make: object, tokens: int) -> None:
    res = make().compress(CHUNKS, query=QUERY, budget=Budget(max_tokens=tokens))  # type: ignore[operator]
    assert res.report.tokens_out <= tokens
    assert not any(name in res.text for name in IRRELEVANT), res.text
    assert res.text and "Paris is the capital of France.".startswith(res.text)
    if tokens >= 7:  # o200k: the sentence is 7 tokens and fits whole
        assert res.text == "Paris is the capital of France."
    else:  # the head of the best sentence, said so in the report
        assert any("head was kept" in w for w in _warnings(res))


def test_whitespace_counter_same_rule() -> None:
    for tokens in range(1, 6):
        res = _filter().compress(CHUNKS, query=QUERY, budget=tokens, counter=WhitespaceCounter())
        assert not any(name in res.text for name in IRRELEVANT), (tokens, res.text)


def test_filler_ratio_zero_keeps_the_old_greedy_fill() -> None:
    res = RelevanceFilter(embedder=FakeEmbedder(), filler_ratio=0.0).compress(CHUNKS, query=QUERY, budget=6)
    assert any(name in res.text for name in IRRELEVANT)


def test_min_keep_zero_returns_nothing_rather_than_filler() -> None:
    f = RelevanceFilter(embedder=FakeEmbedder(), min_keep=0)
    res = f.compress(CHUNKS, query=QUERY, budget=6)
    assert res.text == ""
    assert any("filler" in w for w in _warnings(res))


def test_near_equal_units_still_fill() -> None:
    # a unit scoring close to the skipped one is a fair substitute
    cost = {0: 10, 1: 3, 2: 3}
    scores = [1.0, 0.9, 0.0]
    assert fill_under_cap([0, 1, 2], cost.__getitem__, 5, scores=scores, filler_ratio=0.5) == ([1], 3)
    assert fill_under_cap([0, 1, 2], cost.__getitem__, 5, scores=scores, filler_ratio=0.95) == ([], 0)
    assert fill_under_cap([0, 1, 2], cost.__getitem__, 6, scores=scores) == ([1, 2], 6)  # ratio 0: every fit


@pytest.mark.parametrize("cls", [RelevanceFilter, AttentionFilter])
def test_filler_ratio_is_a_validated_hyperparameter(cls: type[Compressor]) -> None:
    f = cls(filler_ratio=0.25)
    assert f.get_params()["filler_ratio"] == 0.25
    assert f.to_dict()["init_parameters"]["filler_ratio"] == 0.25
    assert cls().get_params()["filler_ratio"] == 0.5
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError):
            cls(filler_ratio=bad)


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=12),
    costs=st.lists(st.integers(1, 8), min_size=12, max_size=12),
    cap=st.integers(0, 40),
    ratio=st.floats(0, 1),
)
def test_no_kept_unit_below_the_margin_of_a_skipped_better_unit(
    scores: list[float], costs: list[int], cap: int, ratio: float
) -> None:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    taken, used = fill_under_cap(order, costs.__getitem__, cap, scores=scores, filler_ratio=ratio)
    assert used == sum(costs[i] for i in taken) <= cap
    floor = min(scores)
    skipped = [i for i in order if i not in taken and costs[i] > cap - used]
    for s in skipped:
        bar = floor + ratio * (scores[s] - floor)
        for k in taken:
            if order.index(k) > order.index(s):
                assert scores[k] >= bar - 1e-9
