"""KGSchemaPruner rendering (issue 17 §3): prose vs compact vs auto on the KG-RAG (BiomixQA) MCQ questions.

Same graph, linking and answerable questions as ``bench_kg.py`` (Hetionet v1.0 + JensenLab DISEASES,
disease nodes, n-gram linking; MCQ dev questions whose correct gene is associated with both
diseases). For each pruning setting the three formats run on the same selection, so correct-gene
retention is equal by construction (checked: the kept edges are compared question by question) and
only the tokens differ. Under a token budget the facts kept are the most similar ones whose
rendering fits, so there a cheaper rendering keeps more facts: retention at equal tokens.

    python eval/bench_kg_format.py --data-dir ../shared/data [--limit N] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctxcompress import Budget, CachedEmbedder, KGSchemaPruner, get_counter
from ctxcompress._backends.embedders import get_embedder

from bench_kg import kept_genes, load_kg_and_names, mcq_items, pct, read_csv

FORMATS = ("prose", "compact", "auto")
NO_PRUNING: dict[str, Any] = {"percentile": 0.0, "min_similarity": None, "context_volume": 10_000}


def kept_edges(res: Any) -> list[tuple[Any, Any, Any]]:
    return [(f.get("source"), f.get("target"), f.get("key")) for ch in res.chunks for f in ch.metadata["kg_facts"]]


def run(
    graph: Any, embedder: Any, items: list[dict[str, Any]], counter: Any, params: dict[str, Any], budget: int | None
) -> dict[str, Any]:
    per: dict[str, list[dict[str, Any]]] = {f: [] for f in FORMATS}
    for it in items:
        for fmt in FORMATS:
            pr = KGSchemaPruner(graph, embedder=embedder, node_types=["Disease"], format=fmt, **params)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            res = pr.retrieve(it["text"], counter=counter, budget=None if budget is None else Budget(max_tokens=budget))
            secs = time.perf_counter() - t0
            genes = kept_genes(res, graph)
            d1, d2 = f"kg:{it['d1']}", f"kg:{it['d2']}"
            all_genes = set().union(*genes.values()) if genes else set()
            per[fmt].append(
                {
                    "tokens_out": res.report.tokens_out,
                    "tokens_in": res.report.tokens_in,
                    "facts": len(kept_edges(res)),
                    "edges": kept_edges(res),
                    "correct_any": it["correct"] in all_genes,
                    "correct_both": it["correct"] in genes.get(d1, set()) and it["correct"] in genes.get(d2, set()),
                    "chosen": res.report.stages[0].details.get("format") if res.report.stages else None,
                    "over": budget is not None and res.report.tokens_out > budget,
                    "seconds": secs,
                }
            )
    n = max(1, len(items))
    out: dict[str, Any] = {"n": len(items)}
    for fmt, recs in per.items():
        out[fmt] = {
            "tokens_out_mean": sum(r["tokens_out"] for r in recs) / n,
            "tokens_out_median": statistics.median(r["tokens_out"] for r in recs) if recs else 0,
            "tokens_in_mean": sum(r["tokens_in"] for r in recs) / n,
            "facts_mean": sum(r["facts"] for r in recs) / n,
            "correct_any": sum(r["correct_any"] for r in recs) / n,
            "correct_both": sum(r["correct_both"] for r in recs) / n,
            "chose_compact": sum(r["chosen"] == "compact" for r in recs) / n,
            "over_budget": sum(r["over"] for r in recs),
            "seconds_median": statistics.median(r["seconds"] for r in recs) if recs else 0.0,
        }
    out["same_edges_prose_compact"] = sum(
        a["edges"] == b["edges"] for a, b in zip(per["prose"], per["compact"], strict=True)
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--limit", type=int, default=None, help="MCQ questions read (default: all)")
    ap.add_argument("--embedder", default=None, help="embedder spec (default: the library default)")
    ap.add_argument("--counter", default="o200k_base")
    ap.add_argument("--budgets", default="50,100,200,400,800", help="token budgets (o200k) for the budgeted rows")
    ap.add_argument("--out", default=None, help="write all figures as JSON here")
    args = ap.parse_args(argv)

    data = Path(args.data_dir)
    qa = data / "kg_rag_biomixqa"
    graph, name_ids, t_load = load_kg_and_names(data)
    print(f"graph: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges ({t_load:.1f} s)")
    embedder = CachedEmbedder(get_embedder(args.embedder), max_entries=2_000_000)  # every format reuses vectors
    counter = get_counter(args.counter)
    items = mcq_items(read_csv(qa / "mcq_questions.dev.csv.gz")[: args.limit], name_ids, graph)
    answerable = [it for it in items if it["answerable"]]
    print(f"MCQ dev: {len(items)} questions, answerable {len(answerable)}\n")

    settings: list[tuple[str, dict[str, Any], int | None]] = [
        ("defaults (p75, min 0.5)", {}, None),
        ("p50, min 0.3", {"percentile": 50.0, "min_similarity": 0.3}, None),
        ("no pruning (p0, no min, volume 10000)", NO_PRUNING, None),
    ]
    for b in (int(x) for x in args.budgets.split(",") if x.strip()):
        settings.append((f"p0, no min, volume 10000, budget {b}", NO_PRUNING, b))

    print(
        "| setting | questions | format | tokens out (mean) | tokens out (median) | facts kept (mean) |"
        " correct gene kept | kept for both diseases | auto chose compact | over budget | same edges as prose |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results: dict[str, Any] = {"n_mcq": len(items), "n_answerable": len(answerable), "rows": {}}
    for label, params, budget in settings:
        r = run(graph, embedder, answerable, counter, params, budget)
        results["rows"][label] = r
        for fmt in FORMATS:
            x = r[fmt]
            same = f"{r['same_edges_prose_compact']}/{r['n']}" if fmt == "compact" else ""
            print(
                f"| {label} | {r['n']} | {fmt} | {x['tokens_out_mean']:.1f} | {x['tokens_out_median']:.0f} | "
                f"{x['facts_mean']:.1f} | {pct(x['correct_any'])} | {pct(x['correct_both'])} | "
                f"{pct(x['chose_compact']) if fmt == 'auto' else ''} | {x['over_budget'] if budget else ''} | {same} |"
            )
        sys.stdout.flush()
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
