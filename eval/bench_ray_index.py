"""Indexing on Ray with 1 vs 2 workers, beside ``index_chunks`` in one process.

The paragraphs of the first ``--questions`` HotpotQA distractor dev questions (titles as metadata) are
written as a JSON-lines corpus, then indexed into a new float16 store for each run:

- ``local``: ``ctxcompress.index_chunks`` in this process (no Ray);
- ``ray-data`` (when ``ray[data]`` imports): ``ctxcompress.distributed.index_dataset`` on a local Ray
  cluster of ``w`` CPUs, ``w`` in ``--workers``;
- ``ray-core`` (when only ``ray`` imports): a stand-in that runs the very worker and driver steps of
  ``index_dataset`` (``embed_batch`` in ``w`` Ray actors, ``write_rows`` on the driver) through
  ``ray.util.ActorPool`` instead of Ray Data, so that the scaling can be measured where Ray Data's
  pandas/pyarrow are missing.

Each Ray worker loads the model and embeds one text before the clock starts. Reported: wall seconds,
CPU seconds of the driver and of the workers (``getrusage`` of each actor's process), texts embedded
per wall second and per CPU second, and the 1-minute load average before the run (the machine is
shared). One JSON line per run, then a Markdown table:

    OMP_NUM_THREADS=1 nice taskset -c 0,1 python eval/bench_ray_index.py --questions 45 --out /tmp/bench_ray
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ctxcompress import VectorStore, default_pipeline, index_chunks
from ctxcompress._core.segment import split_sentences
from ctxcompress._core.types import coerce_chunks

from bench_store import load_questions


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Worker:
    """The Ray-core stand-in's actor: ``embed_batch`` with the compressor built from its config."""

    def __init__(self, config: dict[str, Any]) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from ctxcompress.distributed import _compressor

        self.compressor = _compressor(config)
        from ctxcompress.distributed import embed_batch

        embed_batch(self.compressor, coerce_chunks(["Warm-up sentence."]))  # load the model, untimed
        self.cpu0 = _cpu()

    def run(self, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        from ctxcompress.distributed import embed_batch

        return embed_batch(self.compressor, coerce_chunks(chunks))

    def cpu(self) -> float:
        return _cpu() - self.cpu0


def run_local(chunks: list[dict[str, Any]], store: Path) -> dict[str, Any]:
    pipe = default_pipeline()
    index_chunks(["Warm-up sentence."], store.with_suffix(".warm.db"), compressor=pipe)
    cpu0, t0 = _cpu(), time.perf_counter()
    report = index_chunks(chunks, store, compressor=pipe)
    return {"wall": time.perf_counter() - t0, "cpu_driver": _cpu() - cpu0, "cpu_workers": 0.0, "new": report.embedded}


def run_ray_core(chunks: list[dict[str, Any]], store: Path, workers: int, batch: int) -> dict[str, Any]:
    import ray
    from ctxcompress.distributed import write_rows
    from ray.util import ActorPool

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        config = default_pipeline().to_dict()
        actors = [ray.remote(num_cpus=1)(_Worker).remote(config) for _ in range(workers)]
        ray.get([a.cpu.remote() for a in actors])  # every actor built and warm
        vs = VectorStore(store)
        cpu0, t0 = _cpu(), time.perf_counter()
        parts = [chunks[s : s + batch] for s in range(0, len(chunks), batch)]
        new = 0
        for rows in ActorPool(actors).map_unordered(lambda a, p: a.run.remote(p), parts):
            new += write_rows(vs, rows)
        wall = time.perf_counter() - t0
        cpu_driver = _cpu() - cpu0
        cpu_workers = sum(ray.get([a.cpu.remote() for a in actors]))
    finally:
        ray.shutdown()
    return {"wall": wall, "cpu_driver": cpu_driver, "cpu_workers": cpu_workers, "new": new}


def run_ray_data(corpus: Path, store: Path, workers: int, batch: int) -> dict[str, Any]:
    from ctxcompress.distributed import index_dataset

    cpu0, t0 = _cpu(), time.perf_counter()
    report = index_dataset(str(corpus), store, workers=workers, batch_chunks=batch)
    # worker CPU is not collected here: Ray Data's actors are not ours to ask
    return {"wall": time.perf_counter() - t0, "cpu_driver": _cpu() - cpu0, "cpu_workers": None, "new": report.new}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=45)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=32, help="chunks per worker batch")
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_ray"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    chunks = [{**c, "id": f"{q['id']}:{i}"} for q in load_questions(args.questions) for i, c in enumerate(q["chunks"])]
    corpus = args.out / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in chunks), encoding="utf-8")
    sentences = len({s for c in chunks for s in (x.text for x in split_sentences(c["text"]))})
    texts = sum(len(t) for _, t in default_pipeline().embedding_texts(coerce_chunks(chunks)))
    engine = (
        "ray-data"
        if importlib.util.find_spec("pandas") and importlib.util.find_spec("pyarrow")
        else "ray-core"
        if importlib.util.find_spec("ray")
        else None
    )
    plan: list[tuple[str, int]] = ([] if args.no_local else [("local", 1)]) + [(engine or "", w) for w in args.workers]
    rows = []
    for name, w in plan:
        if not name:
            print("ray is not installed: only the local run", file=sys.stderr)
            continue
        store = args.out / f"{name}-{w}.db"
        for p in (store, Path(f"{store}-wal"), Path(f"{store}-shm")):
            p.unlink(missing_ok=True)
        load = os.getloadavg()[0]
        if name == "local":
            r = run_local(chunks, store)
        elif name == "ray-core":
            r = run_ray_core(chunks, store, w, args.batch)
        else:
            r = run_ray_data(corpus, store, w, args.batch)
        cpu = r["cpu_driver"] + (r["cpu_workers"] or 0.0)
        row = {
            "engine": name,
            "workers": w,
            "chunks": len(chunks),
            "sentences": sentences,
            "texts": texts,
            "new": r["new"],
            "wall_s": round(r["wall"], 2),
            "cpu_driver_s": round(r["cpu_driver"], 2),
            "cpu_workers_s": None if r["cpu_workers"] is None else round(r["cpu_workers"], 2),
            "texts_per_wall_s": round(texts / r["wall"], 1),
            "texts_per_cpu_s": round(texts / cpu, 1) if r["cpu_workers"] is not None or name == "local" else None,
            "load_1min_before": round(load, 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| engine | workers | wall s | CPU s (driver + workers) | texts / wall s | texts / CPU s | load before |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        workers_cpu = "" if r["cpu_workers_s"] is None else f" + {r['cpu_workers_s']}"
        print(
            f"| {r['engine']} | {r['workers']} | {r['wall_s']} | {r['cpu_driver_s']}{workers_cpu} | "
            f"{r['texts_per_wall_s']} | {r['texts_per_cpu_s']} | {r['load_1min_before']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
