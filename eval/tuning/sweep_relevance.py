"""Grid search of the hybrid RelevanceFilter weights (answer-in-context recall at a kept fraction).

    python eval/tuning/sweep_relevance.py train '{"bridge": [0.25, 0.5], "lead": [0.05, 0.15]}'
    python eval/tuning/sweep_relevance.py dev '{"bridge": [0.5]}'

``train`` is ``hotpotqa_train100_hipporag`` (the sample the defaults were chosen on), ``dev`` is
``hotpotqa_distractor_dev500`` (the benchmark). Yes/no questions are left out.
"""

from __future__ import annotations

import gzip
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from ctxcompress import Budget, CachedEmbedder, Chunk, HybridWeights, RelevanceFilter, get_counter
from ctxcompress._backends.embedders import get_embedder
from ctxcompress._core.answers import answer_in_context as answer_in

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def load_train() -> list[tuple[str, list[str], list[Chunk]]]:
    out = []
    with gzip.open(DATA / "hotpotqa_train100_hipporag" / "hotpotqa_train100.dev.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            if r["answer"].lower() in ("yes", "no"):
                continue
            chunks = [
                Chunk("".join(s).strip(), id=str(i), metadata={"title": t}) for i, (t, s) in enumerate(r["context"])
            ]
            out.append((r["question"], [r["answer"]], chunks))
    return out


def load_dev() -> list[tuple[str, list[str], list[Chunk]]]:
    out = []
    with gzip.open(DATA / "hotpotqa_distractor_dev500" / "hotpotqa_dev_subsampled.dev.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            answers = [s for a in r["answers_objects"] for s in a["spans"]]
            if {a.lower() for a in answers} <= {"yes", "no"}:
                continue
            chunks = [Chunk(c["paragraph_text"], id=c["id"], metadata={"title": c["title"]}) for c in r["contexts"]]
            out.append((r["question_text"], answers, chunks))
    return out


def main() -> None:
    data = load_train() if sys.argv[1] == "train" else load_dev()
    grid: dict[str, list[Any]] = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    budget = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
    counter = get_counter("o200k_base")
    emb = CachedEmbedder(get_embedder("onnx"))
    base = HybridWeights().to_dict()
    f = RelevanceFilter(embedder=emb)

    def run(weights: dict[str, Any], scorer: str = "hybrid") -> float:
        f.set_params(scorer=scorer, weights=HybridWeights(**weights))
        hits = sum(
            answer_in(f.compress(ch, query=q, budget=Budget(fraction=budget), counter=counter).text, a)
            for q, a, ch in data
        )
        return hits / len(data)

    print(len(data), "questions; embedding", run(base, "embedding"), "bm25", run(base, "bm25"), flush=True)
    print("defaults", base, run(base), flush=True)
    for values in itertools.product(*grid.values()):
        change = dict(zip(grid, values, strict=True))
        print(change, round(run({**base, **change}), 3), flush=True)


if __name__ == "__main__":
    main()
