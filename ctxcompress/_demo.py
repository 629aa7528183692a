"""The offline demo: retrieve from a FAISS index over a real sample, compress, show what was saved."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, TextIO

import numpy as np

from ._backends.embedders import default_embedder
from ._compressors.redundancy_fusion import RedundancyFusion
from ._compressors.relevance_filter import RelevanceFilter
from ._core.answers import answer_in_context
from ._core.compressor import Compressor
from ._core.deps import require
from ._core.pipeline import Pipeline
from ._core.types import Budget, Chunk

__all__ = ["default_pipeline", "run_demo"]


def default_pipeline() -> Pipeline:
    """The default pipeline: redundancy fusion, then sentence-level hybrid relevance filtering."""
    return Pipeline([("fuse", RedundancyFusion()), ("filter", RelevanceFilter(granularity="sentence"))])


@dataclass(frozen=True)
class DemoQuestion:
    id: str
    question: str
    answers: list[str]
    contexts: list[dict[str, Any]]


def load_demo_sample() -> list[DemoQuestion]:
    """The embedded HotpotQA sample (CC BY-SA 4.0; see ``ctxcompress/data/DEMO_SOURCE.md``)."""
    path = resources.files("ctxcompress").joinpath("data/hotpotqa_demo.jsonl")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(DemoQuestion(r["id"], r["question"], list(r["answers"]), list(r["contexts"])))
    return out


class FaissIndex:
    """A small exact inner-product FAISS index over passages (unit vectors → cosine)."""

    def __init__(self, passages: list[Chunk]) -> None:
        faiss = require("faiss", extra="faiss", purpose="the demo's vector index")
        self.passages = passages
        self.embedder = default_embedder()
        texts = [f"{p.metadata.get('title', '')}: {p.text}" for p in passages]
        vecs = np.ascontiguousarray(self.embedder.encode(texts), dtype=np.float32)
        self.index = faiss.IndexFlatIP(vecs.shape[1])
        self.index.add(vecs)

    def search(self, query: str, k: int) -> list[Chunk]:
        enc = getattr(self.embedder, "encode_queries", self.embedder.encode)
        qv = np.ascontiguousarray(enc([query]), dtype=np.float32)
        scores, ids = self.index.search(qv, k)
        return [self.passages[int(i)].replace(score=float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]


def _passages(sample: list[DemoQuestion]) -> Iterator[Chunk]:
    seen: set[str] = set()
    for q in sample:
        for c in q.contexts:
            if c["title"] in seen:
                continue
            seen.add(c["title"])
            yield Chunk(text=c["text"], id=c["title"], metadata={"title": c["title"]})


def run_demo(
    *,
    budget: float = 0.25,
    k: int = 10,
    counter: str | None = None,
    compressor: Compressor | None = None,
    out: TextIO,
) -> dict[str, Any]:
    """Run the demo and write its tables to ``out``; returns the figures as data."""
    sample = load_demo_sample()
    t0 = time.perf_counter()
    index = FaissIndex(list(_passages(sample)))
    build_s = time.perf_counter() - t0
    pipe = compressor or default_pipeline()
    pipe.warm_up()
    print(
        f"ctxcompress demo: {len(sample)} HotpotQA questions (CC BY-SA 4.0, embedded sample), "
        f"FAISS index over {len(index.passages)} passages built in {build_s:.2f}s with "
        f"{index.embedder.name}; top-{k} retrieval; budget {budget:.0%} of the retrieved tokens.\n",
        file=out,
    )
    rows: list[dict[str, Any]] = []
    for q in sample:
        retrieved = index.search(q.question, k)
        res = pipe.compress(retrieved, query=q.question, budget=Budget(fraction=budget), counter=counter)
        rows.append(
            {
                "question": q.question,
                "answers": q.answers,
                "tokens_in": res.report.tokens_in,
                "tokens_out": res.report.tokens_out,
                "kept_fraction": res.report.kept_fraction,
                "stages": [(s.name, s.tokens_out, s.seconds) for s in res.report.stages],
                "ms": res.report.seconds * 1000,
                "answer_retrieved": answer_in_context("\n".join(c.text for c in retrieved), q.answers),
                "answer_kept": answer_in_context(res.text, q.answers),
                "counter": res.report.counter,
            }
        )
    stage_names = [name for name, _, _ in rows[0]["stages"]] if rows else []
    header = ["question", "retrieved", *stage_names, "kept", "ms", "answer retrieved", "answer kept"]
    print("| " + " | ".join(header) + " |", file=out)
    print("|" + "---|" * len(header), file=out)
    for r in rows:
        qtext = r["question"] if len(r["question"]) <= 60 else r["question"][:57] + "..."
        cells = [
            qtext,
            str(r["tokens_in"]),
            *[str(t) for _, t, _ in r["stages"]],
            f"{r['kept_fraction']:.0%}",
            f"{r['ms']:.0f}",
            "yes" if r["answer_retrieved"] else "no",
            "yes" if r["answer_kept"] else "no",
        ]
        print("| " + " | ".join(cells) + " |", file=out)
    n = len(rows)
    tin = sum(r["tokens_in"] for r in rows)
    tout = sum(r["tokens_out"] for r in rows)
    kept_ok = sum(r["answer_kept"] for r in rows)
    retr_ok = sum(r["answer_retrieved"] for r in rows)
    med = float(np.median([r["ms"] for r in rows])) if rows else 0.0
    counter_name = rows[0]["counter"] if rows else ""
    print(
        f"\nTotal: {tin} → {tout} tokens ({tin - tout} saved, {tout / max(tin, 1):.1%} kept; counter "
        f"{counter_name}). Gold answer in the retrieved context for {retr_ok}/{n} questions, in the "
        f"compressed context for {kept_ok}/{n}. Median compression time {med:.0f} ms per question.",
        file=out,
    )
    return {"rows": rows, "tokens_in": tin, "tokens_out": tout, "answer_kept": kept_ok, "answer_retrieved": retr_ok}
