"""Entity bridging from the evidence text.

``ctxcompress._compressors.bridging``, used through ``RelevanceFilter(entity_hops=...)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from ctxcompress import Budget, Chunk, ConfigError, RelevanceFilter
from ctxcompress._compressors.bridging import entities, entity_bridge
from ctxcompress._core.context import CallContext
from ctxcompress._core.select import make_units
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

QUERY = "What was the population of the city where Kerry Saxby-Junna was born?"
CHUNKS = [
    Chunk("Kerry Saxby-Junna is an Australian race walker. She was born in Ballarat.", id="walker"),
    Chunk("Ballarat is a city in Victoria. At the 2011 census its population was 85,935.", id="city"),
    Chunk("Geelong is a port city. The population of the city grew in the census.", id="other"),
    Chunk("Race walking is a long-distance discipline in athletics.", id="sport"),
]


def test_entities() -> None:
    found = entities('In Wilmington, North Carolina, "Blue Velvet" was shot in 1986 by David Lynch.')
    assert found["Blue Velvet"] == 1.0 and found["David Lynch"] == 1.0 and found["Wilmington"] == 1.0
    assert found["North Carolina"] == 1.0 and 0 < found["1986"] < 1.0
    assert "In" not in found and not any(k.startswith("In ") for k in found)
    assert entities("The Bank of England was founded.") == {"Bank of England": 1.0}
    assert entities("no names here at all.") == {}


def test_entity_bridge_raises_the_chunk_the_evidence_names() -> None:
    texts = ["She was born in Ballarat.", "Ballarat is a city.", "Geelong is a port.", "Race walking."]
    chunk_of = np.array([0, 1, 2, 3])
    scores = np.array([1.0, 0.2, 0.3, 0.1])
    bonus = entity_bridge(QUERY, texts, texts, chunk_of, [0, 0, 0, 0], scores, hops=1, n_evidence=1)
    assert bonus[1] > 0 and bonus[0] == bonus[2] == bonus[3] == 0  # the evidence chunk itself gets nothing
    # a name the query already holds bridges nothing
    same = entity_bridge("born in Ballarat?", texts, texts, chunk_of, [0, 0, 0, 0], scores, hops=1, n_evidence=1)
    assert not same.any()
    # a name that every chunk holds bridges less than a rare one; a name outside the first sentence half
    many = ["She was born in Ballarat.", "Ballarat is a city.", "Near Ballarat.", "Ballarat again."]
    weak = entity_bridge(QUERY, many, many, chunk_of, [0, 0, 0, 0], scores, hops=1, n_evidence=1)
    assert 0 < weak[1] < bonus[1]
    later = entity_bridge(QUERY, texts, texts, chunk_of, [0, 1, 0, 0], scores, hops=1, n_evidence=1)
    assert later[1] == pytest.approx(bonus[1] / 2)  # not in the chunk's first sentence
    assert not entity_bridge(QUERY, texts, texts, chunk_of, [0, 0, 0, 0], scores, hops=0).any()


def test_entity_bridge_second_hop() -> None:
    texts = ["Lynch directed Blue Velvet.", "Blue Velvet was shot in Wilmington.", "Wilmington is a port.", "x y."]
    chunk_of = np.array([0, 1, 2, 3])
    scores = np.array([1.0, 0.1, 0.0, 0.05])
    one = entity_bridge("Where was the film shot?", texts, texts, chunk_of, [0] * 4, scores, hops=1, n_evidence=1)
    two = entity_bridge("Where was the film shot?", texts, texts, chunk_of, [0] * 4, scores, hops=2, n_evidence=1)
    assert one[1] > 0 and one[2] == 0  # Wilmington is named only by the second hop's evidence
    assert two[1] == one[1] and two[2] > 0


def test_relevance_filter_entity_hops_without_titles() -> None:
    units = make_units(CHUNKS, "sentence")
    ctx = CallContext(counter=WhitespaceCounter(), sources=tuple(CHUNKS))
    plain = RelevanceFilter(embedder=FakeEmbedder(), entity_hops=0).score_units(CHUNKS, units, QUERY, ctx)
    bridged = RelevanceFilter(embedder=FakeEmbedder(), entity_hops=1).score_units(CHUNKS, units, QUERY, ctx)
    raised = {CHUNKS[u.chunk].id for u, a, b in zip(units, plain, bridged, strict=True) if b > a}
    assert raised == {"city"}  # the chunk the first hop's sentence names, without any title
    res = RelevanceFilter(embedder=FakeEmbedder(), entity_hops=1).compress(
        CHUNKS, query=QUERY, budget=Budget(max_tokens=30), counter=WhitespaceCounter()
    )
    assert "85,935" in res.text and "Saxby-Junna" in res.text


def test_entity_hops_parameter() -> None:
    f = RelevanceFilter(entity_hops=2)
    assert f.get_params()["entity_hops"] == 2 and RelevanceFilter().entity_hops == 1
    assert RelevanceFilter.from_dict(f.to_dict()).entity_hops == 2
    for bad in (-1, 5, 1.5, "2"):
        with pytest.raises(ConfigError):
            RelevanceFilter(entity_hops=bad)  # type: ignore[arg-type]
