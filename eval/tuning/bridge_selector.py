"""Prototype (issue 14 §2): entity bridging from the evidence text, on the declared TUNING questions only.

Today's hybrid ``RelevanceFilter`` raises a chunk when its *title* occurs in the best evidence; without
titles that bridge is gone. This script tries bridges taken from the evidence text itself and reports
answer-in-context recall at a kept fraction against today's hybrid, with paired bootstrap intervals:

    taskset -c 0 env OMP_NUM_THREADS=1 python eval/tuning/bridge_selector.py \\
        --titles none,text --split tune --budget 0.25

Variants (``VARIANTS``): ``hops`` rounds of bridging (IRCoT-style retrieval without an LLM: after each
round the best units of the newly reached chunks become the evidence of the next round), bridge
entities = capitalised names, years and quoted titles of the evidence units that the query does not
name, weighted by ``1/sqrt(df)`` over the chunks (a name every chunk holds bridges nothing) and by
where they occur (the chunk's first sentence, where Wikipedia-style passages name their subject, counts
fully, elsewhere half); ``requery``: the query re-embedded with the best evidence unit appended after
each round (the unit cosine to it is added); ``answer_type``: when/what year → units with a year,
how many/how much → units with a number; ``doc``: a larger weight of the chunk's best unit (choose
passages first, then sentences). Units are embedded once (``CachedEmbedder``), so every variant reuses
the vectors. ``--split report`` checks a chosen variant once on the reporting questions.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from ctxcompress import Budget, CachedEmbedder, Chunk, RelevanceFilter, get_counter, get_embedder
from ctxcompress._compressors.relevance_filter import chunk_title
from ctxcompress._core.context import CallContext
from ctxcompress._core.select import Unit
from numpy.typing import NDArray

from ctxcompress_eval import answer_in_context, load_dataset
from ctxcompress_eval._metrics import bootstrap_ci

_STOP = frozenset(
    [
        "A",
        "An",
        "The",
        "He",
        "She",
        "It",
        "They",
        "We",
        "I",
        "His",
        "Her",
        "Its",
        "Their",
        "This",
        "That",
        "These",
        "Those",
        "In",
        "On",
        "At",
        "As",
        "After",
        "Before",
        "During",
        "When",
        "While",
        "However",
        "Although",
        "There",
        "Some",
        "Many",
        "Most",
        "By",
        "For",
        "From",
        "With",
        "Of",
        "And",
        "But",
        "Or",
        "If",
        "Since",
        "Also",
        "Both",
        "Each",
        "Other",
        "Such",
        "Following",
        "According",
        "Between",
        "Under",
        "Over",
        "Its",
        "One",
        "Two",
        "Three",
        "First",
        "Second",
        "Then",
        "Thus",
        "Despite",
        "Unlike",
        "Like",
        "Although",
        "Though",
        "Because",
    ]
)
_CONNECT = r"(?:of|the|de|la|le|von|van|der|du|di|da|and|&|y)"
_CAP = re.compile(rf"[A-Z][\w'’.-]*(?:\s+(?:{_CONNECT}\s+)*[A-Z0-9][\w'’.-]*)*")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_QUOTE = re.compile(r"[\"“]([^\"”]{3,80})[\"”]")
_WHEN = re.compile(r"\b(when|what year|which year|what date|in what year)\b", re.IGNORECASE)
_HOW_MANY = re.compile(r"\b(how many|how much|what is the population|how old|how long)\b", re.IGNORECASE)


def entities(text: str) -> dict[str, float]:
    """Bridge candidates of a text with a strength: names 1.0, quoted titles 1.0, years 0.3."""
    out: dict[str, float] = {}
    for m in _CAP.finditer(text):
        words = m.group(0).strip(" .,;:'’-").split()
        while words and words[0] in _STOP:
            words = words[1:]
        e = " ".join(words).strip(" .,;:'’-")
        if len(e) >= 4:
            out[e] = 1.0
    for m in _QUOTE.finditer(text):
        out[m.group(1).strip()] = 1.0
    for m in _YEAR.finditer(text):
        out.setdefault(m.group(0), 0.3)
    return out


class EntityBridgeFilter(RelevanceFilter):
    """Today's hybrid score plus iterated entity bridges, query re-scoring and answer-type priors."""

    def __init__(
        self,
        *,
        hops: int = 2,
        n_evidence: int = 3,
        bridge: float = 0.5,
        decay: float = 0.7,
        requery: float = 0.0,
        answer_type: float = 0.0,
        doc: float = 0.0,
        unit_bridge: float = 0.0,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.hops, self.n_evidence, self.bridge, self.decay = hops, n_evidence, bridge, decay
        self.requery, self.answer_type, self.doc, self.unit_bridge = requery, answer_type, doc, unit_bridge

    def score_units(
        self, chunks: Sequence[Chunk], units: Sequence[Unit], query: str, ctx: CallContext
    ) -> NDArray[np.float64]:
        if not units or not query.strip():
            return super().score_units(chunks, units, query, ctx)
        titles = [chunk_title(c, self.title_key) for c in chunks]
        texts = [f"{titles[u.chunk]}: {u.text}" if titles[u.chunk] else u.text for u in units]
        emb = self._get_embedder()
        vecs = ctx.embed(emb, texts)
        qv = ctx.embed(emb, [query], queries=True)[0]
        cos: NDArray[np.float64] = (vecs @ qv).astype(np.float64)
        base = self._hybrid(query, chunks, units, titles, cos)
        n_chunks = len(chunks)
        unit_chunk = np.array([u.chunk for u in units])
        if self.doc:
            best = np.full(n_chunks, -np.inf)
            np.maximum.at(best, unit_chunk, cos)
            best[~np.isfinite(best)] = 0.0
            base = base + self.doc * best[unit_chunk]
        if self.answer_type:
            pat = _YEAR if _WHEN.search(query) else _NUMBER if _HOW_MANY.search(query) else None
            if pat is not None:
                base = base + self.answer_type * np.array([1.0 if pat.search(u.text) else 0.0 for u in units])
        low_chunks = [c.text.lower() for c in chunks]
        heads = [""] * n_chunks
        for u in units:
            if u.index == 0:
                heads[u.chunk] = u.text.lower()
        qlow = query.lower()
        total = base.copy()
        used: set[int] = set()
        bridge_acc = np.zeros(n_chunks)
        unit_acc = np.zeros(len(units))
        rq = np.full(len(units), -np.inf)
        for hop in range(self.hops):
            order = np.argsort(-total, kind="stable")
            evidence = [int(i) for i in order if int(unit_chunk[i]) not in used][: self.n_evidence]
            if not evidence:
                break
            used |= {int(unit_chunk[i]) for i in evidence}
            ents: dict[str, float] = {}
            for i in evidence:
                for e, s in entities(units[i].text).items():
                    if e.lower() not in qlow:
                        ents[e] = max(ents.get(e, 0.0), s)
            b = np.zeros(n_chunks)
            ub = np.zeros(len(units))
            for e, s in ents.items():
                el = e.lower()
                holders = [ci for ci in range(n_chunks) if el in low_chunks[ci]]
                if not holders:
                    continue
                w = s / math.sqrt(len(holders))
                for ci in holders:
                    if ci not in used:
                        b[ci] = max(b[ci], w * (1.0 if el in heads[ci] else 0.5))
                if self.unit_bridge:
                    for ui, u in enumerate(units):
                        if int(unit_chunk[ui]) not in used and el in u.text.lower():
                            ub[ui] = max(ub[ui], w)
            bridge_acc = np.maximum(bridge_acc, (self.decay**hop) * b)
            unit_acc = np.maximum(unit_acc, (self.decay**hop) * ub)
            if self.requery:
                q2 = ctx.embed(emb, [query + " " + units[evidence[0]].text], queries=True)[0]
                rq = np.maximum(rq, (vecs @ q2).astype(np.float64))
            total = base + self.bridge * bridge_acc[unit_chunk] + self.unit_bridge * unit_acc
            if self.requery:
                total = total + self.requery * rq
        return total


VARIANTS: dict[str, dict[str, Any]] = {
    "hybrid (today)": {},
    "eb hops=1": {"hops": 1},
    "eb hops=2": {"hops": 2},
    "eb hops=3": {"hops": 3},
    "eb hops=2 bridge=0.8": {"hops": 2, "bridge": 0.8},
    "eb hops=2 +unit": {"hops": 2, "unit_bridge": 0.2},
    "eb hops=2 +requery": {"hops": 2, "requery": 0.5},
    "eb hops=2 +answer-type": {"hops": 2, "answer_type": 0.1},
    "eb hops=2 +doc": {"hops": 2, "doc": 0.3},
    "eb hops=3 +requery +answer-type": {"hops": 3, "requery": 0.5, "answer_type": 0.1},
    "hybrid (today) again": {},  # the same as the first, with warm vectors: its time is comparable
    # the library option that implements "eb hops=N" (ctxcompress/_bridge.py): must score the same
    "RelevanceFilter(entity_hops=1)": {"_lib": {"entity_hops": 1}},
    "RelevanceFilter(entity_hops=2)": {"_lib": {"entity_hops": 2}},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--titles", default="none,text")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--datasets", default="hotpotqa-train,musique")
    ap.add_argument("--data-dir", default="/work/shared/data")
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--variants", default="", help="comma-separated variant names (default: all)")
    ap.add_argument("--sample", type=int, default=None)
    args = ap.parse_args()
    counter = get_counter("o200k_base")
    emb = CachedEmbedder(get_embedder("onnx"), max_entries=1_000_000)
    names = [v for v in args.variants.split(",") if v] or list(VARIANTS)
    for titles in args.titles.split(","):
        qs = []
        for ds in args.datasets.split(","):
            loaded = load_dataset(ds, data_dir=args.data_dir, titles=titles, split=args.split)
            if args.sample and ds == "hotpotqa":
                from ctxcompress_eval._runner import sample_questions

                loaded = sample_questions(loaded, args.sample)
            qs += [(ds, q) for q in loaded if not q.yes_no]
        hits: dict[str, list[float]] = {}
        ms: dict[str, list[float]] = {}
        for name in names:
            kw = VARIANTS[name]
            if "_lib" in kw:
                f: RelevanceFilter = RelevanceFilter(embedder=emb, **kw["_lib"])
            else:
                f = EntityBridgeFilter(embedder=emb, **kw) if kw else RelevanceFilter(embedder=emb)
            hits[name], ms[name] = [], []
            for _, q in qs:
                chunks = [Chunk(p.text, id=p.id, metadata={"title": p.title}) for p in q.contexts]
                t0 = time.perf_counter()
                text = f.compress(chunks, query=q.question, budget=Budget(fraction=args.budget), counter=counter).text
                ms[name].append((time.perf_counter() - t0) * 1000)
                hits[name].append(float(answer_in_context(text, q.answers)))
        base = hits[names[0]]
        for ds in args.datasets.split(","):
            idx = [i for i, (d, _) in enumerate(qs) if d == ds]
            print(f"\n## titles={titles} split={args.split} {ds}: {len(idx)} span questions, {args.budget:.0%} kept")
            for name in names:
                h = [hits[name][i] for i in idx]
                d = [hits[name][i] - base[i] for i in idx]
                ci = bootstrap_ci(h)
                dci = bootstrap_ci(d)
                print(
                    f"{name:36s} {np.mean(h):.3f} [{ci[0]:.3f}-{ci[1]:.3f}]  diff {np.mean(d):+.3f} "  # type: ignore[index]
                    f"[{dci[0]:+.3f} {dci[1]:+.3f}]  median {np.median([ms[name][i] for i in idx]):.1f} ms",  # type: ignore[index]
                    flush=True,
                )


if __name__ == "__main__":
    main()
