"""First benchmark (issue 2): the default pipeline vs no compression and random sentence drop.

The random sentence drop is the eval harness's (``ctxcompress-eval --methods random``, seeded by the
question text), so both report the same baseline.

Answer-in-context recall (a SQuAD-normalised gold answer string appears in the compressed context;
yes/no questions are counted apart since their answer is not a span), tokens in/out (o200k_base),
and compression latency per question, all measured in the same run.

    python eval/bench_foundation.py --data-dir ../shared/data --budgets 0.5,0.25 [--limit 250]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxcompress import Budget, CachedEmbedder, Chunk, Pipeline, RedundancyFusion, RelevanceFilter, get_counter
from ctxcompress._backends.embedders import get_embedder
from ctxcompress._core.answers import answer_in_context
from ctxcompress._core.result import join_text
from ctxcompress._core.segment import split_sentences

from ctxcompress_eval import MethodContext, Passage
from ctxcompress_eval._methods import random_seed, random_sentence_drop


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


Method = Callable[[list[Chunk], str, int, int], str]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--budgets", default="0.5,0.25")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--embedder", default="onnx", help="embedder spec for ctxcompress (onnx, st, ...)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("--latency-sample", type=int, default=50, help="questions timed for latency")
    args = ap.parse_args()
    path = Path(args.data_dir) / "hotpotqa_distractor_dev500" / "hotpotqa_dev_subsampled.dev.jsonl.gz"
    data = load_hotpot(path, args.limit)
    counter = get_counter("o200k_base")
    budgets = [float(b) for b in args.budgets.split(",")]
    base = get_embedder(args.embedder)
    base.encode(["warm up"])

    def ours(emb: Any) -> Pipeline:
        return Pipeline([("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(embedder=emb))])

    def embedding_only(emb: Any) -> Pipeline:
        return Pipeline([("filter", RelevanceFilter(embedder=emb, scorer="embedding", title_key=""))])

    def run_pipe(pipe: Pipeline) -> Method:
        def f(chunks: list[Chunk], q: str, cap: int, seed: int) -> str:
            return pipe.compress(chunks, query=q, budget=Budget(max_tokens=cap), counter=counter).text

        return f

    harness = MethodContext(counter=counter, embedder=None)

    def run_random(chunks: list[Chunk], q: str, cap: int, seed: int) -> str:
        """The harness's random baseline (``ctxcompress-eval --methods random``), same seed per question."""
        passages = [Passage(c.id or str(i), str(c.metadata.get("title", "")), c.text) for i, c in enumerate(chunks)]
        return random_sentence_drop(passages, cap, harness.count, random_seed(harness.seed, q))[0]

    full_tokens = [counter.count(join_text(item["chunks"])) for item in data]
    yn = [i for i, item in enumerate(data) if {a.lower() for a in item["answers"]} <= {"yes", "no"}]
    span_items = [i for i in range(len(data)) if i not in set(yn)]

    # 1) quality: vectors are cached across budgets (the same texts are embedded once per run)
    shared = CachedEmbedder(base)
    quality: dict[str, Method] = {
        "ctxcompress (fuse+filter, hybrid)": run_pipe(ours(shared)),
        "MiniLM sentence ranking (embedding only)": run_pipe(embedding_only(shared)),
        "random sentence drop": run_random,
    }
    rows: list[dict[str, Any]] = []
    none_recall = sum(answer_in_context(join_text(data[i]["chunks"]), data[i]["answers"]) for i in span_items)
    rows.append(
        {"method": "no compression", "budget": 1.0, "answer_recall": none_recall / len(span_items), "kept": 1.0,
         "tokens_in": statistics.mean(full_tokens[i] for i in span_items),
         "tokens_out": statistics.mean(full_tokens[i] for i in span_items)}
    )  # fmt: skip
    for budget in budgets:
        for name, fn in quality.items():
            hits, kept, outs = 0, [], []
            for i in span_items:
                item = data[i]
                cap = int(full_tokens[i] * budget)
                text = fn(item["chunks"], item["question"], cap, i)
                n_out = counter.count(text)
                assert n_out <= cap, (name, n_out, cap)
                hits += answer_in_context(text, item["answers"])
                kept.append(n_out / full_tokens[i])
                outs.append(n_out)
            row = {
                "method": name,
                "budget": budget,
                "answer_recall": hits / len(span_items),
                "kept": statistics.mean(kept),
                "tokens_in": statistics.mean(full_tokens[i] for i in span_items),
                "tokens_out": statistics.mean(outs),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)

    # 2) latency at the smallest budget, on a sample, all methods timed in the same pass, interleaved
    sample = span_items[: args.latency_sample]
    budget = min(budgets)
    precomputed = CachedEmbedder(base)
    for i in sample:  # "indexing time": every sentence vector the filter will ask for
        texts = []
        for c in data[i]["chunks"]:
            title = c.metadata.get("title", "")
            texts += [f"{title}: {s.text}" if title else s.text for s in split_sentences(c.text)]
        precomputed.encode(texts)
    timed: dict[str, Method] = {
        "ctxcompress (fuse+filter, hybrid)": run_pipe(ours(base)),
        "ctxcompress, sentence vectors precomputed": run_pipe(ours(precomputed)),
        "MiniLM sentence ranking (embedding only)": run_pipe(embedding_only(base)),
        "random sentence drop": run_random,
    }
    times: dict[str, list[float]] = {name: [] for name in timed}
    for fn in timed.values():  # warm-up
        fn(data[sample[0]]["chunks"], data[sample[0]]["question"], 100, 0)
    for i in sample:
        cap = int(full_tokens[i] * budget)
        for name, fn in timed.items():
            t0 = time.perf_counter()
            fn(data[i]["chunks"], data[i]["question"], cap, i)
            times[name].append((time.perf_counter() - t0) * 1000)
    latency = {
        name: {"median_ms": statistics.median(ts), "p90_ms": sorted(ts)[int(0.9 * (len(ts) - 1))]}
        for name, ts in times.items()
    }
    ref = latency["MiniLM sentence ranking (embedding only)"]["median_ms"]

    print(
        f"\nHotpotQA distractor dev: {len(data)} questions ({len(span_items)} with span answers scored; "
        f"{len(yn)} yes/no questions counted apart), counter {counter.name}, embedder {base.name}\n"
    )
    print("| method | budget | answer-in-context recall | kept fraction | tokens in → out |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['budget']:.0%} | {r['answer_recall']:.3f} | {r['kept']:.3f} | "
            f"{r['tokens_in']:.0f} → {r['tokens_out']:.0f} |"
        )
    print(
        f"\nCompression latency per question at {budget:.0%} kept, {len(sample)} questions, after warm-up, "
        "methods interleaved question by question:\n"
    )
    print("| method | median ms | p90 ms | median / MiniLM ranking |")
    print("|---|---:|---:|---:|")
    for name, lat in latency.items():
        print(f"| {name} | {lat['median_ms']:.1f} | {lat['p90_ms']:.1f} | {lat['median_ms'] / ref:.2f} |")
    rows.append({"latency": latency, "latency_sample": len(sample), "latency_budget": budget})
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
