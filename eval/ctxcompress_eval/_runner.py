"""The run loop: datasets x methods x budgets x questions, a resumable record store, local or Ray engine.

Per question and method x budget the runner times ``method.compress`` (``_probe.execute``, after one
untimed warm-up call per method and process; ``_engines``), computes the per-question metrics and
appends one JSON line to the record store (``_store``). A run that is interrupted continues where it
stopped: questions already in the store are not run again. The rows of the results come from
``_aggregate``; the run configuration is ``_config.RunConfig``.

With ``workers > 1`` calls overlap, so latency and memory figures include contention.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import _metrics as M
from ._aggregate import aggregate
from ._config import BUDGET_FREE, HARNESS_VERSION, RunConfig, make_context
from ._data import Question
from ._datasets import DATASETS, dataset_key, load_dataset, parse_dataset_spec
from ._engines import LocalEngine, Task, run_ray
from ._methods import CompressorMethod, Method, MethodContext, build_method, expand_method_names
from ._reader import make_reader
from ._store import RecordStore, make_record, store_folder

__all__ = ["run", "sample_questions", "write_examples"]


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
                store = RecordStore(cfg.record_dir / store_folder(key, cfg.titles), name, budget, fp, fresh=cfg.fresh)
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
                run_ray(tasks, settings, cfg.workers, on_result)
            else:
                LocalEngine(methods, cfg.memory, cfg.workers).run(tasks, on_result)
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
    examples = write_examples(cfg.out, datasets, methods, cfg.budgets, cfg.html_examples, say)
    results = {
        "harness": _harness_info(cfg, ctx),
        "datasets": {key: _dataset_info(key, qs, cfg.split) for key, qs in datasets.items()},
        "methods": {
            n: {"description": m.describe(), "notes": m.notes, "extractive": m.extractive} for n, m in methods.items()
        },
        "results": rows,
        "examples": examples,
    }
    _report.write_all(results, cfg.out)
    say(f"wrote {cfg.out / 'results.json'}, results.csv, report.md, report.html")
    return results


def write_examples(
    out: Path,
    datasets: dict[str, list[Question]],
    methods: dict[str, Method],
    budgets: Sequence[float],
    n: int,
    say: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """For the first ``n`` questions of each data set, one HTML view of what each ctxcompress method
    (``ctxcompress``, ``ctxcompress:<Class>``, ``config:<file>``) kept at each budget:
    ``out/examples/<data set>/<method>@<budget>/<question>.html`` (``CompressionResult.to_html()``).

    The record store keeps the compressed text, not the spans, so the views come from running the
    method again on those questions, untimed, after the measured run. Returns one entry per page
    (dataset, method, budget, id, question, path relative to ``out``) for the report to link.
    """
    entries: list[dict[str, Any]] = []
    if n <= 0:
        return entries
    for key, questions in datasets.items():
        for name, m in methods.items():
            if not isinstance(m, CompressorMethod):
                continue
            for budget in budgets:
                folder = Path("examples") / _safe(key) / _safe(f"{name}@{budget:g}")
                for q in questions[:n]:
                    try:
                        res = m.result(q.question, q.contexts, budget)
                    except Exception as exc:  # the run recorded the error already; the view is optional
                        if say is not None:
                            say(f"no HTML example for {key} {name} @{budget:g} {q.id}: {exc}")
                        continue
                    rel = folder / (_safe(q.id) + ".html")
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    title = f"{key} · {name} @ {budget:.0%} · question {q.id}"
                    (out / rel).write_text(res.to_html(title=title), encoding="utf-8")
                    entries.append(
                        {
                            "dataset": key,
                            "method": name,
                            "budget": budget,
                            "id": q.id,
                            "question": q.question,
                            "path": rel.as_posix(),
                        }
                    )
    return entries


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name).strip(".") or "_"


def sample_questions(questions: Sequence[Question], n: int, seed: int = 0) -> list[Question]:
    """A seeded random sample of ``n`` questions, kept in file order (stable: a larger ``n`` adds questions).

    Files are often ordered by question type (HotpotQA's IRCoT file puts comparison and yes/no questions
    last), so the first N questions are not a representative subset; a sample is.
    """
    from ._data import stable_seed

    chosen = set(sorted(range(len(questions)), key=lambda i: stable_seed(seed, "sample", questions[i].id))[:n])
    return [q for i, q in enumerate(questions) if i in chosen]


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
