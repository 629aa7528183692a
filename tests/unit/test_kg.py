"""KGSchemaPruner (KG-RAG context pruning) with fakes on a tiny hand-made graph and small fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ctxcompress
from ctxcompress import Budget, Chunk, Compressor, ConfigError, InputError
from ctxcompress._kg.entities import parse_entities
from ctxcompress._kg.graph import check_graph
from ctxcompress._kg.linking import clear_indexes
from ctxcompress._kg.loaders import load_edge_list, load_graph, load_hetionet, load_jensenlab
from ctxcompress._kg.merge import merge_graphs
from ctxcompress._kg.pruner import FACTS_KEY, JOINED_ID, KGSchemaPruner, select_by_similarity
from ctxcompress._kg.verbalise import verbalise_triple
from ctxcompress.testing import CompressorConformance, FailingEmbedder, FakeEmbedder, FakeLLM, WhitespaceCounter

nx = pytest.importorskip("networkx")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kg"
HETIONET_MINI = FIXTURES / "hetionet_mini"
JENSENLAB_MINI = FIXTURES / "jensenlab_mini"

WS = WhitespaceCounter()


def tiny_graph() -> Any:
    g = nx.MultiDiGraph()
    g.add_node(
        "D:ms",
        name="multiple sclerosis",
        type="Disease",
        identifier="DOID:2377",
        identifier_source="Disease Ontology",
    )
    g.add_node("D:ps", name="psoriasis", type="Disease", aliases=["psoriasis vulgaris"])
    g.add_node("G:hlab", name="HLA-B", type="Gene")
    g.add_node("G:il7r", name="IL7R", type="Gene")
    g.add_node("G:tnf", name="TNF", type="Gene")
    g.add_node("C:clad", name="Cladribine", type="Compound")
    g.add_node("S:fat", name="Fatigue", type="Symptom")
    g.add_node("D:lonely", name="lonely disease", type="Disease")
    g.add_edge(
        "D:ms", "G:il7r", key="DaG:1", predicate="associates", relation="DaG", provenance="DISEASES", p_value=1e-8
    )
    g.add_edge("D:ms", "G:hlab", key="DaG:2", predicate="associates", relation="DaG", provenance="GWAS Catalog")
    g.add_edge("D:ms", "G:tnf", key="DaG:3", predicate="associates", relation="DaG", provenance="DisGeNET|DISEASES")
    g.add_edge("C:clad", "D:ms", key="CtD", predicate="treats", relation="CtD", provenance="PharmacotherapyDB")
    g.add_edge("D:ms", "S:fat", key="DpS", predicate="presents", relation="DpS", source="MEDLINE cooccurrence")
    g.add_edge("D:ps", "G:hlab", key="DaG:1", predicate="associates", relation="DaG", source_db="DISEASES")
    g.add_edge("D:ps", "G:tnf", key="DaG:2", predicate="associates", relation="DaG", source_db="TIGA")
    g.add_edge("D:ps", "S:fat", key="DpS", predicate="presents", relation="DpS", provenance="MEDLINE cooccurrence")
    return g


def make(graph: Any = None, **kw: Any) -> KGSchemaPruner:
    kw.setdefault("embedder", FakeEmbedder())
    return KGSchemaPruner(tiny_graph() if graph is None else graph, **kw)


# --------------------------------------------------------------------------- the pruning rule
def test_worked_percentile_check() -> None:
    sims = [0.82, 0.71, 0.66, 0.58, 0.49, 0.40, 0.35, 0.30]
    assert float(np.percentile(sims, 75)) == pytest.approx(0.6725)
    assert select_by_similarity(sims, percentile=75, min_similarity=0.5) == [0, 1]


def test_pruning_is_strict_ordered_and_capped() -> None:
    # equal to the percentile cut or to the minimum: not kept (both comparisons are strict)
    assert select_by_similarity([0.6, 0.6, 0.6, 0.6], percentile=75, min_similarity=0.1) == []
    assert select_by_similarity([0.9, 0.5, 0.1, 0.0], percentile=0, min_similarity=0.5) == [0]
    sims = [0.1, 0.9, 0.7, 0.8, 0.2]
    assert select_by_similarity(sims, percentile=None, min_similarity=None) == [1, 3, 2, 4, 0]
    assert select_by_similarity(sims, percentile=None, min_similarity=None, max_keep=2) == [1, 3]
    assert select_by_similarity(sims, percentile=None, min_similarity=None, max_keep=0) == []
    assert select_by_similarity([], percentile=75, min_similarity=0.5) == []


# --------------------------------------------------------------------------- verbalisation
def test_edge_sentence_with_provenance_and_properties() -> None:
    p = make(relation_types=["DaG"], edge_properties=["p_value"])
    texts = [f.text for f in p.one_hop("D:ms")]
    assert texts[0] == (
        "Disease multiple sclerosis has a Disease Ontology identifier of DOID:2377 and Provenance of this is "
        "from Disease Ontology."
    )
    assert (
        "Disease multiple sclerosis associates Gene IL7R and Provenance of this association is DISEASES and "
        'attributes of this association are {"p_value": 1e-08}.'
    ) in texts
    assert (
        "Disease multiple sclerosis associates Gene TNF and Provenance of this association is DisGeNET, DISEASES."
        in texts
    )
    # every provenance attribute name works: provenance, source_db, source
    ps = [f.text for f in make().one_hop("D:ps")]
    assert "Disease psoriasis associates Gene HLA-B and Provenance of this association is DISEASES." in ps
    ms = [f.text for f in make().one_hop("D:ms")]
    assert (
        "Disease multiple sclerosis presents Symptom Fatigue and Provenance of this association is MEDLINE "
        + ("cooccurrence.")
        in ms
    )
    # in-edges are verbalised in their own direction
    assert (
        "Compound Cladribine treats Disease multiple sclerosis and Provenance of this association is PharmacotherapyDB."
        in ms
    )
    assert verbalise_triple("Gene", "A", "ASSOCIATES_DaG", "Disease", "B", "X").startswith("Gene A ASSOCIATES_DaG")


def test_relation_filter_by_predicate_or_code() -> None:
    treats = [f for f in make(relation_types=["treats"]).one_hop("D:ms") if f.predicate != "identifier"]
    assert [f.predicate for f in treats] == ["treats"]
    dag = [f for f in make(relation_types=["DaG", "DpS"]).one_hop("D:ms") if f.predicate != "identifier"]
    assert sorted({f.predicate for f in dag}) == ["associates", "presents"]
    assert len(make().one_hop("D:ms")) == 6  # identifier + 5 edges


# --------------------------------------------------------------------------- retrieval
def test_retrieve_provenance_spans_and_full_context_tokens() -> None:
    p = make(percentile=0, min_similarity=None)
    res = p.retrieve("Which gene is associated with multiple sclerosis and psoriasis?", counter=WS)
    assert [c.id for c in res.sources] == ["kg:D:ms", "kg:D:ps"]
    full = "\n\n".join(c.text for c in res.sources)
    assert res.report.tokens_in == WS.count(full)  # tokens_in is the full one-hop context
    assert res.report.tokens_out <= res.report.tokens_in
    assert res.check_spans() == []
    for ch in res.chunks:
        facts = ch.metadata[FACTS_KEY]
        assert len(facts) == len(ch.text.split("\n"))
        for line, f in zip(ch.text.split("\n"), facts, strict=True):
            assert f["entity"] == ch.id
            if f["predicate"] != "identifier":
                assert {"source", "target", "key", "provenance", "similarity"} <= set(f)
                assert f["provenance"] in line
        sims = [f["similarity"] for f in facts]
        assert sims == sorted(sims, reverse=True)  # ordered by similarity
        assert ch.metadata["kg_link"]["method"] == "exact"
    stage = res.report.stages[0]
    assert [e["name"] for e in stage.details["entities"]] == ["multiple sclerosis", "psoriasis"]
    assert stage.details["facts_in"] == 6 + 3


def test_per_entity_cap_is_context_volume_over_entities() -> None:
    p = make(percentile=None, min_similarity=None, context_volume=5)
    res = p.retrieve("multiple sclerosis and psoriasis genes", counter=WS)
    assert len(res.sources) == 2
    assert [len(c.metadata[FACTS_KEY]) for c in res.chunks] == [2, 2]  # int(5 / 2) each
    one = p.retrieve("multiple sclerosis genes", counter=WS)
    assert [len(c.metadata[FACTS_KEY]) for c in one.chunks] == [5]


def test_default_thresholds_prune() -> None:
    p = make()  # percentile 75, min 0.5
    res = p.retrieve("Disease multiple sclerosis associates which Gene?", counter=WS)
    kept = res.chunks[0].metadata[FACTS_KEY]
    # FakeEmbedder cosines of the 6 sentences: .379 .566 .527 .546 .327 .340; p75 = .541
    assert [f["target"] for f in kept] == ["G:il7r", "G:tnf"]
    assert all(f["similarity"] > 0.5 for f in kept)
    assert p.retrieve("Which gene is associated with multiple sclerosis?", counter=WS).chunks == ()  # all < .5


def test_joined_output() -> None:
    p = make(output="joined", percentile=0, min_similarity=None)
    res = p.retrieve("multiple sclerosis psoriasis genes", counter=WS)
    assert [c.id for c in res.chunks] == [JOINED_ID]
    ch = res.chunks[0]
    assert {sp.source_id for sp in ch.spans} == {"kg:D:ms", "kg:D:ps"}
    assert res.check_spans() == []
    assert [e["id"] for e in ch.metadata["kg_entities"]] == ["kg:D:ms", "kg:D:ps"]
    assert len(ch.metadata[FACTS_KEY]) == len(ch.text.split("\n"))


def test_budget_and_empty_query() -> None:
    p = make(percentile=0, min_similarity=None)
    res = p.retrieve("multiple sclerosis genes", budget=Budget(max_tokens=30), counter=WS)
    assert 0 < res.report.tokens_out <= 30
    empty = p.retrieve("", counter=WS)
    assert empty.chunks == () and empty.report.tokens_in == 0


# --------------------------------------------------------------------------- linking
def test_exact_linking_case_rules() -> None:
    p = make()
    assert [lk.node for lk in p.link("MULTIPLE SCLEROSIS ASSOCIATES GENE IL7R")] == ["D:ms", "G:il7r"]
    assert [lk.node for lk in p.link("Is psoriasis vulgaris common?")] == ["D:ps"]  # alias
    # symbol-like names match with their case only: "tnf" is not the gene TNF
    assert "G:tnf" in [lk.node for lk in p.link("TNF in psoriasis")]
    assert "G:tnf" not in [lk.node for lk in p.link("tnf in psoriasis")]
    # node_types restricts what can be linked; nodes without edges are never linked
    d = make(node_types=["Disease"])
    assert [lk.node for lk in d.link("IL7R and multiple sclerosis")] == ["D:ms"]
    assert "D:lonely" not in [lk.node for lk in d.link("lonely disease")]


def test_fallback_searches_whole_question() -> None:
    p = make(node_types=["Disease"], fallback_k=2)
    links = p.link("something about sclerosis")
    assert len(links) == 2 and {lk.method for lk in links} == {"question"}
    assert links[0].node == "D:ms"  # shares a word
    res = p.retrieve("something about sclerosis", counter=WS)
    assert res.report.stages[0].details["n_entities"] == 2


def test_fuzzy_linking_with_embeddings() -> None:
    p = make(node_types=["Disease"], link_threshold=0.6)
    links = p.link("genes of the sclerosis multiple kind")  # no exact match; n-gram near the name
    assert links and links[0].node == "D:ms" and links[0].method == "embedding"


def test_llm_entity_extractor() -> None:
    llm = FakeLLM(['```json\n{"Diseases": ["Psoriasis"]}\n```'])
    p = make(node_types=["Disease"], entity_extractor=llm)
    links = p.link("Which gene is associated with psoriasis?")
    assert [(lk.node, lk.method) for lk in links] == [("D:ps", "llm-exact")]
    assert "Which gene is associated with psoriasis?" in llm.prompts[0] and "Diseases" in llm.prompts[0]
    near = make(node_types=["Disease"], entity_extractor=FakeLLM(['{"Diseases": ["plaque psoriasis"]}']))
    assert [(lk.node, lk.method) for lk in near.link("plaque psoriasis genes?")] == [("D:ps", "llm")]


def test_llm_garbage_falls_back_to_ngram_linking() -> None:
    p = make(node_types=["Disease"], entity_extractor=FakeLLM(["Sorry, I cannot help with that."]))
    res = p.retrieve("Which gene is associated with psoriasis?", counter=WS)
    assert [c.id for c in res.sources] == ["kg:D:ps"]
    warnings = [w for st in res.report.stages for w in st.warnings]
    assert any("fell back to n-gram linking" in w for w in warnings)

    def boom(prompt: str) -> str:
        raise RuntimeError("LLM down")

    with pytest.raises(ctxcompress.BackendError):
        make(node_types=["Disease"], entity_extractor=boom).link("psoriasis")
    lenient = make(node_types=["Disease"], entity_extractor=boom, on_error="passthrough")
    assert [lk.node for lk in lenient.link("psoriasis")] == ["D:ps"]


def test_parse_entities() -> None:
    assert parse_entities('{"Diseases": ["a", "b", "a"]}') == ["a", "b"]
    assert parse_entities('Sure! ["x", {"name": "y"}]') == ["x", "y"]
    assert parse_entities('{"Diseases": []}') == []
    assert parse_entities("no json here") is None
    assert parse_entities('{"answer": "I cannot"}') is None


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: Any) -> Any:
        self.texts.extend(texts)
        return super().encode(texts)


def test_node_names_embedded_once_per_graph(tmp_path: Path) -> None:
    g = tiny_graph()
    emb = CountingEmbedder()
    a = KGSchemaPruner(g, embedder=emb, node_types=["Disease"])
    a.warm_up()
    assert emb.texts.count("multiple sclerosis") == 1
    a.link("something about sclerosis")
    KGSchemaPruner(g, embedder=emb, node_types=["Disease"]).link("psoriasis and sclerosis multiple")
    assert emb.texts.count("multiple sclerosis") == 1  # the index is shared and reused
    # saved to disk: a fresh index loads the vectors instead of embedding the names again
    clear_indexes(g)
    c = KGSchemaPruner(g, embedder=emb, node_types=["Disease"], index_cache=str(tmp_path))
    c.warm_up()
    assert emb.texts.count("multiple sclerosis") == 2
    assert list(tmp_path.glob("kg-names-*.npy"))
    clear_indexes(g)
    KGSchemaPruner(g, embedder=emb, node_types=["Disease"], index_cache=str(tmp_path)).warm_up()
    assert emb.texts.count("multiple sclerosis") == 2


def test_faiss_search_matches_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("faiss")
    from ctxcompress._kg import linking as _kg_link

    g = tiny_graph()
    question = "something about sclerosis"
    plain = make(g, fallback_k=3).link(question)
    clear_indexes(g)
    monkeypatch.setattr(_kg_link, "FAISS_MIN_NAMES", 1)
    p = make(g, fallback_k=3)
    found = p.link(question)
    assert found[0].node == plain[0].node == "D:ms"
    assert [round(lk.score, 5) for lk in found] == [round(lk.score, 5) for lk in plain]  # ties may swap
    assert any(entry[2] is not None for entry in p.index()._vectors.values())  # a FAISS index was used


def test_aretrieve() -> None:
    import asyncio

    res = asyncio.run(make(percentile=0, min_similarity=None).aretrieve("psoriasis genes", counter=WS))
    assert [c.id for c in res.sources] == ["kg:D:ps"]


def test_embedder_failure_policy() -> None:
    with pytest.raises(ctxcompress.BackendError):
        make(embedder=FailingEmbedder()).retrieve("multiple sclerosis genes", counter=WS)
    p = make(embedder=FailingEmbedder(), on_error="passthrough")
    res = p.retrieve("multiple sclerosis risk genes", counter=WS)  # "risk genes" needs the embedder
    assert [c.id for c in res.chunks] == ["kg:D:ms"]
    assert res.report.tokens_out == res.report.tokens_in  # full context passed through
    warnings = [w for st in res.report.stages for w in st.warnings]
    assert any("only exact name matches" in w for w in warnings)
    assert any("passed through" in w for w in warnings)


# --------------------------------------------------------------------------- graph checks
def test_missing_attributes_are_clear_errors() -> None:
    g = tiny_graph()
    del g.nodes["G:tnf"]["type"]
    with pytest.raises(ConfigError, match="'type'"):
        make(g).link("psoriasis")
    g = tiny_graph()
    g.add_edge("D:ps", "G:il7r", predicate="associates")  # no provenance
    with pytest.raises(ConfigError, match="provenance"):
        check_graph(g)
    g = tiny_graph()
    g.add_edge("D:ps", "G:il7r", provenance="x")  # no predicate
    with pytest.raises(ConfigError, match="'predicate'"):
        check_graph(g)
    with pytest.raises(ConfigError, match="networkx graph"):
        KGSchemaPruner(graph=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no graph"):
        KGSchemaPruner(embedder=FakeEmbedder()).retrieve("psoriasis")


def test_parameter_validation() -> None:
    for bad in (
        {"percentile": 120},
        {"min_similarity": 2},
        {"context_volume": 0},
        {"output": "both"},
        {"node_types": []},
        {"relation_types": [""]},
        {"entity_extractor": "gpt"},
        {"fallback_k": 0},
    ):
        with pytest.raises(ConfigError):
            KGSchemaPruner(**bad)


# --------------------------------------------------------------------------- serialisation
def test_to_dict_with_graph_object_is_a_clear_error() -> None:
    p = make()
    with pytest.raises(ConfigError, match="path"):
        p.to_dict()
    assert p == p and p != make()  # equality still works (graph compared by identity)
    q = KGSchemaPruner([str(HETIONET_MINI), str(JENSENLAB_MINI)], node_types=["Disease"], percentile=50.0)
    data = q.to_dict()
    assert data["type"] == "ctxcompress.KGSchemaPruner"
    assert data["init_parameters"]["graph"] == [str(HETIONET_MINI), str(JENSENLAB_MINI)]
    again = Compressor.from_dict(data)
    assert isinstance(again, KGSchemaPruner) and again.to_dict() == data and again == q


def test_exported_from_package() -> None:
    assert ctxcompress.KGSchemaPruner is KGSchemaPruner


# --------------------------------------------------------------------------- compress (post-processing)
def test_compress_chunks_carrying_triples() -> None:
    triples = [
        {"source": "D1", "source_name": "Foo syndrome", "source_type": "Disease", "predicate": "associates",
         "target": "G1", "target_name": "ABC1", "target_type": "Gene", "provenance": "CuratedDB", "key": "e1"},
        {"source": "C1", "source_name": "Barinib", "source_type": "Compound", "predicate": "treats",
         "target": "D1", "target_name": "Foo syndrome", "target_type": "Disease", "source_db": "TrialsDB"},
        ("D1", "presents", "Headache", "MEDLINE"),
    ]  # fmt: skip
    text = (
        "Disease Foo syndrome associates Gene ABC1 and Provenance of this association is CuratedDB.\n"
        "Compound Barinib treats Disease Foo syndrome and Provenance of this association is TrialsDB."
    )
    chunk = Chunk(text, id="doc1", metadata={"triples": triples, "title": "Foo"}, score=0.7)
    p = KGSchemaPruner(embedder=FakeEmbedder(), percentile=None, min_similarity=None)
    res = p.compress([chunk], query="Which gene is associated with Foo syndrome?", counter=WS)
    (out,) = res.chunks
    assert out.id == "doc1" and out.score == 0.7 and out.metadata["title"] == "Foo"
    facts = out.metadata[FACTS_KEY]
    assert len(facts) == 3 and facts[0]["target"] == "G1" and facts[0]["key"] == "e1"
    verbatim = [sp for sp in out.spans if sp.verbatim]
    assert len(verbatim) == 2 and res.check_spans() == []
    assert any(not sp.verbatim for sp in out.spans)  # the third triple is not in the text
    only_treats = KGSchemaPruner(
        embedder=FakeEmbedder(), relation_types=["treats"], percentile=None, min_similarity=None
    )
    res2 = only_treats.compress([chunk], query="Foo syndrome", counter=WS)
    assert [f["predicate"] for f in res2.chunks[0].metadata[FACTS_KEY]] == ["treats"]
    with pytest.raises(InputError):
        p.compress([Chunk("x", metadata={"triples": [{"source": "a"}]})], query="q")


def test_compress_plain_text_node_context() -> None:
    # KG-RAG's pre-extracted node context: sentences of the text are the facts
    ctx = (
        "Disease psoriasis associates Gene HLA-B and Provenance of this association is DISEASES. "
        "Disease psoriasis presents Symptom Fatigue and Provenance of this association is MEDLINE. "
        "Disease psoriasis resembles Disease vitiligo and Provenance of this association is MEDLINE."
    )
    p = KGSchemaPruner(embedder=FakeEmbedder(), percentile=50.0, min_similarity=None)
    res = p.compress([Chunk(ctx, id="psoriasis")], query="Which gene is associated with psoriasis?", counter=WS)
    assert res.check_spans() == []
    assert res.chunks and "HLA-B" in res.chunks[0].text
    assert res.report.tokens_out < res.report.tokens_in


# --------------------------------------------------------------------------- loaders
def test_load_hetionet_fixture() -> None:
    g = load_hetionet(HETIONET_MINI)
    assert g.number_of_nodes() == 36 and g.number_of_edges() == 33
    ms = g.nodes["Disease::DOID:2377"]
    assert ms["name"] == "multiple sclerosis" and ms["type"] == "Disease" and ms["merge_key"] == "DOID:2377"
    _, _, k, d = next(
        (u, v, k, d) for u, v, k, d in g.edges(keys=True, data=True) if d["relation"] == "DrD" and "p_fisher" in d
    )
    assert d["predicate"] == "resembles" and d["provenance"] == "MEDLINE cooccurrence" and k.startswith("DrD:")
    flg = g.get_edge_data("Disease::DOID:8893", "Gene::2312")
    assert next(iter(flg.values()))["provenance"] == "DISEASES, DOAF"
    check_graph(g)


def test_load_jensenlab_fixture() -> None:
    g = load_jensenlab(JENSENLAB_MINI)
    assert g.nodes["Disease::DOID:2377"]["name"] == "Multiple sclerosis"
    assert g.nodes["Disease::AmyCo:26"]["identifier_source"] == "AmyCo"
    d = g.get_edge_data("Disease::DOID:8893", "Gene::HLA-B")["DaG:TIGA"]
    assert d["confidence"] == pytest.approx(2.054) and d["evidence"] == "MeanRankScore = 99"
    with pytest.raises(ConfigError):
        load_jensenlab(FIXTURES)


def test_load_graph_merges_on_disease_ontology_id() -> None:
    g = load_graph([HETIONET_MINI, JENSENLAB_MINI])
    assert load_graph([HETIONET_MINI, JENSENLAB_MINI]) is g  # cached per paths
    assert "Disease::DOID:2377" in g and g.nodes["Disease::DOID:2377"]["name"] == "multiple sclerosis"
    # the jensenlab gene HLA-B is Hetionet's Gene::3106: psoriasis has both sources' edges to it
    keys = set(g.get_edge_data("Disease::DOID:8893", "Gene::3106"))
    assert keys == {"DaG:DISEASES, DOAF", "DaG:TIGA"}
    assert "Gene::HLA-B" not in g
    assert "Disease::AmyCo:26" in g
    p = KGSchemaPruner(
        [str(HETIONET_MINI), str(JENSENLAB_MINI)],
        embedder=FakeEmbedder(),
        node_types=["Disease"],
        percentile=0.0,
        min_similarity=None,
    )
    res = p.retrieve("Which genes are associated with Multiple Sclerosis?", counter=WS)
    assert [c.id for c in res.sources] == ["kg:Disease::DOID:2377"]
    kept = res.chunks[0].metadata[FACTS_KEY]
    assert kept and all(f["provenance"] for f in kept)  # provenance of every kept sentence


def test_merge_graphs_aliases_and_copy() -> None:
    a = nx.MultiDiGraph()
    a.add_node("x1", name="Foo syndrome", type="Disease", merge_key="DOID:1")
    a.add_node("g1", name="ABC1", type="Gene")
    a.add_edge("x1", "g1", predicate="associates", provenance="A")
    b = nx.MultiDiGraph()
    b.add_node("y1", name="Foo disease", type="Disease", merge_key="DOID:1", extra="kept")
    b.add_node("g1", name="ABC1", type="Gene")
    b.add_edge("y1", "g1", predicate="associates", provenance="B")
    m = merge_graphs([a, b])
    assert m is not a and set(m) == {"x1", "g1"}
    assert m.nodes["x1"]["aliases"] == ["Foo disease"] and m.nodes["x1"]["extra"] == "kept"
    assert m.number_of_edges("x1", "g1") == 2
    assert a.number_of_edges() == 1  # inputs untouched
    p = KGSchemaPruner(m, embedder=FakeEmbedder())
    assert [lk.node for lk in p.link("Is Foo disease genetic?")] == ["x1"]


def test_load_edge_lists() -> None:
    g = load_edge_list(FIXTURES / "edges_synthetic.csv")
    assert g.number_of_nodes() == 6 and g.number_of_edges() == 5
    d = g.get_edge_data("D1", "G2")
    (attrs,) = d.values()
    assert attrs["p_value"] == "2e-08" and attrs["provenance"] == "GWAS Catalog"
    assert g.nodes["D2"]["name"] == "Baz disease, type 2"
    j = load_edge_list(FIXTURES / "edges_synthetic.jsonl")
    assert j.number_of_edges() == 3 and j.number_of_edges("D1", "G1") == 2
    provs = sorted(d["provenance"] for d in j.get_edge_data("D1", "G1").values())
    assert provs == ["CuratedDB", "TextMiningDB"]
    p = KGSchemaPruner(str(FIXTURES / "edges_synthetic.csv"), embedder=FakeEmbedder(), edge_properties=["p_value"])
    texts = [f.text for f in p.one_hop("D1")]
    expected = (
        "Disease Foo syndrome associates Gene XYZ2 and Provenance of this association is GWAS Catalog and "
        'attributes of this association are {"p_value": "2e-08"}.'
    )
    assert expected in texts


def test_edge_list_needs_types(tmp_path: Path) -> None:
    path = tmp_path / "e.tsv"
    path.write_text("source\ttarget\tpredicate\tprovenance\na\tb\tlinks\tX\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="default_type"):
        load_edge_list(path)
    g = load_edge_list(path, default_type="Entity")
    assert g.nodes["a"] == {"name": "a", "type": "Entity", "merge_key": "a"}
    bad = tmp_path / "bad.csv"
    bad.write_text("src,dst\na,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="columns"):
        load_edge_list(bad, default_type="Entity")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("src,dst,rel,db\na,b,links,X\n", encoding="utf-8")
    cols = {"source": "src", "target": "dst", "predicate": "rel", "provenance": "db"}
    g2 = load_edge_list(renamed, columns=cols, default_type="E")
    assert next(iter(g2.get_edge_data("a", "b").values())) == {"predicate": "links", "provenance": "X"}


# --------------------------------------------------------------------------- CLI
def test_cli_kg(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ctxcompress import _cli
    from ctxcompress._backends import embedders as _embed

    monkeypatch.setattr(_embed, "get_embedder", lambda spec=None: FakeEmbedder())
    rc = _cli.main(
        [
            "kg",
            "--graph",
            str(HETIONET_MINI),
            "--graph",
            str(JENSENLAB_MINI),
            "--query",
            "Which genes are associated with psoriasis?",
            "--node-type",
            "Disease",
            "--no-index-cache",
            "--counter",
            "whitespace",
            "--percentile",
            "0",
            "--min-similarity",
            "0",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"chunks", "text", "report"}
    (chunk,) = out["chunks"]
    assert chunk["id"] == "kg:Disease::DOID:8893" and chunk["metadata"][FACTS_KEY]
    assert out["report"]["tokens_in"] > out["report"]["tokens_out"] > 0


# --------------------------------------------------------------------------- conformance
class TestKGSchemaPrunerConformance(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return KGSchemaPruner(embedder=FakeEmbedder(), percentile=50.0, min_similarity=0.0)


class TestKGSchemaPrunerJoinedConformance(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return KGSchemaPruner(
            str(HETIONET_MINI), embedder=FakeEmbedder(), output="joined", percentile=25.0, min_similarity=None
        )

    def sample_chunks(self) -> list[Chunk]:
        triples = [
            {"source": "a", "predicate": "associates", "target": "b", "source_type": "Disease",
             "target_type": "Gene", "source_name": "Shirley Temple disease", "target_name": "CORL1",
             "provenance": "Archer DB"},
        ]  # fmt: skip
        return [*super().sample_chunks(), Chunk("Graph facts.", id="graph", metadata={"triples": triples})]


def test_stopwords_are_package_data() -> None:
    """The linker's stop words are a data file of the package, read once, and the wheel carries it."""
    from fnmatch import fnmatch
    from importlib import resources

    from ctxcompress._kg.linking import STOPWORDS

    text = resources.files("ctxcompress._kg").joinpath("stopwords.txt").read_text(encoding="utf-8")
    words = {w for line in text.splitlines() if (w := line.strip()) and not w.startswith("#")}
    assert words == STOPWORDS
    assert {"the", "of", "versus", "yes"} <= STOPWORDS and len(STOPWORDS) > 100
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    globs = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["ctxcompress"]
    assert any(fnmatch("_kg/stopwords.txt", g) for g in globs)
