"""Query time of the default pipeline cold vs with a VectorStore on disk, ingestion throughput, store size.

On HotpotQA distractor dev (``hotpotqa_distractor_dev500``, the first ``--questions`` questions, 10
paragraphs each, titles as chunk metadata), budget 25%, the default pipeline and the default ONNX
MiniLM embedder. Every phase runs in a fresh Python process (nothing in memory from another phase):

1. ``index``: ``index_chunks`` of every question's paragraphs into a new float32 store (texts per
   CPU second and per wall second), sentence-transformers' all-MiniLM-L6-v2 ``encode`` on the same
   texts, the same vectors written to a float16 store, bytes per vector on disk, and the float16
   rounding effect on query-sentence cosines (1,000 sentences).
2. ``cold``: ``compress`` per question with the embedder's in-memory cache cleared before each one.
3. ``store`` / ``store32``: a new process opens the float16 / float32 store and compresses each
   question with ``store=``; the model load and the first call are timed apart; the texts the
   embedder saw beyond the queries are counted (0 expected).

Times are CPU seconds of the process (robust on a shared machine) and wall seconds. Then the
outputs are compared (cold vs float32 store vs float16 store) and one JSON line per phase
and a Markdown table are printed. Pin it to one core and one thread:

    OMP_NUM_THREADS=1 taskset -c 1 python eval/bench_store.py --questions 30 --out /tmp/bench_store
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA = Path(os.environ.get("CTXCOMPRESS_DATA", "/work/shared/data")) / "hotpotqa_distractor_dev500"
BUDGET = 0.25


def load_questions(n: int, data: Path = DATA) -> list[dict[str, Any]]:
    """The first ``n`` questions: ``{"id", "question", "chunks": [{"id", "text", "metadata": {"title"}}]}``."""
    path = next(data.glob("*.jsonl.gz"))
    out: list[dict[str, Any]] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            chunks = [
                {"id": f"{c['title']}#{i}", "text": c["paragraph_text"], "metadata": {"title": c["title"]}}
                for i, c in enumerate(r["contexts"])
            ]
            out.append({"id": r["question_id"], "question": r["question_text"], "chunks": chunks})
            if len(out) >= n:
                break
    return out


def _pct(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


class CountingEmbedder:
    """Counts the texts that reach the model (documents and queries apart)."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.doc_texts = 0
        self.query_texts = 0

    @property
    def name(self) -> str:
        return str(self.base.name)

    @property
    def identity(self) -> str:
        return str(self.base.identity)

    def encode(self, texts: Sequence[str]) -> Any:
        self.doc_texts += len(texts)
        return self.base.encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> Any:
        self.query_texts += len(texts)
        return self.base.encode_queries(texts)


def _pipeline(emb: Any) -> Any:
    """``default_pipeline()`` with ``emb`` as both steps' embedder."""
    from ctxcompress import Pipeline, RedundancyFusion, RelevanceFilter

    return Pipeline(
        [("fuse", RedundancyFusion(embedder=emb)), ("filter", RelevanceFilter(granularity="sentence", embedder=emb))]
    )


def phase_index(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from ctxcompress import OnnxEmbedder, VectorStore, index_chunks

    qs = load_questions(args.questions)
    out = Path(args.out)
    for name in ("store16.db", "store32.db"):
        for suffix in ("", "-wal", "-shm"):
            Path(str(out / name) + suffix).unlink(missing_ok=True)
    pipe = _pipeline(OnnxEmbedder(threads=1))  # the default pipeline, one ONNX Runtime thread
    pipe.warm_up()  # model load not counted in throughput
    chunks = [c for q in qs for c in q["chunks"]]
    # index_chunks into a float32 store (timed: wall and CPU seconds of this process)
    store32 = VectorStore(out / "store32.db", dtype="float32")
    t0, c0 = time.perf_counter(), time.process_time()
    rep = index_chunks(chunks, store32, compressor=pipe)
    index_s, index_cpu = time.perf_counter() - t0, time.process_time() - c0
    store32.checkpoint()
    info32 = store32.info()
    from ctxcompress._core.types import coerce_chunks

    texts: list[str] = []
    lists = pipe.embedding_texts(coerce_chunks(chunks))
    n_sentences = len(set(lists[0][1]))  # the fusion step's plain sentences
    for _, t in lists:
        texts.extend(t)
    texts = list(dict.fromkeys(texts))
    base = OnnxEmbedder()
    vecs, found = store32.get(base, texts)
    assert found.all()
    # the same vectors in a float16 store (written, not embedded again)
    store16 = VectorStore(out / "store16.db")
    store16.put(base, texts, vecs)
    store16.checkpoint()
    info16 = store16.info()
    # float16 rounding: query-sentence cosines on 1,000 sentences
    sample = vecs[:1000]
    qv = base.encode_queries([q["question"] for q in qs])
    half = sample.astype(np.float16).astype(np.float32)
    cos_diff = float(np.abs(half @ qv.T - sample @ qv.T).max())
    self_diff = float(np.abs(np.sum(half * sample, axis=1) - 1.0).max())
    row: dict[str, Any] = {
        "phase": "index",
        "questions": len(qs),
        "chunks": rep.chunks,
        "texts": len(texts),
        "sentences": n_sentences,
        "store16_bytes_per_sentence": round(info16.file_bytes / max(1, n_sentences), 1),
        "embedded": rep.embedded,
        "index_chunks_s": round(index_s, 3),
        "index_chunks_cpu_s": round(index_cpu, 3),
        "index_chunks_texts_per_cpu_s": round(rep.embedded / index_cpu, 1),
        "index_chunks_texts_per_wall_s": round(rep.embedded / index_s, 1),
        "store16_bytes": info16.file_bytes,
        "store16_bytes_per_vector": round(info16.file_bytes / max(1, info16.total_vectors), 1),
        "store32_bytes": info32.file_bytes,
        "store32_bytes_per_vector": round(info32.file_bytes / max(1, info32.total_vectors), 1),
        "float16_max_abs_cosine_diff": cos_diff,
        "float16_max_abs_self_cosine_diff": self_diff,
        "float16_sample_sentences": int(sample.shape[0]),
    }
    try:
        import torch
        from ctxcompress._backends.embedders import resolve_model_path
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        st = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
        st.encode(texts[:8])
        t0, c0 = time.perf_counter(), time.process_time()
        st.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
        row["st_encode_texts_per_wall_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
        row["st_encode_texts_per_cpu_s"] = round(len(texts) / (time.process_time() - c0), 1)
    except ImportError as exc:  # pragma: no cover - optional
        row["st_encode_texts_per_cpu_s"] = f"skipped: {exc}"
    return row


def phase_compress(args: argparse.Namespace) -> dict[str, Any]:
    from ctxcompress import VectorStore
    from ctxcompress._backends.embedders import OnnxEmbedder

    qs = load_questions(args.questions)
    t_start = time.perf_counter()
    emb = CountingEmbedder(OnnxEmbedder(threads=1))
    pipe = _pipeline(emb)
    store = None
    if args.phase in ("store", "store32"):
        store = VectorStore(Path(args.out) / ("store16.db" if args.phase == "store" else "store32.db"))
    emb.base.warm_up()
    load_s = time.perf_counter() - t_start
    times: list[float] = []
    cpu: list[float] = []
    texts: list[str] = []
    first_s = 0.0
    for i, q in enumerate(qs):
        t0, c0 = time.perf_counter(), time.process_time()
        res = pipe.compress(q["chunks"], query=q["question"], budget=BUDGET, store=store)
        dt = time.perf_counter() - t0
        cpu.append((time.process_time() - c0) * 1000)
        if i == 0:
            first_s = dt
        times.append(dt)
        texts.append(res.text)
    ms = [t * 1000 for t in times]
    return {
        "phase": args.phase,
        "questions": len(qs),
        "model_load_s": round(load_s, 3),
        "first_call_ms": round(first_s * 1000, 1),
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(_pct(ms, 0.9), 1),
        "median_cpu_ms": round(statistics.median(cpu), 1),
        "p90_cpu_ms": round(_pct(cpu, 0.9), 1),
        "doc_texts_embedded": emb.doc_texts,
        "query_texts_embedded": emb.query_texts,
        "texts": texts,
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=30)
    ap.add_argument("--out", default="/tmp/bench_store", help="folder for the store files")
    ap.add_argument("--phase", default="all", choices=("all", "index", "cold", "store", "store32"))
    args = ap.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.phase == "index":
        print(json.dumps(phase_index(args)))
        return 0
    if args.phase != "all":
        print(json.dumps(phase_compress(args)))
        return 0
    rows: dict[str, dict[str, Any]] = {}
    for phase in ("index", "cold", "store", "store32"):
        cmd = [sys.executable, __file__, "--phase", phase, "--questions", str(args.questions), "--out", args.out]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
        rows[phase] = json.loads(done.stdout.strip().splitlines()[-1])
        shown = {k: v for k, v in rows[phase].items() if k != "texts"}
        print(json.dumps(shown), flush=True)
    cold, s16, s32 = rows["cold"]["texts"], rows["store"]["texts"], rows["store32"]["texts"]
    same32 = sum(a == b for a, b in zip(cold, s32, strict=True))
    same16 = sum(a == b for a, b in zip(cold, s16, strict=True))
    ix = rows["index"]
    print()
    print(
        f"| path ({args.questions} questions, 1 core) | median CPU ms | p90 CPU ms | median wall ms "
        "| p90 wall ms | doc texts embedded |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for label, key in (
        ("default pipeline, cold (nothing cached)", "cold"),
        ("with the float16 store, fresh process", "store"),
        ("with the float32 store, fresh process", "store32"),
    ):
        r = rows[key]
        print(
            f"| {label} | {r['median_cpu_ms']} | {r['p90_cpu_ms']} | {r['median_ms']} | {r['p90_ms']} "
            f"| {r['doc_texts_embedded']} |"
        )
    print()
    print(f"same output as cold: float32 store {same32}/{len(cold)}, float16 store {same16}/{len(cold)}")
    print(
        f"ingestion per CPU second: index_chunks {ix['index_chunks_texts_per_cpu_s']} texts, "
        f"sentence-transformers encode {ix['st_encode_texts_per_cpu_s']} "
        f"({ix['texts']} texts from {ix['chunks']} paragraphs)"
    )
    print(
        f"bytes per sentence (plain + titled vector) {ix['store16_bytes_per_sentence']}; "
        f"bytes per vector on disk: float16 {ix['store16_bytes_per_vector']}, "
        f"float32 {ix['store32_bytes_per_vector']}; "
        f"float16 max |cos diff| {ix['float16_max_abs_cosine_diff']:.2e} on {ix['float16_sample_sentences']} sentences"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
