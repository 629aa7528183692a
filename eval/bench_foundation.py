"""First benchmark (issue 2): the default pipeline vs no compression and random sentence drop.

Answer-in-context recall (a SQuAD-normalised gold answer string appears in the compressed context;
yes/no questions are counted apart since their answer is not a span), tokens in/out (o200k_base),
and compression latency per question, all measured in the same run.

    python eval/bench_foundation.py --data-dir ../shared/data --budgets 0.5,0.25 [--limit 250]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxcompress import Budget, CachedEmbedder, Chunk, Pipeline, RedundancyFusion, RelevanceFilter, get_counter
from ctxcompress._base import extract, join_text
from ctxcompress._demo import answer_in
from ctxcompress._embed import get_embedder
from ctxcompress._segment import split_sentences


def load_hotpot(path: Path, limit: int | None) -> list[dict[str, Any]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            answers = [s for a in r["answers_objects"] for s in a["spans"]]
            chunks = [
                Chunk(
                    c["paragraph_text"],
                    id=str(c["id"]),
                    metadata={"title": c["title"], "supporting": c["is_supporting"]},
                )
                for c in r["contexts"]
            ]
            out.append({"id": r["question_id"], "question": r["question_text"], "answers": answers, "chunks": chunks})
            if limit and len(out) >= limit:
                break
    return out


def random_drop(chunks: list[Chunk], cap: int, count: Callable[[str], int], seed: int) -> list[Chunk]:
    """Random sentence drop: sentences in a seeded random order until the budget is full, original order kept."""
    units = [(ci, s.start, s.end, s.text) for ci, c in enumerate(chunks) for s in split_sentences(c.text)]
    rng = random.Random(seed)
    order = list(range(len(units)))
    rng.shuffle(order)
    chosen: set[int] = set()
    used = 0
    for i in order:
        cost = count(units[i][3]) + 1
        if used + cost <= cap:
            chosen.add(i)
            used += cost
    out = []
    for ci, c in enumerate(chunks):
        piece = extract(c, [(s, e) for i, (cj, s, e, _) in enumerate(units) if cj == ci and i in chosen])
        if piece is not None:
            out.append(piece)
    while out and count(join_text(out)) > cap:
        out = out[:-1]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--budgets", default="0.5,0.25")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--embedder", default="onnx", help="embedder spec for ctxcompress (onnx, st, ...)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    path = Path(args.data_dir) / "hotpotqa_distractor_dev500" / "hotpotqa_dev_subsampled.dev.jsonl.gz"
    data = load_hotpot(path, args.limit)
    counter = get_counter("o200k_base")
    budgets = [float(b) for b in args.budgets.split(",")]
    base = get_embedder(args.embedder)
    base.encode(["warm up"])

    def ours(emb: Any) -> Pipeline:
        return Pipeline([("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(embedder=emb))])

    methods: dict[str, Callable[[list[Chunk], str, int, int], tuple[str, float]]] = {}

    def run_pipe(pipe: Pipeline) -> Callable[[list[Chunk], str, int, int], tuple[str, float]]:
        def f(chunks: list[Chunk], q: str, cap: int, seed: int) -> tuple[str, float]:
            t0 = time.perf_counter()
            res = pipe.compress(chunks, query=q, budget=Budget(max_tokens=cap), counter=counter)
            return res.text, time.perf_counter() - t0

        return f

    def run_random(chunks: list[Chunk], q: str, cap: int, seed: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        out = random_drop(chunks, cap, counter.count, seed)
        return join_text(out), time.perf_counter() - t0

    # a cache that holds every sentence vector computed "at indexing time" (filled below, before timing)
    cached = CachedEmbedder(base)
    methods["ctxcompress (fuse+filter)"] = run_pipe(ours(base))
    methods["ctxcompress, sentence vectors precomputed"] = run_pipe(ours(cached))
    methods["MiniLM sentence ranking (embedding only)"] = run_pipe(
        Pipeline([("filter", RelevanceFilter(embedder=base, scorer="embedding", title_key=""))])
    )
    methods["random sentence drop"] = run_random

    # indexing time: sentence vectors (with and without the title prefix the filter uses) for the cached variant
    for item in data:
        texts = []
        for c in item["chunks"]:
            title = c.metadata.get("title", "")
            for s in split_sentences(c.text):
                texts += [s.text, f"{title}: {s.text}"]
        cached.encode(texts)

    rows = []
    full_tokens = [counter.count(join_text(item["chunks"])) for item in data]
    yn = [item for item in data if {a.lower() for a in item["answers"]} <= {"yes", "no"}]
    span_items = [i for i, item in enumerate(data) if item not in yn]
    none_recall = sum(answer_in(join_text(data[i]["chunks"]), data[i]["answers"]) for i in span_items) / len(span_items)
    rows.append(
        {
            "method": "no compression",
            "budget": 1.0,
            "answer_recall": none_recall,
            "kept": 1.0,
            "tokens_in": statistics.mean(full_tokens),
            "tokens_out": statistics.mean(full_tokens),
            "median_ms": 0.0,
            "p90_ms": 0.0,
        }
    )
    for budget in budgets:
        for name, fn in methods.items():
            hits, kept, outs, times = 0, [], [], []
            for i in span_items:
                item = data[i]
                cap = int(full_tokens[i] * budget)
                text, secs = fn(item["chunks"], item["question"], cap, seed=i)
                n_out = counter.count(text)
                assert n_out <= cap, (name, n_out, cap)
                hits += answer_in(text, item["answers"])
                kept.append(n_out / full_tokens[i])
                outs.append(n_out)
                times.append(secs * 1000)
            times_sorted = sorted(times)
            row = {
                "method": name,
                "budget": budget,
                "answer_recall": hits / len(span_items),
                "kept": statistics.mean(kept),
                "tokens_in": statistics.mean(full_tokens[i] for i in span_items),
                "tokens_out": statistics.mean(outs),
                "median_ms": statistics.median(times),
                "p90_ms": times_sorted[int(0.9 * (len(times_sorted) - 1))],
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(
        f"\nHotpotQA distractor dev: {len(data)} questions ({len(span_items)} with span answers; "
        f"{len(yn)} yes/no counted apart), counter {counter.name}, embedder {base.name}\n"
    )
    print("| method | budget | answer-in-context recall | kept fraction | tokens in → out | median ms | p90 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['budget']:.0%} | {r['answer_recall']:.3f} | {r['kept']:.3f} | "
            f"{r['tokens_in']:.0f} → {r['tokens_out']:.0f} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} |"
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
