"""KGSchemaPruner on the real merged graph (Hetionet v1.0 + JensenLab DISEASES) with the real embedder.

The data lives outside the repository (``../shared/data``, or ``$CTXCOMPRESS_DATA``); the tests skip
when it is absent. Timings are printed (``-s``) and only loosely asserted (< 5 s per linked question
after the first build; typically well under a second on an idle machine).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ctxcompress import KGSchemaPruner
from ctxcompress._kg.loaders import load_graph
from ctxcompress._kg.pruner import FACTS_KEY

pytestmark = pytest.mark.integration

pytest.importorskip("networkx")

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("CTXCOMPRESS_DATA", ROOT.parent / "shared" / "data"))
HETIONET = DATA / "hetionet_v1"
JENSENLAB = DATA / "jensenlab_diseases"

if not (HETIONET / "nodes.tsv.gz").is_file() or not JENSENLAB.is_dir():
    pytest.skip(f"the real graphs are not in {DATA}", allow_module_level=True)

MCQ = (
    "Out of the given list, which Gene is associated with psoriasis and Takayasu's arteritis. "
    "Given list is: SHTN1, HLA-B,  SLC14A2,  BTBD9,  DTNB"
)


@pytest.fixture(scope="module")
def graph() -> Any:
    return load_graph([HETIONET, JENSENLAB])


@pytest.fixture(scope="module")
def disease_pruner(graph: Any, real_embedder: Any) -> KGSchemaPruner:
    pruner = KGSchemaPruner(graph, embedder=real_embedder, node_types=["Disease"])
    pruner.warm_up()
    return pruner


def test_merged_graph_shape(graph: Any) -> None:
    assert 45_000 < graph.number_of_nodes() < 55_000
    assert 180_000 < graph.number_of_edges() < 230_000
    ms = graph.nodes["Disease::DOID:2377"]
    assert ms["name"] == "multiple sclerosis" and ms["type"] == "Disease"
    # JensenLab's curated MedlinePlus association is on Hetionet's gene node (merged on the symbol)
    data = graph.get_edge_data("Disease::DOID:2377", "Gene::7132") or {}
    assert any(d.get("provenance") == "MedlinePlus" for d in data.values())


def test_link_known_diseases(disease_pruner: KGSchemaPruner) -> None:
    cases = {
        "What genes are associated with multiple sclerosis?": "Disease::DOID:2377",
        "LEIGH DISEASE ASSOCIATES GENE SURF1": None,  # a JensenLab-only disease: checked by name
        MCQ: "Disease::DOID:8893",
    }
    for question, node in cases.items():
        links = disease_pruner.link(question)
        assert links
        if node is not None:
            assert node in [lk.node for lk in links]
        else:
            assert links[0].name.lower() == "leigh disease" and links[0].method == "exact"
    names = [lk.name.lower() for lk in disease_pruner.link(MCQ)]
    assert "takayasu's arteritis" in names


def test_retrieve_prunes_and_keeps_the_answer(disease_pruner: KGSchemaPruner) -> None:
    res = disease_pruner.retrieve(MCQ)
    assert {c.id for c in res.sources} >= {"kg:Disease::DOID:8893"}
    assert res.report.tokens_out < res.report.tokens_in / 2
    assert res.check_spans() == []
    genes = {
        disease_pruner.get_graph().nodes[f["target"]]["name"]
        for c in res.chunks
        for f in c.metadata[FACTS_KEY]
        if f.get("target") in disease_pruner.get_graph()
    }
    assert "HLA-B" in genes  # the correct option survives pruning
    for c in res.chunks:
        assert len(c.metadata[FACTS_KEY]) <= 150 // len(res.sources)


@pytest.mark.slow
def test_all_node_types_index(graph: Any, real_embedder: Any) -> None:
    """Every node type with an edge (~22k names; FAISS when installed); build and link times are
    measured by ``eval/bench_kg.py``."""
    pruner = KGSchemaPruner(graph, embedder=real_embedder)
    pruner.warm_up()
    links = pruner.link("Which compounds treat multiple sclerosis and what symptoms does it present?")
    assert "Disease::DOID:2377" in [lk.node for lk in links]
