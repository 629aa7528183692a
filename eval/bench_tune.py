"""``ctxcompress.tune`` on HotpotQA (issue 17 §1): tune on the train sample, apply to dev.

Tuning questions: ``hotpotqa-train`` (``hotpotqa_train100_hipporag``, the declared tuning set: the file holds 50
questions); reporting questions: the first ``--dev-limit`` of ``hotpotqa`` (distractor dev). Both
are written in the harness's JSON-lines format (titles as metadata) and read back by the library's
own reader, as a user's ``ctxcompress tune --dev`` would. The pipeline is the default (fuse +
hybrid sentence filter) unless ``--config``. On dev: the pipeline as given (no budget), at fixed
kept fractions of the whole pipeline, and tuned; answer-in-context recall and kept fraction (all
tokens out / all tokens in, o200k).

    python eval/bench_tune.py --data-dir ../shared/data --out-dir /tmp/tune [--embedder onnx]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctxcompress import Budget, CachedEmbedder, Pipeline, default_pipeline, get_embedder, load_config, tune
from ctxcompress._core.answers import answer_in_context
from ctxcompress._tune import DevQuestion, read_dev_set, write_pipeline

from ctxcompress_eval._datasets import load_dataset


def write_jsonl(questions: Sequence[Any], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for q in questions:
            rec = {
                "id": q.id,
                "question": q.question,
                "answers": list(q.answers),
                "contexts": [{"title": p.title, "text": p.text} for p in q.contexts],
                "label_answer": q.yes_no,
            }
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def evaluate(pipe: Any, qs: Sequence[DevQuestion], counter: str, budget: float | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    hits = tin = tout = 0
    for q in qs:
        res = pipe.compress(
            q.contexts, query=q.question, counter=counter, budget=None if budget is None else Budget(fraction=budget)
        )
        hits += answer_in_context(res.text, q.answers)
        tin += res.report.tokens_in
        tout += res.report.tokens_out
    return {"n": len(qs), "recall": hits / len(qs), "kept": tout / tin, "seconds": time.perf_counter() - t0}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--out-dir", default="/tmp/ctxcompress_tune")
    ap.add_argument("--config", default=None, help="pipeline file (default: the default pipeline)")
    ap.add_argument("--embedder", default=None, help="embedder spec for the default pipeline")
    ap.add_argument("--counter", default="o200k_base")
    ap.add_argument("--tolerance", type=float, default=0.02)
    ap.add_argument("--dev-limit", type=int, default=100)
    ap.add_argument("--stage", action="append", default=None, help="tune only this step (repeat; default: all)")
    ap.add_argument("--fixed", default="0.5,0.25", help="fixed whole-pipeline kept fractions to compare on dev")
    args = ap.parse_args(argv)

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_path, dev_path = out / "hotpotqa_train100.jsonl", out / "hotpotqa_dev.jsonl"
    write_jsonl(load_dataset("hotpotqa-train", data_dir=args.data_dir, split="tune"), train_path)
    write_jsonl(load_dataset("hotpotqa", data_dir=args.data_dir, limit=args.dev_limit), dev_path)

    if args.config:
        pipe: Any = load_config(args.config)
    else:
        pipe = default_pipeline()
        if args.embedder:
            pipe.set_params(**{f"{n}__embedder": args.embedder for n, s in pipe.steps if "embedder" in s.get_params()})
    result = tune(pipe, train_path, tolerance=args.tolerance, counter=args.counter, stages=args.stage)
    write_pipeline(result.pipeline, out / "tuned.json")
    (out / "tune_report.md").write_text(result.to_markdown(), encoding="utf-8")
    result.plot(out / "tune_plot.png")
    print(result.to_markdown())
    sys.stdout.flush()

    # apply to dev: one shared cached embedder for the comparison rows (same vectors for every row)
    dev = [q for q in read_dev_set(dev_path) if q.scored]
    tuned = Pipeline.from_dict(result.pipeline.to_dict())
    plain = Pipeline.from_dict(result.pipeline.to_dict())
    plain.set_params(budgets={})
    shared = CachedEmbedder(get_embedder(args.embedder))
    for p in (tuned, plain):
        for n, s in p.steps:
            if "embedder" in s.get_params():
                p.set_params(**{f"{n}__embedder": shared})
    rows: dict[str, Any] = {"as given (no budget)": evaluate(plain, dev, args.counter, None)}
    for f in (float(x) for x in args.fixed.split(",") if x.strip()):
        rows[f"fixed budget {f:g}"] = evaluate(plain, dev, args.counter, f)
    rows[f"tuned {json.dumps(result.budgets)}"] = evaluate(tuned, dev, args.counter, None)
    baseline = sum(answer_in_context("\n\n".join(c.text for c in q.contexts), q.answers) for q in dev) / len(dev)
    print(f"\n## dev ({len(dev)} questions with span answers; uncompressed recall {baseline:.3f})\n")
    print("| pipeline | kept fraction | answer-in-context recall | seconds |")
    print("|---|---|---|---|")
    for label, r in rows.items():
        print(f"| {label} | {r['kept']:.3f} | {r['recall']:.3f} | {r['seconds']:.0f} |")
    summary = {"tune": result.to_dict(), "dev_baseline": baseline, "dev": rows}
    (out / "bench_tune.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
