"""KGSchemaPruner(format=...): the compact rendering on the small fixture graph (Hetionet + DISEASES minis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctxcompress import Budget, Chunk, Compressor, ConfigError, KGSchemaPruner
from ctxcompress._kg.compact import render_compact
from ctxcompress._kg.facts import Fact
from ctxcompress._kg.pruner import FACTS_KEY, JOINED_ID
from ctxcompress.testing import CompressorConformance, FakeEmbedder, WhitespaceCounter

pytest.importorskip("networkx")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kg"
GRAPH = [str(FIXTURES / "hetionet_mini"), str(FIXTURES / "jensenlab_mini")]
WS = WhitespaceCounter()
QUESTION = "Which genes are associated with psoriasis and multiple sclerosis?"


def make(**kw: Any) -> KGSchemaPruner:
    kw.setdefault("percentile", 0.0)
    kw.setdefault("min_similarity", None)
    return KGSchemaPruner(GRAPH, embedder=FakeEmbedder(), node_types=["Disease"], **kw)


def kept_edges(res: Any) -> list[tuple[Any, Any, Any]]:
    return [(f.get("source"), f.get("target"), f.get("key")) for ch in res.chunks for f in ch.metadata[FACTS_KEY]]


def test_compact_keeps_the_same_facts_in_fewer_tokens() -> None:
    prose = make().retrieve(QUESTION, counter=WS)
    compact = make(format="compact").retrieve(QUESTION, counter=WS)
    assert kept_edges(compact) == kept_edges(prose)  # selection first, rendering after
    assert compact.report.tokens_out < prose.report.tokens_out
    assert compact.report.stages[0].details["format"] == "compact"
    assert compact.check_spans() == []
    for ch in compact.chunks:
        lines = ch.text.split("\n")
        assert len(lines) < len(ch.metadata[FACTS_KEY])  # grouped
        assert any(" — associates Gene: " in line for line in lines)


def source_lines(res: Any, verbatim_only: bool) -> set[tuple[str, int]]:
    """(source id, line number) of the one-hop sentences the output's spans point into."""
    texts = {s.id: s.text for s in res.sources}
    return {
        (sp.source_id, texts[sp.source_id][: sp.start].count("\n"))
        for ch in res.chunks
        for sp in ch.spans
        if sp.verbatim or not verbatim_only
    }


def test_every_compact_fact_is_traceable_to_its_sentence() -> None:
    prose = make().retrieve(QUESTION, counter=WS)
    res = make(format="compact").retrieve(QUESTION, counter=WS)
    # every kept sentence has a verbatim span (its item's name, or the whole sentence) and nothing else does
    assert source_lines(res, verbatim_only=True) == source_lines(prose, verbatim_only=True)
    assert source_lines(res, verbatim_only=False) == source_lines(prose, verbatim_only=True)
    for ch in res.chunks:
        for f in ch.metadata[FACTS_KEY]:
            for prov in f["provenance"].split(", "):
                assert prov in ch.text  # provenance kept


def test_merged_edges_become_one_item_with_both_provenances() -> None:
    res = make(format="compact").retrieve("Which genes are associated with psoriasis?", counter=WS)
    (ch,) = res.chunks
    # psoriasis-HLA-B: a Hetionet edge (DISEASES, DOAF) and a DISEASES-export edge (TIGA), one item
    line = next(line for line in ch.text.split("\n") if "associates Gene" in line)
    assert line.count("HLA-B") == 1
    assert "HLA-B (DISEASES, DOAF, TIGA)" in line or ("HLA-B" in line and "TIGA" in line and "DOAF" in line)
    hla = [f for f in ch.metadata[FACTS_KEY] if f.get("target") == "Gene::3106"]
    assert len(hla) == 2  # both source facts listed


def test_auto_picks_the_cheaper_and_params_round_trip() -> None:
    auto = make(format="auto")
    res = auto.retrieve(QUESTION, counter=WS)
    compact = make(format="compact").retrieve(QUESTION, counter=WS)
    assert res.text == compact.text and res.report.stages[0].details["format"] == "compact"
    assert auto.abstractive and not make().abstractive
    assert auto.get_params()["format"] == "auto"
    assert auto.to_dict()["init_parameters"]["format"] == "auto"
    assert KGSchemaPruner.from_dict(auto.to_dict()).to_dict() == auto.to_dict()
    assert make().get_params()["format"] == "prose"  # default unchanged
    with pytest.raises(ConfigError):
        make(format="table")


@pytest.mark.parametrize("fmt", ["prose", "compact", "auto"])
@pytest.mark.parametrize("cap", [1, 12, 20, 35, 60])
def test_budget_is_a_hard_cap_in_every_format(fmt: str, cap: int) -> None:
    res = make(format=fmt).retrieve(QUESTION, budget=Budget(max_tokens=cap), counter=WS)
    assert res.report.tokens_out <= cap
    assert not any("cut at" in w for w in res.report.warnings)  # held by the selection, not a text cut
    assert res.check_spans() == []


def test_compact_under_a_budget_keeps_at_least_as_many_facts() -> None:
    for cap in (20, 35, 60):
        prose = make().retrieve(QUESTION, budget=Budget(max_tokens=cap), counter=WS)
        compact = make(format="compact").retrieve(QUESTION, budget=Budget(max_tokens=cap), counter=WS)
        assert len(kept_edges(compact)) >= len(kept_edges(prose))


def test_joined_compact_output() -> None:
    res = make(format="compact", output="joined").retrieve(QUESTION, counter=WS)
    (ch,) = res.chunks
    assert ch.id == JOINED_ID and res.check_spans() == []
    assert {sp.source_id for sp in ch.spans} == {s.id for s in res.sources}


def test_compress_chunks_with_triples_compact() -> None:
    triples = [
        {"source": "D1", "source_name": "Foo syndrome", "source_type": "Disease", "predicate": "associates",
         "target": "G1", "target_name": "ABC1", "target_type": "Gene", "provenance": "CuratedDB"},
        {"source": "D1", "source_name": "Foo syndrome", "source_type": "Disease", "predicate": "associates",
         "target": "G2", "target_name": "XYZ2", "target_type": "Gene", "provenance": "CuratedDB"},
        ("D1", "presents", "Headache", "MEDLINE"),
    ]  # fmt: skip
    p = KGSchemaPruner(embedder=FakeEmbedder(), percentile=None, min_similarity=None, format="compact")
    res = p.compress([Chunk("Foo notes.", id="doc", metadata={"triples": triples})], query="Foo genes", counter=WS)
    (out,) = res.chunks
    line = next(line for line in out.text.split("\n") if line.startswith("Disease Foo syndrome — associates Gene: "))
    assert sorted(line.split(": ")[1].removesuffix(" (CuratedDB)").split(", ")) == ["ABC1", "XYZ2"]
    assert "D1 — presents: Headache (MEDLINE)" in out.text
    assert len(out.metadata[FACTS_KEY]) == 3 and res.check_spans() == []


def test_render_compact_rules() -> None:
    def fact(s: str, p: str, t: str, prov: str, st: str = "Disease", tt: str = "Gene") -> Fact:
        return Fact(
            text=f"{st} {s} {p} {tt} {t} and Provenance of this association is {prov}.",
            source=s,
            target=t,
            predicate=p,
            provenance=prov,
            source_name=s,
            source_type=st,
            target_name=t,
            target_type=tt,
        )

    facts = [
        fact("pso", "associates", "A", "P1"),
        fact("MTX", "treats", "pso", "PDB", st="Compound", tt="Disease"),
        fact("pso", "associates", "B", "P2"),
        fact("pso", "associates", "C", "P1"),
        Fact(text="Disease pso has an id.", source="pso", predicate="identifier"),
    ]
    text, placed = render_compact(facts, pivot="pso")
    assert text.split("\n") == [
        "Disease pso — associates Gene: A, C (P1); B (P2)",
        "Compound treats Disease pso: MTX (PDB)",
        "Disease pso has an id.",
    ]
    assert [text[p.start : p.end] for p in placed] == ["A", "MTX", "B", "C", "Disease pso has an id."]
    assert all(p.name_at is not None and facts[p.fact].text[slice(*p.name_at)] == text[p.start : p.end] for p in placed)
    assert render_compact([]) == ("", [])


def test_cli_kg_render_compact(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ctxcompress import _cli
    from ctxcompress._backends import embedders as _embed

    monkeypatch.setattr(_embed, "get_embedder", lambda spec=None: FakeEmbedder())
    args = ["kg", "--graph", GRAPH[0], "--graph", GRAPH[1], "--query", "Which genes are associated with psoriasis?"]
    args += ["--node-type", "Disease", "--no-index-cache", "--counter", "whitespace", "--percentile", "0"]
    args += ["--min-similarity", "0", "--render", "compact", "--format", "text"]
    assert _cli.main(args) == 0
    assert "Disease psoriasis — associates Gene: " in capsys.readouterr().out


class TestKGSchemaPrunerCompactConformance(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return KGSchemaPruner(embedder=FakeEmbedder(), percentile=50.0, min_similarity=0.0, format="compact")
