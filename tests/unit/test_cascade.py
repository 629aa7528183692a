"""RelevanceFilter(cascade=...): only the cheap first pass's candidates reach the embedder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from ctxcompress import ConfigError, RelevanceFilter, default_pipeline
from ctxcompress._compressors.relevance_filter import cascade_pick
from ctxcompress.testing import FakeEmbedder


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=64)
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.seen.extend(texts)
        return super().encode(texts)


CHUNKS = [
    {"id": f"c{i}", "text": " ".join(f"Sentence {i}-{j} talks about topic{i} and thing{j}." for j in range(4))}
    for i in range(6)
]
CHUNKS[2]["text"] = "The Eiffel Tower is in Paris. It was built in 1889. Paris is the capital of France."


def test_cascade_pick_takes_the_best_until_the_room_is_filled() -> None:
    cheap = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    assert cascade_pick(cheap, [5, 5, 5, 5, 5], 10) == [1, 3]  # ties: the earlier first
    assert cascade_pick(cheap, [5, 5, 5, 5, 5], 11) == [1, 2, 3]
    assert cascade_pick(cheap, [5, 5, 5, 5, 5], 0) == [1]  # at least one
    assert cascade_pick(cheap, [5, 5, 5, 5, 5], 1000) == [0, 1, 2, 3, 4]
    assert cascade_pick(np.zeros(0), [], 10) == []


def test_cascade_embeds_only_candidates_on_a_tight_budget() -> None:
    full, cas = CountingEmbedder(), CountingEmbedder()
    RelevanceFilter(embedder=full).compress(CHUNKS, query="Where is the Eiffel Tower?", budget=0.2)
    res = RelevanceFilter(embedder=cas, cascade=2).compress(CHUNKS, query="Where is the Eiffel Tower?", budget=0.2)
    assert 0 < len(cas.seen) < len(full.seen)
    assert "Eiffel Tower" in res.text  # the lexical first pass keeps the obvious answer
    assert any("Eiffel Tower is in Paris" in t for t in cas.seen)


def test_cascade_changes_nothing_when_its_room_covers_the_input() -> None:
    a, b = CountingEmbedder(), CountingEmbedder()
    q = "Where is the Eiffel Tower?"
    ra = RelevanceFilter(embedder=a).compress(CHUNKS, query=q, budget=0.6)
    rb = RelevanceFilter(embedder=b, cascade=2).compress(CHUNKS, query=q, budget=0.6)
    assert ra.text == rb.text and sorted(a.seen) == sorted(b.seen)
    # no budget: every unit is embedded
    c = CountingEmbedder()
    RelevanceFilter(embedder=c, cascade=2).compress(CHUNKS, query=q)
    assert sorted(c.seen) == sorted(a.seen)


def test_cascade_is_checked_and_off_by_default() -> None:
    with pytest.raises(ConfigError):
        RelevanceFilter(cascade=0.5)
    assert RelevanceFilter().cascade is None
    steps = default_pipeline().get_params(deep=False)["steps"]
    assert steps[1][1].cascade is None
