"""KG-schema pruning benchmark (issue 5): KGSchemaPruner on the KG-RAG (BiomixQA) development questions.

Graph: Hetionet v1.0 + JensenLab DISEASES from ``--data-dir`` (merged on the Disease Ontology id).
Linking as in KG-RAG: disease nodes only (``node_types=["Disease"]``), no LLM (n-gram linking).

Measures
1. Entity linking on ``entity_retrieval_questions``: the gold SPOKE disease (mapped to its DOID with
   ``disease_name_with_id.csv.gz``) is among the linked nodes / is the first linked node; on all
   questions and on those whose gold disease is in the graph.
2. MCQ questions (``mcq_questions``): tokens (o200k_base) of the full one-hop context vs the pruned
   one; whether the correct gene survives pruning (in the context of either / both diseases) and how
   often a wrong option survives too, at KG-RAG's defaults (percentile 75, min similarity 0.5,
   context volume 150) and a sweep of percentile x min_similarity. Reported on the *answerable*
   questions (both diseases in the graph and the correct gene associated with both), and their count.

    python eval/bench_kg.py --data-dir ../shared/data [--limit N] [--out results.json]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctxcompress import KGSchemaPruner, get_counter
from ctxcompress._backends.embedders import get_embedder
from ctxcompress._kg.loaders import load_graph


def read_csv(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rb") as f:
        return list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8")))


def load_kg_and_names(data: Path) -> tuple[Any, dict[str, str], float]:
    """The graph (Hetionet + JensenLab DISEASES), the BiomixQA disease name -> id table, and the load seconds."""
    t0 = time.perf_counter()
    graph = load_graph([data / "hetionet_v1", data / "jensenlab_diseases"])
    t_load = time.perf_counter() - t0
    name_ids: dict[str, str] = {}
    for r in read_csv(data / "kg_rag_biomixqa" / "disease_name_with_id.csv.gz"):
        name_ids.setdefault(r["disease_name"].strip().lower(), r["disease_id"])
    return graph, name_ids, t_load


def disease_lookup(graph: Any, name_ids: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """DOID -> disease node, and lower-cased name/alias -> disease node."""
    by_doid: dict[str, Any] = {}
    by_name: dict[str, Any] = {}
    for n, a in graph.nodes(data=True):
        if a.get("type") != "Disease":
            continue
        if a.get("identifier"):
            by_doid.setdefault(str(a["identifier"]), n)
        for nm in [a.get("name"), *(a.get("aliases") or ())]:
            if nm:
                by_name.setdefault(str(nm).lower(), n)
    return by_doid, by_name


def gold_node(name: str, name_ids: dict[str, str], by_doid: dict[str, Any], by_name: dict[str, Any]) -> Any:
    doid = name_ids.get(name.strip().lower())
    if doid is not None and doid in by_doid:
        return by_doid[doid]
    return by_name.get(name.strip().lower())


def gene_neighbours(graph: Any, node: Any) -> set[str]:
    out = set()
    for _, v, d in graph.out_edges(node, data=True):
        if graph.nodes[v].get("type") == "Gene" and d.get("relation") == "DaG":
            out.add(str(graph.nodes[v].get("name")).upper())
    for u, _, d in graph.in_edges(node, data=True):
        if graph.nodes[u].get("type") == "Gene" and d.get("relation") == "DaG":
            out.add(str(graph.nodes[u].get("name")).upper())
    return out


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# --------------------------------------------------------------------------- entity linking
def bench_linking(
    pruner: KGSchemaPruner, rows: list[dict[str, str]], name_ids: dict[str, str], graph: Any
) -> dict[str, Any]:
    by_doid, by_name = disease_lookup(graph, name_ids)
    records = []
    times = []
    for r in rows:
        gold = gold_node(r["node_hits"], name_ids, by_doid, by_name)
        t0 = time.perf_counter()
        links = pruner.link(r["text"])
        times.append(time.perf_counter() - t0)
        nodes = [lk.node for lk in links]
        records.append(
            {
                "text": r["text"],
                "gold": r["node_hits"],
                "gold_in_graph": gold is not None,
                "linked": [lk.to_dict() for lk in links],
                "hit": gold is not None and gold in nodes,
                "top1": gold is not None and bool(nodes) and nodes[0] == gold,
                "only": gold is not None and nodes == [gold],
                "method": links[0].method if links else "none",
            }
        )
    in_graph = [x for x in records if x["gold_in_graph"]]
    methods: dict[str, int] = {}
    for x in records:
        methods[x["method"]] = methods.get(x["method"], 0) + 1
    return {
        "n": len(records),
        "n_gold_in_graph": len(in_graph),
        "hit_all": sum(x["hit"] for x in records) / max(1, len(records)),
        "hit_in_graph": sum(x["hit"] for x in in_graph) / max(1, len(in_graph)),
        "top1_in_graph": sum(x["top1"] for x in in_graph) / max(1, len(in_graph)),
        "only_in_graph": sum(x["only"] for x in in_graph) / max(1, len(in_graph)),
        "mean_links": statistics.mean(len(x["linked"]) for x in records) if records else 0.0,
        "methods": methods,
        "link_seconds_median": statistics.median(times) if times else 0.0,
        "link_seconds_max": max(times) if times else 0.0,
        "misses": [x for x in in_graph if not x["hit"]],
    }


# --------------------------------------------------------------------------- MCQ
def mcq_items(rows: list[dict[str, str]], name_ids: dict[str, str], graph: Any) -> list[dict[str, Any]]:
    by_doid, by_name = disease_lookup(graph, name_ids)
    items = []
    for r in rows:
        d1 = gold_node(r["disease_1"], name_ids, by_doid, by_name)
        d2 = gold_node(r["disease_2"], name_ids, by_doid, by_name)
        correct = r["correct_node"].strip().upper()
        options = [o.strip().upper() for o in r["options_combined"].split(",") if o.strip()]
        wrong = sorted({o for o in options if o != correct})
        both = d1 is not None and d2 is not None
        answerable = both and correct in gene_neighbours(graph, d1) and correct in gene_neighbours(graph, d2)
        items.append(
            {"text": r["text"], "d1": d1, "d2": d2, "correct": correct, "wrong": wrong, "answerable": answerable}
        )
    return items


def kept_genes(result: Any, graph: Any) -> dict[str, set[str]]:
    """Gene symbols named by the kept sentences, per entity chunk (source id)."""
    out: dict[str, set[str]] = {}
    for ch in result.chunks:
        for f in ch.metadata.get("kg_facts", ()):
            genes = out.setdefault(str(f.get("entity")), set())
            for end in (f.get("source"), f.get("target")):
                if end is not None and end in graph and graph.nodes[end].get("type") == "Gene":
                    genes.add(str(graph.nodes[end].get("name")).upper())
    return out


def run_mcq(pruner: KGSchemaPruner, items: list[dict[str, Any]], graph: Any, counter: Any) -> dict[str, Any]:
    recs = []
    for it in items:
        t0 = time.perf_counter()
        res = pruner.retrieve(it["text"], counter=counter)
        secs = time.perf_counter() - t0
        genes = kept_genes(res, graph)
        d1, d2 = f"kg:{it['d1']}", f"kg:{it['d2']}"
        all_genes = set().union(*genes.values()) if genes else set()
        linked = {c.id for c in res.sources}
        recs.append(
            {
                "tokens_in": res.report.tokens_in,
                "tokens_out": res.report.tokens_out,
                "both_linked": d1 in linked and d2 in linked,
                "correct_any": it["correct"] in all_genes,
                "correct_both": it["correct"] in genes.get(d1, set()) and it["correct"] in genes.get(d2, set()),
                "wrong_any": any(w in all_genes for w in it["wrong"]),
                "wrong_both": any(w in genes.get(d1, set()) and w in genes.get(d2, set()) for w in it["wrong"]),
                "wrong_count": sum(w in all_genes for w in it["wrong"]),
                "seconds": secs,
            }
        )
    n = max(1, len(recs))
    tin = sum(r["tokens_in"] for r in recs)
    tout = sum(r["tokens_out"] for r in recs)
    return {
        "n": len(recs),
        "both_linked": sum(r["both_linked"] for r in recs) / n,
        "tokens_in_mean": tin / n,
        "tokens_out_mean": tout / n,
        "tokens_in_median": statistics.median(r["tokens_in"] for r in recs) if recs else 0,
        "tokens_out_median": statistics.median(r["tokens_out"] for r in recs) if recs else 0,
        "kept_fraction": tout / tin if tin else 0.0,
        "correct_any": sum(r["correct_any"] for r in recs) / n,
        "correct_both": sum(r["correct_both"] for r in recs) / n,
        "wrong_any": sum(r["wrong_any"] for r in recs) / n,
        "wrong_mean": sum(r["wrong_count"] for r in recs) / n,
        "wrong_both": sum(r["wrong_both"] for r in recs) / n,
        "correct_only": sum(r["correct_any"] and not r["wrong_any"] for r in recs) / n,
        "seconds_median": statistics.median(r["seconds"] for r in recs) if recs else 0.0,
    }


# --------------------------------------------------------------------------- main
def parse_floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--limit", type=int, default=None, help="questions per set (default: all)")
    ap.add_argument("--embedder", default=None, help="embedder spec (default: the library default)")
    ap.add_argument("--counter", default="o200k_base")
    ap.add_argument("--percentiles", default="50,75,90")
    ap.add_argument("--min-similarities", default="0.3,0.4,0.5,0.6")
    ap.add_argument("--index-cache", default=None, help="folder to keep node-name embeddings between runs")
    ap.add_argument("--out", default=None, help="write all figures as JSON here")
    args = ap.parse_args(argv)

    data = Path(args.data_dir)
    qa = data / "kg_rag_biomixqa"
    graph, name_ids, t_load = load_kg_and_names(data)
    print(f"graph: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, loaded in {t_load:.1f} s")

    embedder = get_embedder(args.embedder)
    counter = get_counter(args.counter)
    pruner = KGSchemaPruner(graph, embedder=embedder, node_types=["Disease"], index_cache=args.index_cache)
    t0 = time.perf_counter()
    pruner.warm_up()
    t_index = time.perf_counter() - t0
    print(f"node index: {len(pruner.index())} disease nodes, built and embedded in {t_index:.1f} s")

    results: dict[str, Any] = {"graph": {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()}}
    results["timing"] = {"load_s": t_load, "index_s": t_index}

    # 1. entity linking
    ent_rows = read_csv(qa / "entity_retrieval_questions.dev.csv.gz")[: args.limit]
    link = bench_linking(pruner, ent_rows, name_ids, graph)
    results["linking"] = {k: v for k, v in link.items() if k != "misses"}
    print("\n## Entity linking (entity_retrieval_questions, dev)\n")
    print(
        "| questions | gold disease in graph | gold linked (all) | gold linked (in graph) | first link = gold |"
        " only link = gold | links / question | median link time |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {link['n']} | {link['n_gold_in_graph']} | {pct(link['hit_all'])} | {pct(link['hit_in_graph'])} | "
        f"{pct(link['top1_in_graph'])} | {pct(link['only_in_graph'])} | {link['mean_links']:.2f} | "
        f"{1000 * link['link_seconds_median']:.0f} ms |"
    )
    print(f"\nfirst-link method: {link['methods']}")
    for m in link["misses"][:12]:
        print(f"  miss: {m['text']!r} gold={m['gold']!r} linked={[x['name'] for x in m['linked']]}")

    # 2. MCQ
    mcq_rows = read_csv(qa / "mcq_questions.dev.csv.gz")[: args.limit]
    items = mcq_items(mcq_rows, name_ids, graph)
    answerable = [it for it in items if it["answerable"]]
    both_present = sum(1 for it in items if it["d1"] is not None and it["d2"] is not None)
    results["mcq_counts"] = {"n": len(items), "both_diseases_in_graph": both_present, "answerable": len(answerable)}
    share = pct(len(answerable) / max(1, len(items)))
    print(
        f"\n## MCQ (mcq_questions, dev): {len(items)} questions, both diseases in the graph {both_present}, "
        f"answerable (correct gene associated with both) {len(answerable)} ({share})\n"
    )
    configs: list[tuple[str, dict[str, Any]]] = [("defaults (p75, min 0.5)", {})]
    for p in parse_floats(args.percentiles):
        for m in parse_floats(args.min_similarities):
            if (p, m) != (75.0, 0.5):
                configs.append((f"p{p:g}, min {m:g}", {"percentile": p, "min_similarity": m}))
    configs.append(("defaults, relation 'associates' only", {"relation_types": ["associates"]}))
    configs.append(("p75, no min similarity", {"min_similarity": None}))
    configs.append(
        (
            "no pruning cap (p0, no min, volume 10000)",
            {"percentile": 0.0, "min_similarity": None, "context_volume": 10_000},
        )
    )
    print(
        "| setting | both linked | tokens full (mean) | tokens pruned (mean) | kept | correct gene kept |"
        " kept for both diseases | a wrong option kept | wrong option kept for both | wrong options kept (mean) |"
        " correct and no wrong |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results["mcq"] = {}
    for label, params in configs:
        pr = KGSchemaPruner(graph, embedder=embedder, node_types=["Disease"], index_cache=args.index_cache, **params)
        r = run_mcq(pr, answerable, graph, counter)
        results["mcq"][label] = r
        print(
            f"| {label} | {pct(r['both_linked'])} | {r['tokens_in_mean']:.0f} | {r['tokens_out_mean']:.0f} | "
            f"{pct(r['kept_fraction'])} | {pct(r['correct_any'])} | {pct(r['correct_both'])} | "
            f"{pct(r['wrong_any'])} | {pct(r['wrong_both'])} | {r['wrong_mean']:.2f} | {pct(r['correct_only'])} |"
        )
        sys.stdout.flush()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
