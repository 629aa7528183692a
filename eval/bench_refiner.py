"""Extract-and-restructure benchmark (issue 6): ExtractRestructure on HotpotQA and MuSiQue dev.

1. The embedding engine (adaptive: no budget, it keeps what it finds relevant) against the
   foundation's ``RelevanceFilter`` *at the same kept fraction*: the filter runs, per question, at
   the token budget the refiner actually used (its rendered output, section headers included). Also
   the cross-encoder-scored variant (ms-marco-MiniLM-L-12 ONNX), and, with ``ctxcompress_eval``
   importable, the peers at the same per-question kept fraction.
2. The LLM engine with SmolLM2-135M-Instruct (``HFLocalLLM("smollm2")``) on a few questions: how
   many quotes were verbatim, repaired, dropped (and why), and what survived.

Measures (tokens with o200k_base): kept fraction (tokens out / tokens in, mean over questions);
answer-in-context recall (SQuAD-normalised gold answer in the output; yes/no questions counted
apart); supporting-paragraph recall (share of gold paragraphs with at least one of their sentences
of 4+ words, whitespace-normalised, in the output: the same text test for every method);
median compression latency.

    python eval/bench_refiner.py --data-dir ../shared/data --hotpot 100 --musique 50 --llm 5 [--out r.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ctxcompress import Budget, CachedEmbedder, Chunk, OnnxCrossEncoder, RelevanceFilter, get_counter
from ctxcompress._backends.embedders import get_embedder
from ctxcompress._core.answers import answer_in_context
from ctxcompress._core.result import join_text
from ctxcompress._core.segment import split_sentences
from ctxcompress._refiner.extract_restructure import ExtractRestructure

from bench_foundation import load_hotpot

Item = dict[str, Any]
Runner = Callable[[Item, int | None], tuple[str, float, dict[str, Any]]]


# --------------------------------------------------------------------------- data
def load_musique(path: Path, limit: int | None) -> list[Item]:
    """MuSiQue-Ans records (``musique_train100_hipporag``, development split): 20 paragraphs each."""
    out: list[Item] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            chunks = [
                Chunk(
                    p["paragraph_text"],
                    id=str(p.get("idx", i)),
                    metadata={"title": p["title"], "supporting": bool(p["is_supporting"])},
                )
                for i, p in enumerate(r["paragraphs"])
            ]
            answers = [r["answer"], *r.get("answer_aliases", [])]
            out.append({"id": r["id"], "question": r["question"], "answers": answers, "chunks": chunks})
            if limit and len(out) >= limit:
                break
    return out


def is_yes_no(item: Item) -> bool:
    return {a.strip().lower() for a in item["answers"]} <= {"yes", "no"}


# --------------------------------------------------------------------------- metrics
def _ws(text: str) -> str:
    return " ".join(text.split())


def supporting_recall(output: str, item: Item) -> float:
    """Share of gold paragraphs with at least one sentence (4+ words) found in ``output``."""
    hay = _ws(output)
    gold = [c for c in item["chunks"] if c.metadata.get("supporting")]
    if not gold:
        return 0.0
    kept = 0
    for c in gold:
        keys = [_ws(s.text) for s in split_sentences(c.text) if len(s.text.split()) >= 4] or [_ws(c.text)]
        kept += any(k and k in hay for k in keys)
    return kept / len(gold)


def summarise(name: str, rows: list[dict[str, Any]], data: Sequence[Item]) -> dict[str, Any]:
    span = [r for r, it in zip(rows, data, strict=True) if not is_yes_no(it)]
    out = {
        "method": name,
        "questions": len(rows),
        "kept": statistics.mean(r["kept"] for r in rows),
        "answer_recall": statistics.mean(r["answer"] for r in span) if span else None,
        "supporting_recall": statistics.mean(r["supporting"] for r in rows),
        "median_ms": statistics.median(r["ms"] for r in rows),
        "over_cap": sum(r["over_cap"] for r in rows),
    }
    extra = [r["extra"] for r in rows if r.get("extra")]
    for key in ("quotes", "sections"):
        vals = [e[key] for e in extra if key in e]
        if vals:
            out[f"mean_{key}"] = statistics.mean(vals)
    return out


def evaluate(
    data: Sequence[Item], run: Runner, counter: Any, caps: Sequence[int | None], *, strict: bool = True
) -> list[dict[str, Any]]:
    """Run a method on every question (``caps``: per-question token caps); ``strict`` asserts the cap."""
    rows = []
    for item, cap in zip(data, caps, strict=True):
        text, secs, extra = run(item, cap)
        tin = counter.count(join_text(item["chunks"]))
        tout = counter.count(text)
        if cap is not None and strict:
            assert tout <= cap, (tout, cap)
        rows.append(
            {
                "id": item["id"],
                "tokens_in": tin,
                "tokens_out": tout,
                "kept": tout / max(tin, 1),
                "answer": answer_in_context(text, item["answers"]),
                "supporting": supporting_recall(text, item),
                "ms": secs * 1000,
                "over_cap": cap is not None and tout > cap,
                "extra": extra,
            }
        )
    return rows


# --------------------------------------------------------------------------- methods
def compressor_runner(comp: Any, counter: Any) -> Runner:
    def run(item: Item, cap: int | None) -> tuple[str, float, dict[str, Any]]:
        t0 = time.perf_counter()
        res = comp.compress(
            item["chunks"],
            query=item["question"],
            budget=None if cap is None else Budget(max_tokens=cap),
            counter=counter,
        )
        secs = time.perf_counter() - t0
        extra: dict[str, Any] = {}
        if res.report.stages:
            d = res.report.stages[-1].details
            extra = {k: d[k] for k in ("quotes", "sections", "verbatim", "repaired", "dropped") if k in d}
        return res.text, secs, extra

    return run


def peer_runners(names: Sequence[str], counter: Any, embedder: Any) -> dict[str, Runner]:
    """Peers from the evaluation harness (``eval/ctxcompress_eval``), when it imports."""
    try:
        from ctxcompress_eval._data import Passage
        from ctxcompress_eval._methods import MethodContext, build_method
    except ImportError as exc:  # pragma: no cover - the harness is optional here
        print(f"(peers skipped: ctxcompress_eval not importable: {exc})", file=sys.stderr)
        return {}
    ctx = MethodContext(counter=counter, embedder=embedder)
    out: dict[str, Runner] = {}
    for name in names:
        try:
            method = build_method(name, ctx)
            method.warm_up()
        except Exception as exc:
            print(f"(peer {name} skipped: {type(exc).__name__}: {exc})", file=sys.stderr)
            continue

        def run(item: Item, cap: int | None, method: Any = method) -> tuple[str, float, dict[str, Any]]:
            passages = [Passage(c.id or "", str(c.metadata.get("title", "")), c.text) for c in item["chunks"]]
            tin = counter.count(join_text(item["chunks"]))
            fraction = min(1.0, max(1e-6, (cap if cap is not None else tin) / max(tin, 1)))
            t0 = time.perf_counter()
            res = method.compress(item["question"], passages, fraction)
            return res.text, time.perf_counter() - t0, {}

        out[name] = run
    return out


# --------------------------------------------------------------------------- the LLM engine
def run_llm(data: Sequence[Item], n: int, counter: Any, max_new_tokens: int) -> dict[str, Any]:
    from ctxcompress._lm.llm import HFLocalLLM

    model = HFLocalLLM("smollm2", max_new_tokens=max_new_tokens)
    t0 = time.perf_counter()
    model.warm_up()
    load_s = time.perf_counter() - t0
    raw_outputs: list[str] = []

    def llm(prompt: str) -> str:  # records the raw generations, to show and to re-parse later
        text = model(prompt)
        raw_outputs.append(text)
        return text

    comp = ExtractRestructure(engine="llm", llm=llm)
    totals = {"parsed": 0, "verbatim": 0, "repaired": 0, "dropped": 0, "duplicates": 0, "quotes": 0}
    reasons: dict[str, int] = {}
    rows = []
    samples = []
    for item in data[:n]:
        if is_yes_no(item):
            continue
        t0 = time.perf_counter()
        res = comp.compress(item["chunks"], query=item["question"], counter=counter)
        secs = time.perf_counter() - t0
        d = res.report.stages[-1].details
        for k in totals:
            totals[k] += int(d.get(k, 0))
        for k, v in dict(d.get("dropped_reasons", {})).items():
            reasons[k] = reasons.get(k, 0) + int(v)
        rows.append(
            {
                "kept": res.report.kept_fraction,
                "answer": answer_in_context(res.text, item["answers"]),
                "supporting": supporting_recall(res.text, item),
                "seconds": secs,
                "span_problems": len(res.check_spans()),
            }
        )
        samples.append(
            {
                "question": item["question"],
                "answers": item["answers"],
                "raw": raw_outputs[-1] if raw_outputs else "",
                "output": res.text,
                "details": dict(d),
            }
        )
    return {
        "questions": len(rows),
        "load_s": load_s,
        **totals,
        "dropped_reasons": reasons,
        "kept": statistics.mean(r["kept"] for r in rows) if rows else None,
        "answer_recall": statistics.mean(r["answer"] for r in rows) if rows else None,
        "supporting_recall": statistics.mean(r["supporting"] for r in rows) if rows else None,
        "seconds_per_question": statistics.mean(r["seconds"] for r in rows) if rows else None,
        "span_problems": sum(r["span_problems"] for r in rows),
        "samples": samples,
    }


# --------------------------------------------------------------------------- main
def bench_dataset(
    label: str, data: list[Item], counter: Any, embedder: Any, *, cross_encoder: bool, peers: Sequence[str]
) -> list[dict[str, Any]]:
    span_items = [it for it in data if not is_yes_no(it)]
    print(f"\n## {label}: {len(data)} questions ({len(span_items)} with span answers)", file=sys.stderr, flush=True)
    results: list[dict[str, Any]] = []
    # "indexing time": sentence vectors (plain and title-prefixed, as the scorers embed them) and the
    # question vectors are computed before timing, for every method alike
    for it in data:
        texts = []
        for c in it["chunks"]:
            title = str(c.metadata.get("title", ""))
            for seg in split_sentences(c.text):
                texts += [seg.text, f"{title}: {seg.text}"]
        embedder.encode(texts)
        embedder.encode_queries([it["question"]])
    none_rows = evaluate(data, lambda it, cap: (join_text(it["chunks"]), 0.0, {}), counter, [None] * len(data))
    results.append(summarise("no compression", none_rows, data))
    variants: list[tuple[str, Any, Any]] = [
        (
            "ExtractRestructure (hybrid scorer)",
            ExtractRestructure(embedder=embedder),
            RelevanceFilter(embedder=embedder),
        )
    ]
    if cross_encoder:
        ce = OnnxCrossEncoder()
        variants.append(
            ("ExtractRestructure (cross-encoder)", ExtractRestructure(scorer=ce), RelevanceFilter(scorer=ce))
        )
    for name, refiner, filt in variants:
        rows = evaluate(data, compressor_runner(refiner, counter), counter, [None] * len(data))
        results.append(summarise(name, rows, data))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        caps: list[int | None] = [r["tokens_out"] for r in rows]
        frows = evaluate(data, compressor_runner(filt, counter), counter, caps)
        fname = "RelevanceFilter (hybrid)" if "hybrid" in name else "RelevanceFilter (cross-encoder)"
        results.append(summarise(f"{fname} at the same budget", frows, data))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
        if "hybrid" in name:
            for pname, prun in peer_runners(peers, counter, embedder).items():
                prows = evaluate(data, prun, counter, caps, strict=False)
                results.append(summarise(f"{pname} at the same budget", prows, data))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return results


def print_table(label: str, results: list[dict[str, Any]]) -> None:
    print(f"\n### {label}\n")
    print("| method | kept fraction | answer recall | supporting-paragraph recall | quotes / sections | median ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        qs = f"{r['mean_quotes']:.1f} / {r['mean_sections']:.1f}" if "mean_quotes" in r else ""
        ans = f"{r['answer_recall']:.3f}" if r["answer_recall"] is not None else "-"
        print(
            f"| {r['method']} | {r['kept']:.3f} | {ans} | {r['supporting_recall']:.3f} | {qs} | {r['median_ms']:.1f} |"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--hotpot", type=int, default=100, help="HotpotQA distractor dev questions (0: skip)")
    ap.add_argument("--musique", type=int, default=50, help="MuSiQue dev questions (0: skip)")
    ap.add_argument("--embedder", default="onnx")
    ap.add_argument("--no-cross-encoder", action="store_true")
    ap.add_argument(
        "--peers",
        default="langchain-embeddings-filter:chunks,llamaindex-sentence-optimizer",
        help="harness peer names, comma separated ('' for none)",
    )
    ap.add_argument("--llm", type=int, default=0, help="questions per data set for the SmolLM2 LLM engine")
    ap.add_argument("--llm-max-new-tokens", type=int, default=256)
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    data_dir = Path(args.data_dir)
    counter = get_counter("o200k_base")
    embedder = CachedEmbedder(get_embedder(args.embedder))
    embedder.encode(["warm up"])
    peers = [p for p in args.peers.split(",") if p]
    sets: list[tuple[str, list[Item]]] = []
    if args.hotpot:
        path = data_dir / "hotpotqa_distractor_dev500" / "hotpotqa_dev_subsampled.dev.jsonl.gz"
        hotpot = load_hotpot(path, args.hotpot)
        sets.append((f"HotpotQA distractor dev ({len(hotpot)})", hotpot))
    if args.musique:
        path = data_dir / "musique_train100_hipporag" / "musique_ans_train100.dev.jsonl.gz"
        sets.append((f"MuSiQue-Ans dev split ({args.musique})", load_musique(path, args.musique)))
    report: dict[str, Any] = {"counter": counter.name, "embedder": embedder.name, "sets": {}}
    for label, data in sets:
        results = bench_dataset(label, data, counter, embedder, cross_encoder=not args.no_cross_encoder, peers=peers)
        report["sets"][label] = {"embedding": results}
    if args.llm:
        for label, data in sets:
            print(f"\n## LLM engine (SmolLM2) on {label}: {args.llm} questions", file=sys.stderr, flush=True)
            report["sets"][label]["llm"] = run_llm(data, args.llm, counter, args.llm_max_new_tokens)
    print(f"\nCounter {counter.name}, embedder {embedder.name}.")
    for label, entry in report["sets"].items():
        print_table(label, entry["embedding"])
        llm = entry.get("llm")
        if llm:
            print(
                f"\nLLM engine, SmolLM2-135M-Instruct, {llm['questions']} questions: {llm['parsed']} quotes parsed, "
                f"{llm['verbatim']} verbatim, {llm['repaired']} repaired, {llm['dropped']} dropped "
                f"({llm['dropped_reasons']}), {llm['duplicates']} duplicates; {llm['quotes']} quotes kept; "
                f"kept fraction {llm['kept']:.3f}, answer recall {llm['answer_recall']:.2f}, supporting recall "
                f"{llm['supporting_recall']:.2f}, {llm['seconds_per_question']:.1f} s/question "
                f"(load {llm['load_s']:.1f} s), span problems {llm['span_problems']}."
            )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
