"""The run loop: datasets x methods x budgets x questions, a resumable record store, local or Ray engine.

Per question and method x budget the runner times ``method.compress`` (after one untimed warm-up call
per method and process), measures memory, computes the per-question metrics and appends one JSON line
to ``<records>/<dataset>/<method>@<budget>.jsonl``. A run that is interrupted continues where it
stopped: questions already in the store are not run again. Each store has a ``.meta.json`` fingerprint
(method settings, counter, embedder, seed); a store made with other settings is an error unless
``fresh=True`` discards it.

Memory (``memory=``):

- ``"rss"`` (default): the peak resident set size of the process during the call minus the RSS when
  the call started, sampled every 2 ms by a background thread (``/proc/self/statm``). It sees native
  allocations (torch, ONNX Runtime, numpy) but not memory the allocator reuses, so a warmed-up method
  often shows ~0: it is *new memory taken from the OS*.
- ``"tracemalloc"``: the peak of Python-traced allocations during the call (numpy included, torch's
  native tensors not); tracing slows the call, so latency figures are inflated in this mode.
- ``"off"``.

With ``workers > 1`` calls overlap, so latency and memory figures include contention.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import _metrics as M
from ._data import (
    DATASETS,
    SPLITS,
    TITLES,
    Question,
    dataset_key,
    load_dataset,
    parse_dataset_spec,
    render,
)
from ._methods import Method, MethodContext, build_method, expand_method_names
from ._reader import PROMPT, make_reader

__all__ = ["RunConfig", "execute", "make_context", "make_record", "run"]

HARNESS_VERSION = "1"
BUDGET_FREE = frozenset({"none"})


@dataclass
class RunConfig:
    """Everything a run needs; the CLI builds one from its arguments."""

    datasets: list[str]
    methods: list[str]
    budgets: list[float]
    out: Path
    data_dir: str = "../shared/data"
    records: Path | None = None
    limit: int | None = None
    counter: str = "o200k_base"
    embedder: str = "st"
    seed: int = 0
    workers: int = 1
    engine: str = "local"
    retrieval_k: list[int] = field(default_factory=lambda: [10])
    reader: str | None = None
    memory: str = "rss"
    fresh: bool = False
    progress: bool = True
    lingua_model: str | None = None
    threads: int = 1
    embed_cache: bool = False
    rescore: bool = False
    sample: int | None = None
    titles: str = "metadata"
    split: str = "report"
    command: str = ""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.records is not None:
            self.records = Path(self.records)
        for b in self.budgets:
            if not 0.0 < b <= 1.0:
                raise ValueError(f"budgets are kept fractions in (0, 1]; got {b}")
        if self.engine not in ("local", "ray"):
            raise ValueError("engine must be 'local' or 'ray'")
        if self.memory not in ("rss", "tracemalloc", "off"):
            raise ValueError("memory must be 'rss', 'tracemalloc' or 'off'")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.threads < 1:
            raise ValueError("threads must be >= 1")
        if self.titles not in TITLES:
            raise ValueError(f"titles must be one of {', '.join(TITLES)}; got {self.titles!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {self.split!r}")

    @property
    def record_dir(self) -> Path:
        return self.records if self.records is not None else self.out / "records"

    def settings(self) -> dict[str, Any]:
        """What an actor needs to rebuild the methods (picklable)."""
        return {
            "counter": self.counter,
            "embedder": self.embedder,
            "seed": self.seed,
            "memory": self.memory,
            "threads": self.threads,
            "embed_cache": self.embed_cache,
            "options": {"lingua_model": self.lingua_model},
        }


# --------------------------------------------------------------------------- context
def make_embedder(spec: str, *, threads: int | None = None, cache: bool = False) -> Any:
    """``fake`` → ``ctxcompress.testing.FakeEmbedder``; anything else → ``ctxcompress.get_embedder(spec)``.

    ``onnx`` gets an ONNX Runtime session with ``threads`` threads. ``cache=True`` wraps the embedder in
    ``ctxcompress.CachedEmbedder``, shared by every method and budget of the process: each distinct text
    is embedded once (quality figures are unchanged; latency then leaves out repeated embeddings).
    """
    import ctxcompress

    emb: Any
    if spec == "fake":
        from ctxcompress.testing import FakeEmbedder

        emb = FakeEmbedder()
    elif spec == "onnx":
        emb = ctxcompress.OnnxEmbedder(threads=threads)
    else:
        emb = ctxcompress.get_embedder(None if spec in ("", "default") else spec)
    return ctxcompress.CachedEmbedder(emb, max_entries=2_000_000) if cache else emb


def set_threads(threads: int) -> None:
    """Limit torch's intra-op threads (the embedders, SmolLM2) to ``threads``, when torch is installed.

    On a busy machine one thread per process wastes far less CPU in OpenMP spin-waits than two.
    """
    import importlib.util

    os.environ["OMP_NUM_THREADS"] = str(threads)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)


def make_context(settings: dict[str, Any]) -> MethodContext:
    import ctxcompress

    threads = int(settings.get("threads") or 1)
    set_threads(threads)
    return MethodContext(
        counter=ctxcompress.get_counter(settings["counter"]),
        embedder=make_embedder(settings["embedder"], threads=threads, cache=bool(settings.get("embed_cache"))),
        seed=int(settings["seed"]),
        options=dict(settings.get("options") or {}),
    )


# --------------------------------------------------------------------------- memory
def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


class _RssPeak:
    """Samples the process RSS every ``interval`` seconds while active; ``delta`` = peak - start."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _RssPeak:
        self.start = self.peak = _rss_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def delta(self) -> int:
        return max(0, self.peak - self.start)


_TRACE_LOCK = threading.Lock()


def execute(method: Method, question: Question, budget: float, memory: str = "rss") -> dict[str, Any]:
    """Run one timed ``compress`` call; returns text, kept ids, meta, ms, memory bytes and any error.

    A method that raises gets an empty output (it kept nothing) and the error is recorded, so every
    method is scored on the same questions.
    """
    text: str = ""
    kept: Sequence[str] | None = None
    meta: dict[str, Any] = {}
    error: str | None = None
    mem: int | None = None
    t0 = 0.0
    ms = 0.0
    try:
        if memory == "tracemalloc":
            with _TRACE_LOCK:
                if not tracemalloc.is_tracing():
                    tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            t0 = time.perf_counter()
            text, kept, meta = method.compress(question.question, question.contexts, budget)
            ms = (time.perf_counter() - t0) * 1000
            mem = max(0, tracemalloc.get_traced_memory()[1] - base)
        elif memory == "rss":
            with _RssPeak() as probe:
                t0 = time.perf_counter()
                text, kept, meta = method.compress(question.question, question.contexts, budget)
                ms = (time.perf_counter() - t0) * 1000
            mem = probe.delta
        else:
            t0 = time.perf_counter()
            text, kept, meta = method.compress(question.question, question.contexts, budget)
            ms = (time.perf_counter() - t0) * 1000
    except Exception as exc:  # a peer failing on one question must not stop the run: recorded, scored as empty
        ms = (time.perf_counter() - t0) * 1000 if t0 else 0.0
        text, kept, meta, error = "", None, {}, f"{type(exc).__name__}: {exc}"
    return {
        "text": text,
        "kept": None if kept is None else list(kept),
        "meta": dict(meta),
        "ms": ms,
        "mem_bytes": mem,
        "error": error,
    }


def make_record(
    question: Question,
    raw: dict[str, Any],
    ctx: MethodContext,
    budget: float,
    reader: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Per-question metrics of one compressed output (see ``_metrics`` for the definitions)."""
    full = render(question.contexts)
    tokens_in = ctx.count(full)
    text = raw["text"]
    tokens_out = ctx.count(text)
    cap = int(budget * tokens_in + 1e-9)
    sup_kept, sup_total = M.supporting_kept(text, question.contexts)
    vchars, tchars = M.verbatim_rate(text, [p.text for p in question.contexts])
    rec: dict[str, Any] = {
        "id": question.id,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cap": cap,
        "kept_fraction": tokens_out / tokens_in if tokens_in else 1.0,
        "over_budget": tokens_out > cap,
        "yes_no": question.yes_no,
        "answer_in_context": None if question.yes_no else M.answer_in_context(text, question.answers),
        "support_kept": sup_kept,
        "support_total": sup_total,
        "verbatim_chars": vchars,
        "total_chars": tchars,
        "ms": raw["ms"],
        "mem_bytes": raw["mem_bytes"],
        "gold_retrieved": question.meta.get("gold_retrieved"),
        "kept_ids": raw["kept"],
        "error": raw["error"],
        "meta": raw["meta"],
        "text": text,
    }
    if reader is not None:
        prediction = reader(PROMPT.format(context=text, question=question.question))
        rec.update(
            {
                "prediction": prediction,
                "em": M.exact_match(prediction, question.answers),
                "f1": M.f1_score(prediction, question.answers),
                "substring": M.substring_match(prediction, question.answers),
            }
        )
    return rec


# --------------------------------------------------------------------------- the record store
def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@=+-]+", "_", name)


def _store_folder(dataset: str, titles: str) -> str:
    """``hotpotqa`` for the default titles setting, ``hotpotqa+titles=text`` for the others."""
    return _slug(dataset if titles == "metadata" else f"{dataset}+titles={titles}")


class RecordStore:
    """JSON lines of per-question records for one dataset x method x budget, with a fingerprint."""

    def __init__(self, folder: Path, method: str, budget: float, fingerprint: dict[str, Any], *, fresh: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{_slug(method)}@{budget:g}"
        self.path = folder / f"{stem}.jsonl"
        self.meta_path = folder / f"{stem}.meta.json"
        self._lock = threading.Lock()
        fp = json.loads(json.dumps(fingerprint, default=str))
        if fresh:
            self.path.unlink(missing_ok=True)
            self.meta_path.unlink(missing_ok=True)
        if self.meta_path.is_file():
            stored = json.loads(self.meta_path.read_text(encoding="utf-8"))
            if stored != fp:
                raise RuntimeError(
                    f"{self.path} holds records made with other settings ({_diff(stored, fp)}); "
                    "rerun with --fresh to discard them, or use another --out/--records folder"
                )
        else:
            self.meta_path.write_text(json.dumps(fp, indent=2, sort_keys=True), encoding="utf-8")
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            good: list[str] = []
            damaged = False
            with self.path.open("r", encoding="utf-8") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except json.JSONDecodeError:
                        damaged = True  # a line cut by an interruption: that question runs again
                        continue
                    if not line.endswith("\n"):
                        damaged = True
                    good.append(json.dumps(r, ensure_ascii=False))
                    self.records[str(r["id"])] = r
            if damaged:  # rewrite without the cut line, so that appends start on a fresh line
                self.path.write_text("".join(g + "\n" for g in good), encoding="utf-8")

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the store's content (used to rescore records with the current metric definitions)."""
        with self._lock:
            recs = list(records)
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
            tmp.replace(self.path)
            self.records = {str(r["id"]): r for r in recs}

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                f.flush()
            self.records[str(record["id"])] = record


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys)[:400]


# --------------------------------------------------------------------------- engines
Task = tuple[str, str, float, Question]  # dataset key, method name, budget, question


class _Local:
    """Runs tasks in this process: sequentially, or on ``workers`` threads for thread-safe methods."""

    def __init__(self, methods: dict[str, Method], memory: str, workers: int) -> None:
        self.methods = methods
        self.memory = memory
        self.workers = workers
        self._warm: set[str] = set()
        self._locks = {name: threading.Lock() for name in methods}

    def _warm_up(self, name: str, q: Question, budget: float) -> None:
        if name not in self._warm:
            m = self.methods[name]
            m.warm_up()
            # untimed: caches, lazy imports, first-call costs; a failure shows in the timed call's record
            with contextlib.suppress(Exception):
                m.compress(q.question, q.contexts[:2], budget)  # a small input: loads models, not a full question
            self._warm.add(name)

    def _one(self, task: Task) -> tuple[Task, dict[str, Any]]:
        _, name, budget, q = task
        m = self.methods[name]
        if m.thread_safe:
            return task, execute(m, q, budget, self.memory)
        with self._locks[name]:
            return task, execute(m, q, budget, self.memory)

    def run(self, tasks: Sequence[Task], on_result: Callable[[Task, dict[str, Any]], None]) -> None:
        # group by method so each model stays hot; warm each method once, untimed
        groups: dict[str, list[Task]] = {}
        for t in tasks:
            groups.setdefault(t[1], []).append(t)
        for name, group in groups.items():
            self._warm_up(name, group[0][3], group[0][2])
            if self.workers > 1 and self.methods[name].thread_safe:
                with ThreadPoolExecutor(self.workers) as pool:
                    for task, raw in pool.map(self._one, group):
                        on_result(task, raw)
            else:
                for task in group:
                    on_result(*self._one(task))


class _RayWorker:
    """A Ray actor: builds methods by name on first use (warmed, untimed), then runs tasks."""

    def __init__(self, settings: dict[str, Any]) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.settings = settings
        self.ctx = make_context(settings)
        self.methods: dict[str, Method] = {}

    def run(self, task: Task) -> tuple[Task, dict[str, Any]]:
        _, name, budget, q = task
        if name not in self.methods:
            m = build_method(name, self.ctx)
            m.warm_up()
            with contextlib.suppress(Exception):
                m.compress(q.question, q.contexts[:2], budget)
            self.methods[name] = m
        return task, execute(self.methods[name], q, budget, self.settings["memory"])


def _run_ray(
    tasks: Sequence[Task], settings: dict[str, Any], workers: int, on_result: Callable[[Task, dict[str, Any]], None]
) -> None:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise ImportError("--engine ray needs ray: pip install 'ctxcompress-eval[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}},
        )
    try:
        actor_cls: Any = ray.remote(num_cpus=1)(_RayWorker)
        actors = [actor_cls.remote(settings) for _ in range(workers)]
        pool = ActorPool(actors)
        for task, raw in pool.map_unordered(lambda a, t: a.run.remote(t), list(tasks)):
            on_result(task, raw)
        for a in actors:
            ray.kill(a)
    finally:
        if started:
            ray.shutdown()


# --------------------------------------------------------------------------- the run
def _progress(total: int, enabled: bool) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, disable=not enabled, unit="q", dynamic_ncols=True, file=sys.stderr)


def _dataset_specs(cfg: RunConfig) -> list[str]:
    """Expand ``nq`` into ``nq@10``, ``nq@20`` for every ``--retrieval-k``; other specs as given."""
    out: list[str] = []
    for spec in cfg.datasets:
        name, _ = parse_dataset_spec(spec)
        ds = DATASETS.get(name)
        if ds is not None and ds.corpus is not None and "@" not in spec:
            out.extend(f"{name}@{k}" for k in cfg.retrieval_k)
        else:
            out.append(spec)
    return out


def run(cfg: RunConfig, *, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the evaluation and write ``results.json``, ``results.csv``, ``report.md``, ``report.html``."""
    from . import _report

    say = log or (lambda s: print(s, file=sys.stderr))
    settings = cfg.settings()
    ctx = make_context(settings)
    names = expand_method_names(cfg.methods)
    methods = {n: build_method(n, ctx) for n in names}
    reader = make_reader(cfg.reader)
    cache_dir = cfg.record_dir / "_cache"

    datasets: dict[str, list[Question]] = {}
    for spec in _dataset_specs(cfg):
        key = dataset_key(spec)
        t0 = time.perf_counter()
        datasets[key] = load_dataset(
            spec,
            data_dir=cfg.data_dir,
            limit=None if cfg.sample else cfg.limit,
            default_k=cfg.retrieval_k[0],
            embedder=ctx.embedder,
            cache_dir=cache_dir,
            seed=cfg.seed,
            titles=cfg.titles,
            split=cfg.split,
        )
        if cfg.sample:
            datasets[key] = sample_questions(datasets[key], cfg.sample, cfg.seed)
        say(f"{key}: {len(datasets[key])} questions loaded in {time.perf_counter() - t0:.1f}s")

    stores: dict[tuple[str, str, float], RecordStore] = {}
    tasks: list[Task] = []
    for key, questions in datasets.items():
        for name, m in methods.items():
            for budget in [1.0] if name in BUDGET_FREE else cfg.budgets:
                fp = {
                    "harness": HARNESS_VERSION,
                    "dataset": key,
                    "budget": budget,
                    "counter": getattr(ctx.counter, "name", str(cfg.counter)),
                    "embedder": getattr(ctx.embedder, "name", cfg.embedder),
                    "embed_cache": cfg.embed_cache,
                    "seed": cfg.seed,
                    "method": m.describe(),
                    "reader": cfg.reader,
                }
                if cfg.titles != "metadata":  # its own fingerprint and folder: settings never mix
                    fp["titles"] = cfg.titles
                store = RecordStore(cfg.record_dir / _store_folder(key, cfg.titles), name, budget, fp, fresh=cfg.fresh)
                stores[(key, name, budget)] = store
                tasks.extend((key, name, budget, q) for q in questions if q.id not in store.records)
    if cfg.rescore:  # recompute per-question metrics of cached records from their stored text
        reader_keys = ("prediction", "em", "f1", "substring")
        for (key, _, budget), store in stores.items():
            qs = {q.id: q for q in datasets[key]}
            fresh = []
            for rid, old in store.records.items():
                if rid not in qs:
                    fresh.append(old)
                    continue
                raw = {k: old.get(k) for k in ("text", "meta", "ms", "mem_bytes", "error")}
                raw["kept"] = old.get("kept_ids")
                rec = make_record(qs[rid], raw, ctx, budget)
                rec.update({k: old[k] for k in reader_keys if k in old})
                fresh.append(rec)
            store.rewrite(fresh)
        say("rescored the cached records with the current metric definitions")
    done_before = sum(len(s.records) for s in stores.values())
    say(f"{len(tasks)} question runs to do ({done_before} already in {cfg.record_dir})")

    bar = _progress(len(tasks), cfg.progress)

    def on_result(task: Task, raw: dict[str, Any]) -> None:
        key, name, budget, q = task
        stores[(key, name, budget)].append(make_record(q, raw, ctx, budget, reader))
        if bar is not None:
            bar.set_postfix_str(f"{key} {name} @{budget:g}", refresh=False)
            bar.update(1)

    try:
        if tasks:
            if cfg.engine == "ray":
                _run_ray(tasks, settings, cfg.workers, on_result)
            else:
                _Local(methods, cfg.memory, cfg.workers).run(tasks, on_result)
    finally:
        if bar is not None:
            bar.close()

    rows = []
    for (key, name, budget), store in stores.items():
        ids = [q.id for q in datasets[key]]
        recs = [store.records[i] for i in ids if i in store.records]
        rows.append(
            aggregate(recs, dataset=key, method=name, budget=budget, has_reader=reader is not None, seed=cfg.seed)
        )
    results = {
        "harness": _harness_info(cfg, ctx),
        "datasets": {key: _dataset_info(key, qs, cfg.split) for key, qs in datasets.items()},
        "methods": {
            n: {"description": m.describe(), "notes": m.notes, "extractive": m.extractive} for n, m in methods.items()
        },
        "results": rows,
    }
    _report.write_all(results, cfg.out)
    say(f"wrote {cfg.out / 'results.json'}, results.csv, report.md, report.html")
    return results


def sample_questions(questions: Sequence[Question], n: int, seed: int = 0) -> list[Question]:
    """A seeded random sample of ``n`` questions, kept in file order (stable: a larger ``n`` adds questions).

    Files are often ordered by question type (HotpotQA's IRCoT file puts comparison and yes/no questions
    last), so the first N questions are not a representative subset; a sample is.
    """
    from ._data import stable_seed

    chosen = set(sorted(range(len(questions)), key=lambda i: stable_seed(seed, "sample", questions[i].id))[:n])
    return [q for i, q in enumerate(questions) if i in chosen]


def aggregate(
    recs: Sequence[dict[str, Any]],
    *,
    dataset: str,
    method: str,
    budget: float,
    has_reader: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """One result row (method x budget on a dataset) from per-question records.

    Each recall gets a seeded bootstrap 95% interval over the questions (``<key>_lo``, ``<key>_hi``;
    ``_metrics.bootstrap_ci``).
    """
    n = len(recs)
    tin = [r["tokens_in"] for r in recs]
    tout = [r["tokens_out"] for r in recs]
    span = [r for r in recs if not r["yes_no"]]
    sup = [r for r in recs if r["support_total"] > 0]
    ms = [float(r["ms"]) for r in recs]
    mem = [r["mem_bytes"] / 2**20 for r in recs if r.get("mem_bytes") is not None]
    gold = [r["gold_retrieved"] for r in recs if r.get("gold_retrieved") is not None]
    vt = [r for r in recs if r["total_chars"] > 0]
    answer = [float(r["answer_in_context"]) for r in span]
    support = [r["support_kept"] / r["support_total"] for r in sup]
    support_all = [float(r["support_kept"] == r["support_total"]) for r in sup]
    row: dict[str, Any] = {
        "dataset": dataset,
        "method": method,
        "budget": budget,
        "n": n,
        "n_errors": sum(1 for r in recs if r.get("error")),
        "n_yes_no": n - len(span),
        "n_answer": len(span),
        "tokens_in": M.mean(tin),
        "tokens_out": M.mean(tout),
        "kept_fraction": M.mean(r["kept_fraction"] for r in recs),
        "kept_fraction_total": (sum(tout) / sum(tin)) if sum(tin) else None,
        "ratio": (sum(tin) / sum(tout)) if sum(tout) else None,
        "over_budget": sum(1 for r in recs if r["over_budget"]),
        "answer_recall": M.mean(answer),
        "n_support": len(sup),
        "support_recall": M.mean(support),
        "support_all": M.mean(support_all),
        "verbatim_rate": (sum(r["verbatim_chars"] for r in vt) / sum(r["total_chars"] for r in vt)) if vt else None,
        "latency_median_ms": M.percentile(ms, 50),
        "latency_p90_ms": M.percentile(ms, 90),
        "latency_mean_ms": M.mean(ms),
        "mem_median_mb": M.percentile(mem, 50),
        "mem_max_mb": max(mem) if mem else None,
        "gold_in_context": M.mean(float(g) for g in gold),
    }
    for key, values in (("answer_recall", answer), ("support_recall", support), ("support_all", support_all)):
        ci = M.bootstrap_ci(values, seed=seed)
        row[f"{key}_lo"], row[f"{key}_hi"] = ci if ci is not None else (None, None)
    if has_reader:
        row.update(
            {
                "reader_em": M.mean(float(r["em"]) for r in recs if "em" in r),
                "reader_f1": M.mean(float(r["f1"]) for r in recs if "f1" in r),
                "reader_substring": M.mean(float(r["substring"]) for r in recs if "substring" in r),
            }
        )
    return row


def _dataset_info(key: str, questions: Sequence[Question], split: str = "all") -> dict[str, Any]:
    name = key.split("@")[0]
    ds = DATASETS.get(name)
    n_tune = sum(1 for q in questions if q.meta.get("tuning"))
    gold = [bool(q.meta["gold_retrieved"]) for q in questions if q.meta.get("gold_retrieved") is not None]
    return {
        "description": ds.description if ds is not None else "user data set (JSON lines)",
        "n_questions": len(questions),
        "n_yes_no": sum(1 for q in questions if q.yes_no),
        "mean_passages": M.mean(len(q.contexts) for q in questions),
        "gold_in_context": M.mean(float(g) for g in gold),
        "split": split,
        "n_tuning": n_tune,
    }


def _versions(names: Iterable[str]) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for n in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[n] = metadata.version(n)
    return out


def _machine() -> dict[str, Any]:
    import platform

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        load: list[float] | None = [round(x, 1) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "load_average": load,
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
    }


def _harness_info(cfg: RunConfig, ctx: MethodContext) -> dict[str, Any]:
    info = asdict(cfg)
    info = {k: (str(v) if isinstance(v, Path) else v) for k, v in info.items()}
    return {
        "version": HARNESS_VERSION,
        "config": info,
        "command": cfg.command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": _machine(),
        "counter": getattr(ctx.counter, "name", cfg.counter),
        "embedder": getattr(ctx.embedder, "name", cfg.embedder),
        "memory": {
            "rss": "peak RSS during the call minus RSS at its start (2 ms sampling)",
            "tracemalloc": "peak Python-traced allocations during the call",
            "off": "not measured",
        }[cfg.memory],
        "packages": _versions(
            [
                "ctxcompress",
                "ctxcompress-eval",
                "torch",
                "transformers",
                "sentence-transformers",
                "onnxruntime",
                "tiktoken",
                "langchain-core",
                "langchain-classic",
                "langchain-community",
                "llama-index-core",
                "llmlingua",
                "ray",
            ]
        ),
    }
