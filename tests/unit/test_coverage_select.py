"""Coverage / MMR selection and pronoun neighbours (``ctxcompress._compressors.coverage``)."""

from __future__ import annotations

import numpy as np
import pytest

from ctxcompress import Budget, Chunk, ConfigError, RelevanceFilter
from ctxcompress._compressors.coverage import concepts_of, coverage_select, pronoun_neighbours
from ctxcompress._core.select import make_units
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

QUERY = "Where was the director of Moon Story born?"
TEXTS = [
    "Moon Story was directed by Alice Smith.",  # 0: the best unit, names the bridge
    "Moon Story, directed by Alice Smith, was a hit.",  # 1: a near-copy of 0
    "Alice Smith was born in Leeds.",  # 2: covers the bridge name and "born"
    "Leeds is a city in England.",  # 3
]


def _unit_vectors() -> np.ndarray:
    v = np.array([[1.0, 0.0, 0.0], [0.99, 0.14, 0.0], [0.2, 0.0, 0.98], [0.0, 1.0, 0.0]])
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_concepts_cover_query_words_and_bridge_names() -> None:
    covers, weights = concepts_of(QUERY, TEXTS, evidence=[0])
    # query words: born, director, moon, story ("where", "was", "the", "of" are function words);
    # bridge names from unit 0 that the query does not name: "alice smith"
    assert len(weights) == 5
    assert covers[2] >= {4} and covers[2] != covers[0]  # unit 2 holds "Alice Smith" and "born"
    assert covers[3] == frozenset()
    assert all(0 < w <= 1 for w in weights)


def test_plain_fill_when_no_coverage_and_no_redundancy() -> None:
    scores = np.array([1.0, 0.95, 0.6, 0.1])
    covers, weights = concepts_of(QUERY, TEXTS, evidence=[0])
    taken = coverage_select(scores, [5, 5, 5, 5], 10, covers=covers, concept_weights=weights)
    assert taken == [0, 1]  # best first: the near-duplicate comes second


def test_mmr_takes_a_covering_sentence_over_a_near_duplicate() -> None:
    scores = np.array([1.0, 0.95, 0.6, 0.1])
    covers, weights = concepts_of(QUERY, TEXTS, evidence=[0])
    vec = _unit_vectors()
    by_mmr = coverage_select(
        scores, [5, 5, 5, 5], 10, covers=covers, concept_weights=weights, vectors=vec, redundancy=0.5
    )
    assert by_mmr == [0, 2]
    by_cover = coverage_select(scores, [5, 5, 5, 5], 10, covers=covers, concept_weights=weights, coverage=0.5)
    assert by_cover == [0, 2]  # unit 2 newly covers "born" and the bridge name; unit 1 covers nothing new


def test_coverage_select_respects_the_cap_and_is_deterministic() -> None:
    scores = np.array([1.0, 0.95, 0.6, 0.1])
    covers, weights = concepts_of(QUERY, TEXTS, evidence=[0])
    args = dict(covers=covers, concept_weights=weights, vectors=_unit_vectors(), coverage=0.3, redundancy=0.3)
    a = coverage_select(scores, [6, 2, 3, 9], 8, **args)  # type: ignore[arg-type]
    assert sum([6, 2, 3, 9][i] for i in a) <= 8
    assert a == coverage_select(scores, [6, 2, 3, 9], 8, **args)  # type: ignore[arg-type]
    assert coverage_select(scores, [6, 2, 3, 9], 0, **args) == []  # type: ignore[arg-type]
    assert coverage_select(np.zeros(0), [], 5, covers=[], concept_weights=[]) == []


def test_pronoun_neighbour_is_added() -> None:
    chunks = [Chunk("Moon Story is a 1999 film. It was shot in Leeds. The film won awards."), Chunk("Leeds is a city.")]
    units = make_units(chunks, "sentence")
    cost = [4] * len(units)
    got = pronoun_neighbours(units, {1}, order=[1, 0, 2, 3], cost=cost, used=4, cap=12)
    assert got == {0, 1}  # "It was shot ..." brings back the sentence that names the film
    assert pronoun_neighbours(units, {1}, order=[1], cost=cost, used=4, cap=6) == {1}  # does not fit
    assert pronoun_neighbours(units, {3}, order=[3], cost=cost, used=4, cap=None) == {3}  # no pronoun
    assert pronoun_neighbours(units, {0}, order=[0], cost=cost, used=4, cap=None) == {0}  # first sentence
    assert pronoun_neighbours(units, {2}, order=[2], cost=cost, used=4, cap=None) == {1, 2}  # "The film"


def test_relevance_filter_options() -> None:
    f = RelevanceFilter(redundancy=0.5, coverage=0.2, pronoun_context=True)
    params = f.get_params()
    assert params["redundancy"] == 0.5 and params["coverage"] == 0.2 and params["pronoun_context"] is True
    back = RelevanceFilter.from_dict(f.to_dict())
    assert (back.redundancy, back.coverage, back.pronoun_context) == (0.5, 0.2, True)
    plain = RelevanceFilter()
    assert (plain.redundancy, plain.coverage, plain.pronoun_context) == (0.0, 0.0, False)
    for bad in ({"redundancy": -0.1}, {"coverage": float("nan")}, {"pronoun_context": 1}, {"redundancy": "x"}):
        with pytest.raises(ConfigError):
            RelevanceFilter(**bad)  # type: ignore[arg-type]


def test_relevance_filter_pronoun_context_adds_the_sentence_pointed_back_to() -> None:
    chunks = [
        Chunk("Moon Story is a 1999 film. It was shot in Leeds near the river.", id="film"),
        Chunk("Paris is a city in France with many museums and old bridges.", id="other"),
    ]
    query = "Where was it shot in Leeds near the river?"
    budget = Budget(max_tokens=20)
    plain = RelevanceFilter(embedder=FakeEmbedder(), top_k=1).compress(
        chunks, query=query, budget=budget, counter=WhitespaceCounter()
    )
    assert plain.text == "It was shot in Leeds near the river."  # top_k=1: one sentence, a dangling "It"
    ctx = RelevanceFilter(embedder=FakeEmbedder(), top_k=1, pronoun_context=True).compress(
        chunks, query=query, budget=budget, counter=WhitespaceCounter()
    )
    assert "Moon Story is a 1999 film. It was shot" in ctx.text


def test_relevance_filter_mmr_skips_a_near_duplicate() -> None:
    chunks = [
        Chunk("Moon Story was directed by Alice Smith.", id="a"),
        Chunk("Moon Story was directed by Alice Smith in 1999.", id="b"),
        Chunk("Alice Smith was born in Leeds.", id="c"),
    ]
    query = "Moon Story was directed by whom?"
    kw = dict(query=query, budget=Budget(max_tokens=19), counter=WhitespaceCounter())
    plain = RelevanceFilter(embedder=FakeEmbedder(), scorer="embedding").compress(chunks, **kw)  # type: ignore[arg-type]
    assert [c.id for c in plain.chunks] == ["a", "b"]
    mmr = RelevanceFilter(embedder=FakeEmbedder(), scorer="embedding", redundancy=2.0).compress(chunks, **kw)  # type: ignore[arg-type]
    assert [c.id for c in mmr.chunks] == ["a", "c"]
