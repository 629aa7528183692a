"""Per-question latency of the default pipeline (cold and with a VectorStore) beside LangChain and LlamaIndex.

On HotpotQA distractor dev (the first ``--questions`` questions of ``hotpotqa_distractor_dev500``,
10 paragraphs each, titles as chunk metadata), budget 25%, every method on the same ONNX MiniLM
(``OnnxEmbedder(threads=T)``, one uncached instance per method), in ONE process per thread count,
the methods interleaved per question (their order rotated from one question to the next):

- ``cold``: ``ctxcompress.default_pipeline()`` with nothing precomputed (no embedding cache);
- ``cascade``: the same pipeline with the relevance step's cascade (``RelevanceFilter(cascade=2)``: only
  the cheap first pass's candidates embedded), to show what the cascade saves;
- ``store``: the default pipeline with ``store=`` a float16 ``VectorStore`` written by ``index_chunks``
  in an earlier process (this process starts with nothing in memory);
- ``langchain``: LangChain ``EmbeddingsFilter`` over 300-character chunks (the eval harness's peer
  ``langchain-embeddings-filter:chunks``);
- ``llamaindex``: LlamaIndex ``SentenceEmbeddingOptimizer`` (peer ``llamaindex-sentence-optimizer``).

Every method runs one untimed warm-up call (the first question) before the timed ones. Reported per
method: median and p90 of the CPU milliseconds of the process (``time.process_time``, the primary
figure on a shared machine; with 2 threads it adds both threads' time) and of the wall milliseconds,
and the ratio of the medians to LangChain's in the same run. Pin it and give each thread count its cores:

    OMP_NUM_THREADS=1 taskset -c 1 python eval/bench_cold.py --threads 1 --questions 30
    OMP_NUM_THREADS=1 taskset -c 0,1 python eval/bench_cold.py --threads 2 --questions 30 --skip-index

Results: ``eval/RESULTS_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import BUDGET, load_questions

METHODS = ("cold", "cascade", "store", "langchain", "llamaindex")


def _pct(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _default_with(emb: Any, *, cascade: float | None = None) -> Any:
    """``default_pipeline()`` with ``emb`` as every step's embedder (and the relevance step's ``cascade``)."""
    from ctxcompress import default_pipeline

    pipe = default_pipeline()
    for _, step in pipe.steps:
        step.set_params(embedder=emb)
        if cascade is not None and "cascade" in step.get_params(deep=False):
            step.set_params(cascade=cascade)
    return pipe


def phase_index(args: argparse.Namespace) -> None:
    from ctxcompress import OnnxEmbedder, VectorStore, index_chunks

    path = Path(args.out) / "store16.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    qs = load_questions(args.questions)
    store = VectorStore(path)
    index_chunks([c for q in qs for c in q["chunks"]], store, compressor=_default_with(OnnxEmbedder(threads=1)))
    store.checkpoint()


def _runners(args: argparse.Namespace, threads: int) -> dict[str, Callable[[dict[str, Any]], str]]:
    from ctxcompress import OnnxEmbedder, VectorStore
    from ctxcompress._backends.tokens.factory import get_counter

    from ctxcompress_eval._data import Passage
    from ctxcompress_eval._methods import MethodContext, build_method

    wanted = [m.strip() for m in args.methods.split(",") if m.strip()]
    out: dict[str, Callable[[dict[str, Any]], str]] = {}
    counter = get_counter(None)

    def pipeline_runner(pipe: Any, store: Any = None) -> Callable[[dict[str, Any]], str]:
        def run(q: dict[str, Any]) -> str:
            return str(pipe.compress(q["chunks"], query=q["question"], budget=BUDGET, store=store).text)

        return run

    def peer_runner(name: str) -> Callable[[dict[str, Any]], str]:
        method = build_method(name, MethodContext(counter=counter, embedder=OnnxEmbedder(threads=threads)))
        method.warm_up()

        def run(q: dict[str, Any]) -> str:
            ps = [Passage(c["id"], c["metadata"]["title"], c["text"]) for c in q["chunks"]]
            return str(method.compress(q["question"], ps, BUDGET).text)

        return run

    for m in wanted:
        if m == "cold":
            out[m] = pipeline_runner(_default_with(OnnxEmbedder(threads=threads)))
        elif m == "cascade":
            out[m] = pipeline_runner(_default_with(OnnxEmbedder(threads=threads), cascade=2))
        elif m == "store":
            store = VectorStore(Path(args.out) / "store16.db")
            out[m] = pipeline_runner(_default_with(OnnxEmbedder(threads=threads)), store)
        elif m == "langchain":
            out[m] = peer_runner("langchain-embeddings-filter:chunks")
        elif m == "llamaindex":
            out[m] = peer_runner("llamaindex-sentence-optimizer")
        else:
            raise SystemExit(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
    return out


def phase_run(args: argparse.Namespace, threads: int) -> dict[str, Any]:
    qs = load_questions(args.questions)
    runners = _runners(args, threads)
    names = list(runners)
    for name in names:  # warm-up: model loads, first-call costs
        runners[name](qs[0])
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for k, q in enumerate(qs):
        for j in range(len(names)):
            name = names[(k + j) % len(names)]
            c0, t0 = time.process_time(), time.perf_counter()
            runners[name](q)
            wall[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
    rows = {
        n: {
            "median_cpu_ms": round(statistics.median(cpu[n]), 1),
            "p90_cpu_ms": round(_pct(cpu[n], 0.9), 1),
            "median_wall_ms": round(statistics.median(wall[n]), 1),
            "p90_wall_ms": round(_pct(wall[n], 0.9), 1),
        }
        for n in names
    }
    return {"threads": threads, "questions": len(qs), "budget": BUDGET, "rows": rows}


LABELS = {
    "cold": "ctxcompress default pipeline, nothing precomputed",
    "cascade": "the same with RelevanceFilter(cascade=2)",
    "store": "ctxcompress with the float16 VectorStore (on disk, fresh process)",
    "langchain": "LangChain EmbeddingsFilter over 300-character chunks",
    "llamaindex": "LlamaIndex SentenceEmbeddingOptimizer",
}


def table(result: dict[str, Any]) -> str:
    rows = result["rows"]
    lc = rows.get("langchain")
    lines = [
        f"| path ({result['questions']} questions, {result['threads']} thread(s)) | median CPU ms | p90 CPU ms "
        "| median wall ms | p90 wall ms | CPU / LangChain | wall / LangChain |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in rows.items():
        rc = f"{r['median_cpu_ms'] / lc['median_cpu_ms']:.2f}" if lc else ""
        rw = f"{r['median_wall_ms'] / lc['median_wall_ms']:.2f}" if lc else ""
        lines.append(
            f"| {LABELS.get(n, n)} | {r['median_cpu_ms']} | {r['p90_cpu_ms']} | {r['median_wall_ms']} "
            f"| {r['p90_wall_ms']} | {rc} | {rw} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=30)
    ap.add_argument("--threads", default="1", help="ONNX Runtime threads, e.g. 1 or 1,2 (one process each)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--out", default="/tmp/bench_cold", help="folder for the store file")
    ap.add_argument("--skip-index", action="store_true", help="reuse the store written by an earlier run")
    ap.add_argument("--phase", default="all", choices=("all", "index", "run"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    threads = [int(t) for t in args.threads.split(",")]
    if args.phase == "index":
        phase_index(args)
        return 0
    if args.phase == "run":
        print(json.dumps(phase_run(args, threads[0])))
        return 0
    base = [sys.executable, __file__, "--questions", str(args.questions), "--out", args.out]
    if "store" in args.methods and not args.skip_index:
        subprocess.run([*base, "--phase", "index"], check=True, env=os.environ.copy())
    for t in threads:
        cmd = [*base, "--phase", "run", "--threads", str(t), "--methods", args.methods]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(result), flush=True)
        print()
        print(table(result), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
