"""TCRA-LLM benchmark (issue 4): semantic compression vs random word deletion, and the summariser.

Liu et al. (EMNLP Findings 2023) compare semantic compression (drop the words of lowest leave-one-out
embedding importance, bottom j-th percentile) against random word deletion at the same kept
fraction, and summarisation at 30/50/70 % target lengths. This runs the same comparison on

- HotpotQA distractor dev (first N questions, 10 paragraphs each): answer-in-context recall (a
  SQuAD-normalised gold answer string appears in the compressed context; yes/no questions are left
  out since their answer is not a span), and answer-words recall (every content word of the answer
  is still a word of the context: word deletion can break the exact string, "Chief Protocol", while
  the answer is still there for a reader);
- PubMedQA PQA-L dev (first N questions, the abstract's labelled sections as chunks): its answers are
  yes/no/maybe labels, so the proxy is *conclusion-term recall*: of the content words of the held-back
  conclusion (``LONG_ANSWER``) that occur in the context, the share still in the compressed context.

Tokens are counted with o200k_base; "saved" is 1 - tokens out / tokens in, averaged per question.
Semantic compression throughput (units/s = sentences/s, uncached) is measured on a separate pass.
Embeddings are cached on disk (``--cache``) so reruns only pay for what is new.

    python eval/bench_tcra.py --data-dir ../shared/data --hotpot 100 --pubmed 100 \\
        [--llm-questions 10] [--out results.json]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import pickle
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ctxcompress import Chunk, OnnxEmbedder, get_counter
from ctxcompress._compressors.semantic_compressor import SemanticCompressor
from ctxcompress._compressors.summarizer import Summarizer
from ctxcompress._core.answers import answer_in_context, normalize_answer
from ctxcompress._core.compressor import Compressor
from ctxcompress._core.result import join_text

from bench_foundation import load_hotpot

_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being this
    that these those it its their there which who whom whose what when where why how than then also
    not no we our they them he she his her i you your can could may might would should will shall
    do does did has have had more most less such other into over under between among during after
    before about both each all any some only very much many one two however therefore thus so while
    whether""".split()  # noqa: SIM905
)


# --------------------------------------------------------------------------- data
def load_pubmed(path: Path, limit: int | None) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    out = []
    for pmid, r in data.items():
        chunks = [
            Chunk(text, id=f"{pmid}-{i}", metadata={"label": label})
            for i, (text, label) in enumerate(zip(r["CONTEXTS"], r["LABELS"], strict=True))
        ]
        out.append({"id": pmid, "question": r["QUESTION"], "conclusion": r["LONG_ANSWER"], "chunks": chunks})
        if limit and len(out) >= limit:
            break
    return out


def _terms(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2}


def answer_words_in(text: str, answers: Sequence[str]) -> bool:
    """Every content word of some gold answer occurs as a word of ``text`` (order and function words
    ignored): the answer survives word deletion even where the exact string does not ("Chief Protocol")."""
    words = set(normalize_answer(text).split())
    for a in answers:
        need = {w for w in normalize_answer(a).split() if w not in _STOP} or set(normalize_answer(a).split())
        if need and need <= words:
            return True
    return False


def term_recall(context: str, compressed: str, reference: str) -> float | None:
    """Share of the reference's content words present in ``context`` that survive in ``compressed``."""
    present = _terms(reference) & _terms(context)
    if not present:
        return None
    return len(present & _terms(compressed)) / len(present)


# --------------------------------------------------------------------------- embeddings cached on disk
class DiskCachedEmbedder:
    """An embedder whose vectors persist in a pickle file (keyed by the text's sha1)."""

    def __init__(self, base: Any, path: Path | None) -> None:
        self.base = base
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        self.new = 0
        if path is not None and path.is_file():
            with path.open("rb") as f:
                self.vectors = pickle.load(f)

    @property
    def name(self) -> str:
        return str(self.base.name)

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in self.vectors))
        if missing:
            vecs = self.base.encode(missing)
            for t, v in zip(missing, vecs, strict=True):
                self.vectors[self._key(t)] = np.asarray(v, dtype=np.float32)
            self.new += len(missing)
            if self.new >= 2000:
                self.save()
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def save(self) -> None:
        if self.path is None or not self.new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(self.vectors, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
        self.new = 0


# --------------------------------------------------------------------------- the random baseline
class RandomWordDeletion(SemanticCompressor):
    """Random word deletion (the paper's baseline): the same units, drop counts, protection and output
    rules as :class:`SemanticCompressor`, with random importance instead of embedding distance."""

    def __init__(self, *, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed

    def _score_words(self, chunks: Sequence[Chunk], units: list[Any], query: str, ctx: Any) -> None:
        digest = hashlib.sha1("\x00".join(c.text for c in chunks).encode("utf-8")).digest()
        rng = random.Random(int.from_bytes(digest[:8], "little") ^ self.seed)
        for u in units:
            imp = np.array([rng.random() for _ in u.words])
            imp[np.array(u.protected, dtype=bool)] = np.inf
            u.importance = imp


# --------------------------------------------------------------------------- running
def run_method(
    name: str,
    comp: Compressor,
    items: Sequence[dict[str, Any]],
    score: Callable[[dict[str, Any], str], tuple[float | None, float | None]],
    counter: Any,
    budgets: Sequence[int | None] | None = None,
) -> dict[str, Any]:
    scores, scores2, kept, secs, warns, faith = [], [], [], [], 0, []
    units = embeddings = 0
    embed_s = 0.0
    tokens_out: list[int] = []
    for i, item in enumerate(items):
        budget = budgets[i] if budgets is not None else None
        t0 = time.perf_counter()
        res = comp.compress(item["chunks"], query=item["question"], budget=budget, counter=counter)
        tokens_out.append(res.report.tokens_out)
        secs.append(time.perf_counter() - t0)
        assert res.check_spans() == [], (name, res.check_spans())
        s, s2 = score(item, res.text)
        if secs[-1] > 10:  # slow methods (a local LLM): show progress, question by question
            print(
                json.dumps({"progress": name, "item": i, "seconds": round(secs[-1], 1), "score": s, "text": res.text}),
                file=sys.stderr,
                flush=True,
            )
        if s is not None:
            scores.append(s)
        if s2 is not None:
            scores2.append(s2)
        kept.append(res.report.tokens_out / max(1, res.report.tokens_in))
        warns += bool(res.report.warnings or any(st.warnings for st in res.report.stages))
        details = res.report.stages[-1].details
        if details.get("embed_seconds") is not None:
            units += details["units"]
            embeddings += details["embeddings"]
            embed_s += details["embed_seconds"]
        f = details.get("faithfulness_mean")
        if f is not None:
            faith.append(f)
    row = {
        "method": name,
        "n": len(scores),
        "recall": statistics.mean(scores) if scores else None,
        "word_recall": statistics.mean(scores2) if scores2 else None,
        "kept": statistics.mean(kept),
        "saved": 1 - statistics.mean(kept),
        "median_s": statistics.median(secs),
        "with_warnings": warns,
        "faithfulness": statistics.mean(faith) if faith else None,
        # semantic compression: sentences (units) and embeddings per second of embedding (cache misses only)
        "units_per_embed_s": units / embed_s if embed_s else None,
        "embeddings_per_s": embeddings / embed_s if embed_s else None,
        "tokens_out": tokens_out,
    }
    print(json.dumps({k: v for k, v in row.items() if k != "tokens_out"}), file=sys.stderr, flush=True)
    return row


def throughput(items: Sequence[dict[str, Any]], counter: Any) -> dict[str, Any]:
    """Uncached semantic compression speed: units (sentences) per second of embedding and end to end."""
    emb = OnnxEmbedder()
    emb.warm_up()
    comp = SemanticCompressor(embedder=emb, drop_percentile=30, protect=())
    units = embeddings = 0
    embed_s = total_s = 0.0
    for item in items:
        t0 = time.perf_counter()
        res = comp.compress(item["chunks"], query=item["question"], counter=counter)
        total_s += time.perf_counter() - t0
        d = res.report.stages[0].details
        units += d["units"]
        embeddings += d["embeddings"]
        embed_s += d["embed_seconds"]
    return {
        "questions": len(items),
        "units": units,
        "embeddings": embeddings,
        "units_per_s": units / total_s,
        "embeddings_per_s": embeddings / embed_s,
        "seconds": total_s,
        "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--hotpot", type=int, default=100, help="HotpotQA questions")
    ap.add_argument("--pubmed", type=int, default=100, help="PubMedQA questions")
    ap.add_argument("--percentiles", default="20,30,50")
    ap.add_argument("--targets", default="0.3,0.5,0.7", help="summariser target fractions")
    ap.add_argument("--llm-questions", type=int, default=0, help="questions per data set for SmolLM2 (0: skip)")
    ap.add_argument("--llm-max-new-tokens", type=int, default=200)
    ap.add_argument("--throughput-questions", type=int, default=5)
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "ctxcompress" / "bench_tcra_vectors.pkl"))
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: semantic,summary,throughput")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    data_dir = Path(args.data_dir)
    sets: dict[str, list[dict[str, Any]]] = {}
    if args.hotpot:
        hp = load_hotpot(data_dir / "hotpotqa_distractor_dev500" / "hotpotqa_dev_subsampled.dev.jsonl.gz", args.hotpot)
        sets["HotpotQA"] = [it for it in hp if {a.lower() for a in it["answers"]} - {"yes", "no"}]
    if args.pubmed:
        sets["PubMedQA"] = load_pubmed(data_dir / "pubmedqa_pqal" / "pqal.dev.json.gz", args.pubmed)

    def score(item: dict[str, Any], text: str) -> tuple[float | None, float | None]:
        if "answers" in item:
            return float(answer_in_context(text, item["answers"])), float(answer_words_in(text, item["answers"]))
        return term_recall(join_text(item["chunks"]), text, item["conclusion"]), None

    counter = get_counter("o200k_base")
    base = OnnxEmbedder()
    emb = DiskCachedEmbedder(base, Path(args.cache) if args.cache else None)
    results: dict[str, Any] = {"rows": {}, "throughput": None}
    percentiles = [float(p) for p in args.percentiles.split(",")]
    targets = [float(t) for t in args.targets.split(",")]

    if "throughput" not in skip and "HotpotQA" in sets:
        results["throughput"] = throughput(sets["HotpotQA"][: args.throughput_questions], counter)
        print(json.dumps(results["throughput"]), file=sys.stderr, flush=True)

    try:
        for ds, items in sets.items():
            rows: list[dict[str, Any]] = []
            results["rows"][ds] = rows
            rows.append(run_method("no compression", Pipe(), items, score, counter))
            if "semantic" not in skip:
                for j in percentiles:
                    for label, protect in (("no protection", ()), ("protected words", None)):
                        kw: dict[str, Any] = {"drop_percentile": j}
                        if protect is not None:
                            kw["protect"] = protect
                        rows.append(
                            run_method(
                                f"semantic j={j:g}, {label}",
                                SemanticCompressor(embedder=emb, **kw),
                                items,
                                score,
                                counter,
                            )
                        )
                        rows.append(
                            run_method(
                                f"random word deletion j={j:g}, {label}",
                                RandomWordDeletion(**kw),
                                items,
                                score,
                                counter,
                            )
                        )
                        # the same comparison at equal tokens: semantic compression capped, question by
                        # question, at what random deletion kept (it then drops a larger share of words)
                        rows.append(
                            run_method(
                                f"semantic j={j:g}, {label}, token-matched to random",
                                SemanticCompressor(embedder=emb, **kw),
                                items,
                                score,
                                counter,
                                budgets=rows[-1]["tokens_out"],
                            )
                        )
                    rows.append(
                        run_method(
                            f"semantic j={j:g}, protected, query-aware (w=1)",
                            SemanticCompressor(embedder=emb, drop_percentile=j, query_weight=1.0),
                            items,
                            score,
                            counter,
                        )
                    )
                    emb.save()
            if "summary" not in skip:
                for t in targets:
                    for scope in ("chunk", "context"):
                        rows.append(
                            run_method(
                                f"summariser extractive {t:.0%} (TextRank, query-aware, scope={scope})",
                                Summarizer(embedder=emb, target_fraction=t, scope=scope),
                                items,
                                score,
                                counter,
                            )
                        )
                emb.save()
            if args.llm_questions:
                from ctxcompress._lm.llm import HFLocalLLM

                llm = HFLocalLLM("smollm2", max_new_tokens=args.llm_max_new_tokens, repetition_penalty=1.2)
                llm.warm_up()
                sample = items[: args.llm_questions]
                rows.append(run_method("no compression (LLM sample)", Pipe(), sample, score, counter))
                for t in targets:
                    rows.append(
                        run_method(
                            f"summariser SmolLM2-135M {t:.0%} (scope=context)",
                            Summarizer(llm=llm, embedder=emb, target_fraction=t, scope="context", max_retries=1),
                            sample,
                            score,
                            counter,
                        )
                    )
                    rows.append(
                        run_method(
                            f"summariser extractive {t:.0%} (same sample, scope=context)",
                            Summarizer(embedder=emb, target_fraction=t, scope="context"),
                            sample,
                            score,
                            counter,
                        )
                    )
    finally:
        emb.save()

    print_tables(results, sets)
    if args.out:
        for rows in results["rows"].values():
            for r in rows:
                r.pop("tokens_out", None)
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


class Pipe(Compressor):
    """No compression (a compressor that returns its input)."""

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: Any) -> list[Chunk]:
        return list(chunks)


def print_tables(results: dict[str, Any], sets: dict[str, list[dict[str, Any]]]) -> None:
    for ds, rows in results["rows"].items():
        metric = "answer-in-context recall | answer-words recall" if ds == "HotpotQA" else "conclusion-term recall"
        print(f"\n{ds}: {len(sets[ds])} questions, o200k_base tokens\n")
        print(f"| method | {metric} | tokens saved | kept | median s/question | faithfulness |")
        print("|---|---:|" + ("---:|" if ds == "HotpotQA" else "") + "---:|---:|---:|---:|")
        for r in rows:
            rec = "-" if r["recall"] is None else f"{r['recall']:.3f}"
            if ds == "HotpotQA":
                rec += " | " + ("-" if r.get("word_recall") is None else f"{r['word_recall']:.3f}")
            faith = "-" if r["faithfulness"] is None else f"{r['faithfulness']:.2f}"
            print(
                f"| {r['method']} (n={r['n']}) | {rec} | {r['saved']:.1%} | {r['kept']:.3f} | "
                f"{r['median_s']:.2f} | {faith} |"
            )
    tp = results.get("throughput")
    if tp:
        print(
            f"\nSemantic compression throughput (uncached ONNX MiniLM int8, {tp['cpus']} CPUs, "
            f"load average {tp['load_average']:.1f}): {tp['units_per_s']:.1f} sentences/s end to end, "
            f"{tp['embeddings_per_s']:.0f} embeddings/s ({tp['units']} sentences, {tp['embeddings']} embeddings)"
        )


if __name__ == "__main__":
    sys.exit(main())
