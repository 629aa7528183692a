"""Micro-cases of the scale benchmark (issue 12 §2): one compressor alone on one input shape.

    python eval/bench_scale_micro.py fusion-2000     # RedundancyFusion, 2,000 sentences in chunks of 5
    python eval/bench_scale_micro.py fusion-4000
    python eval/bench_scale_micro.py onesent-20000   # RedundancyFusion, 20,000 one-sentence chunks
    python eval/bench_scale_micro.py reorder-1000    # LongContextReorder, 1,000 scored chunks, 50% budget

Real paragraphs from ``--data-dir`` (see ``bench_scale.paragraphs``), the default (real) embedder; prints
CPU seconds (model loading included) and peak RSS as one JSON line. Results: ``RESULTS_scale.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ctxcompress import Budget, Chunk, LongContextReorder, RedundancyFusion, split_sentences

import bench_scale


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=["fusion-2000", "fusion-4000", "onesent-20000", "reorder-1000"])
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    args = ap.parse_args()
    paras = bench_scale.paragraphs(Path(args.data_dir))
    sents = [s.text for p in paras for s in split_sentences(p["text"])]
    budget: Budget | None = None
    comp: RedundancyFusion | LongContextReorder
    if args.case.startswith("fusion-"):
        n = int(args.case.split("-")[1])
        chunks = [Chunk(" ".join(sents[i : i + 5]), id=f"c{i}") for i in range(0, n, 5)]
        comp = RedundancyFusion()
    elif args.case == "onesent-20000":
        chunks = [Chunk(sents[i], id=f"c{i}") for i in range(20000)]
        comp = RedundancyFusion()
    else:
        # retriever scores given: the reorder itself and its budget fill, no embedding
        chunks = [Chunk(paras[i]["text"], id=f"c{i}", score=1.0 - i / 1000) for i in range(1000)]
        comp = LongContextReorder(use_scores=True)
        budget = Budget(fraction=0.5)
    t = time.process_time()
    comp.compress(chunks, query="Which government position was held by the actress?", budget=budget)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": args.case, "cpu_s": round(time.process_time() - t, 2), "peak_rss_mb": round(peak)}))


if __name__ == "__main__":
    main()
