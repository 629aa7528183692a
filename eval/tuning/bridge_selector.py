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

Round 2 (``SelectorLab``, on top of one round of entity bridging): coverage / MMR selection
(``redundancy``, ``coverage``), the sentence before a kept one that points back (``pronoun``), the
ms-marco-MiniLM-L-12 cross-encoder on the top candidates (``ce_top``, ``ce_weight``) and a numpy
logistic combiner of the score's parts (``lr 2-fold``: fitted on one half of the tuning questions'
sentence labels, scored on the other; ``lr fitted`` with ``--lr-coefs``). Figures in eval/RESULTS.md.
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


_PRONOUN = re.compile(
    r"^(?:He|She|It|They|His|Her|Its|Their|This|These|Those|The (?:film|band|album|song|company|city|town|"
    r"team|club|game|show|series|book|novel|group|station|school|university|river|building|magazine|"
    r"newspaper|airport|village|county|party|station|church|play|character|novel|player|singer|actor))\b"
)
_WORD = re.compile(r"\w+")
_QSTOP_WORDS = (
    "the a an of in on at to for from by with and or is was were are be been what which who whom whose when "
    "where why how did does do that this these those as its it his her their they he she name named"
)
_QSTOP = frozenset(_QSTOP_WORDS.split())


def coverage_select(
    scores: NDArray[np.float64],
    vecs: NDArray[np.float64] | None,
    covers: Sequence[frozenset[int]],
    concept_w: Sequence[float],
    cost: Sequence[int],
    cap: int | None,
    *,
    redundancy: float,
    coverage: float,
) -> list[int]:
    """Greedy budgeted selection (Lin & Bilmes 2011 style): each step takes the unit that fits and
    maximises ``score + coverage * (weight of concepts it newly covers) - redundancy * (max cosine to a
    unit already taken)`` (MMR, Carbonell & Goldstein 1998). Returns the units in the order taken."""
    n = len(scores)
    left = set(range(n))
    taken: list[int] = []
    covered: set[int] = set()
    used = 0
    maxsim = np.zeros(n)
    while left:
        best, best_v = -1, -np.inf
        for i in left:
            if cap is not None and used + cost[i] > cap:
                continue
            gain = sum(concept_w[c] for c in covers[i] if c not in covered)
            v = scores[i] + coverage * gain - redundancy * maxsim[i]
            if v > best_v:
                best, best_v = i, v
        if best < 0:
            break
        left.discard(best)
        taken.append(best)
        used += cost[best]
        covered |= covers[best]
        if vecs is not None and redundancy:
            maxsim = np.maximum(maxsim, vecs @ vecs[best])
    return taken


class SelectorLab(RelevanceFilter):
    """Issue 14 §2 round 2: the hybrid (+ entity bridge) score, then coverage / MMR selection, pronoun
    neighbours, a cross-encoder on the top candidates, or a logistic combiner of the score's parts."""

    def __init__(
        self,
        *,
        hops: int = 1,
        redundancy: float = 0.0,
        coverage: float = 0.0,
        pronoun: bool = False,
        ce_top: int = 0,
        ce_weight: float = 0.0,
        lr: Sequence[float] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(entity_hops=0, **kw)
        self.hops, self.redundancy, self.coverage, self.pronoun = hops, redundancy, coverage, pronoun
        self.ce_top, self.ce_weight, self.lr = ce_top, ce_weight, lr
        self._ce: Any = None
        self.last: dict[str, Any] = {}

    def features(
        self, chunks: Sequence[Chunk], units: Sequence[Unit], query: str, ctx: CallContext
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(feature matrix, hybrid+bridge score, unit vectors). Features: cos, lex, chunk best, title
        bridge, lead, entity bridge, answer-type match, 1 (bias)."""
        from ctxcompress._compressors.bridging import entity_bridge, mentions, norm_title
        from ctxcompress._compressors.relevance_filter import _minmax

        w = self.weights
        titles = [chunk_title(c, self.title_key) for c in chunks]
        texts = [f"{titles[u.chunk]}: {u.text}" if titles[u.chunk] else u.text for u in units]
        emb = self._get_embedder()
        vecs = np.asarray(ctx.embed(emb, texts), dtype=np.float64)
        qv = ctx.embed(emb, [query], queries=True)[0]
        cos = (vecs @ qv).astype(np.float64)
        n_chunks = len(chunks)
        unit_chunk = np.array([u.chunk for u in units])
        lex = _minmax(self._bm25(query, units, titles))
        base = cos + w.lex * lex
        chunk_best = np.full(n_chunks, -np.inf)
        np.maximum.at(chunk_best, unit_chunk, base)
        chunk_best[~np.isfinite(chunk_best)] = 0.0
        order = np.argsort(-base, kind="stable")
        evidence = order[: w.n_evidence]
        ev_chunks = {int(unit_chunk[i]) for i in evidence}
        ev_text = " ".join(units[i].text for i in evidence).lower()
        qlow = query.lower()
        bridge = np.zeros(n_chunks)
        for ci in range(n_chunks):
            t = norm_title(titles[ci])
            if ci not in ev_chunks and mentions(ev_text, t, min_len=3, whole_words=False):
                bridge[ci] = 1.0
            elif mentions(qlow, t, min_len=3, whole_words=False):
                bridge[ci] = max(bridge[ci], w.title_in_query)
        lead = np.array([1.0 if u.index == 0 else 0.0 for u in units])
        total = base + w.doc * chunk_best[unit_chunk] + w.bridge * bridge[unit_chunk] + w.lead * lead
        eb = np.zeros(len(units))
        if self.hops:
            eb = entity_bridge(
                query,
                [c.text for c in chunks],
                [u.text for u in units],
                unit_chunk,
                [u.index for u in units],
                total,
                hops=self.hops,
            )
        pat = _YEAR if _WHEN.search(query) else _NUMBER if _HOW_MANY.search(query) else None
        at = np.array([1.0 if pat is not None and pat.search(u.text) else 0.0 for u in units])
        X = np.column_stack(
            [cos, lex, chunk_best[unit_chunk], bridge[unit_chunk], lead, eb / 0.5, at, np.ones(len(units))]
        )
        return X, total + eb, vecs

    def score_units(
        self, chunks: Sequence[Chunk], units: Sequence[Unit], query: str, ctx: CallContext
    ) -> NDArray[np.float64]:
        if not units or not query.strip():
            return super().score_units(chunks, units, query, ctx)
        X, score, vecs = self.features(chunks, units, query, ctx)
        if self.lr is not None:
            score = X @ np.asarray(self.lr, dtype=np.float64)
        if self.ce_top and self.ce_weight:
            if self._ce is None:
                from ctxcompress._backends.scorers import OnnxCrossEncoder

                self._ce = OnnxCrossEncoder(threads=1)
            top = np.argsort(-score, kind="stable")[: self.ce_top]
            titles = [chunk_title(c, self.title_key) for c in chunks]
            pairs = [
                f"{titles[units[i].chunk]}: {units[i].text}" if titles[units[i].chunk] else units[i].text for i in top
            ]
            ce = self._ce.score(query, pairs)
            score = score.copy()
            score[top] += self.ce_weight / (1.0 + np.exp(-ce))
        self.last = {"X": X, "vecs": vecs, "units": units}
        return score

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        if not (self.redundancy or self.coverage or self.pronoun) or not query.strip():
            return super()._compress(chunks, query=query, cap=cap, ctx=ctx)
        from ctxcompress._core.result import join_text
        from ctxcompress._core.select import build_chunks, drop_weakest, make_units

        units = make_units(chunks, self.granularity)
        if not units:
            return []
        scores = self.score_units(chunks, units, query, ctx)
        cost = [ctx.count(u.text) + 1 for u in units]
        vecs = self.last.get("vecs")
        # concepts: the query's content words and the bridge names of the 3 best units
        qwords = sorted({t for t in _WORD.findall(query.lower()) if t not in _QSTOP and len(t) > 2})
        order = np.argsort(-scores, kind="stable")
        qlow = query.lower()
        names = sorted({e.lower() for i in order[:3] for e in entities(units[int(i)].text) if e.lower() not in qlow})
        concepts = qwords + names
        low = [u.text.lower() for u in units]
        toks = [set(_WORD.findall(t)) for t in low]
        covers = []
        for i in range(len(units)):
            covers.append(
                frozenset(
                    [k for k, c in enumerate(qwords) if c in toks[i]]
                    + [len(qwords) + k for k, c in enumerate(names) if c in low[i]]
                )
            )
        df = [max(1, sum(1 for cv in covers if k in cv)) for k in range(len(concepts))]
        cw = [1.0 / math.sqrt(d) for d in df]
        if self.redundancy or self.coverage:
            taken = coverage_select(
                scores, vecs, covers, cw, cost, cap, redundancy=self.redundancy, coverage=self.coverage
            )
        else:
            from ctxcompress._core.select import fill_under_cap

            taken, _ = fill_under_cap([int(i) for i in order], cost.__getitem__, cap)
        chosen = set(taken)
        if not chosen:
            chosen = {int(order[0])}
        if self.pronoun:
            used = sum(cost[i] for i in chosen)
            for i in list(taken):
                j = i - 1
                back = units[i].index > 0 and j not in chosen and _PRONOUN.match(units[i].text) is not None
                if back and (cap is None or used + cost[j] <= cap):
                    chosen.add(j)
                    used += cost[j]
        out = build_chunks(chunks, units, sorted(chosen))
        if cap is not None and ctx.count(join_text(out)) > cap:
            strongest = sorted(chosen, key=lambda i: scores[i])[::-1]
            chosen = set(drop_weakest(chunks, units, strongest, cap, ctx.count))
            out = build_chunks(chunks, units, sorted(chosen))
        return out


def fit_logistic(
    X: NDArray[np.float64], y: NDArray[np.float64], *, l2: float = 1.0, iters: int = 50
) -> NDArray[np.float64]:
    """Logistic regression by Newton's method (deterministic; the bias column is not penalised)."""
    w = np.zeros(X.shape[1])
    pen = np.full(X.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        g = X.T @ (p - y) + pen * w
        H = (X * (p * (1 - p))[:, None]).T @ X + np.diag(pen) + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(H, g)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


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
    # round 2 (issue 14 §2, h14sel): on top of one round of entity bridging unless hops=0
    "lab eb1": {"_lab": {}},
    "mmr 0.2": {"_lab": {"redundancy": 0.2}},
    "mmr 0.5": {"_lab": {"redundancy": 0.5}},
    "cover 0.1": {"_lab": {"coverage": 0.1}},
    "cover 0.3": {"_lab": {"coverage": 0.3}},
    "cover 0.2 mmr 0.2": {"_lab": {"coverage": 0.2, "redundancy": 0.2}},
    "pronoun": {"_lab": {"pronoun": True}},
    "ce top20 w0.3": {"_lab": {"ce_top": 20, "ce_weight": 0.3}},
    "ce top20 w1": {"_lab": {"ce_top": 20, "ce_weight": 1.0}},
    "ce top10 w1": {"_lab": {"ce_top": 10, "ce_weight": 1.0}},
    "lr 2-fold": {"_lab": {}, "_lrcv": True},
    "lr fitted": {"_lab": {}, "_lrfit": True},
    # the library options that implement "mmr 0.5" / "cover 0.3" / "pronoun" (ctxcompress/_compressors/coverage.py)
    "lib entity_hops=1 redundancy=0.5": {"_lib": {"entity_hops": 1, "redundancy": 0.5}},
    "lib entity_hops=1 coverage=0.3": {"_lib": {"entity_hops": 1, "coverage": 0.3}},
    "lib entity_hops=1 pronoun_context": {"_lib": {"entity_hops": 1, "pronoun_context": True}},
}

LR_FEATURES = ("cos", "lex", "chunk_best", "title_bridge", "lead", "entity_bridge", "answer_type", "bias")


def _fold(qid: str) -> int:
    from ctxcompress_eval._data import stable_seed

    return stable_seed("lr-fold", qid) % 2


def _raw_records(data_dir: str) -> dict[str, dict[str, Any]]:
    import glob
    import gzip
    import json

    out: dict[str, dict[str, Any]] = {}
    for folder in ("hotpotqa_train100_hipporag", "musique_train100_hipporag"):
        for path in glob.glob(f"{data_dir}/{folder}/*.jsonl.gz"):
            with gzip.open(path, "rt") as fh:
                for line in fh:
                    r = json.loads(line)
                    out[str(r.get("_id", r.get("id")))] = r
    return out


def sentence_labels(q: Any, units: Sequence[Unit], raw: dict[str, Any]) -> NDArray[np.float64]:
    """1 for a unit that is a supporting sentence: HotpotQA's supporting facts (title, sentence index),
    MuSiQue: in a hop's supporting paragraph, the sentences holding that hop's answer (all of the
    paragraph's sentences when none does)."""
    y = np.zeros(len(units))
    if "supporting_facts" in raw:
        spans: dict[int, list[tuple[int, int]]] = {}
        facts = {(t, int(k)) for t, k in raw["supporting_facts"]}
        for ci, (title, sents) in enumerate(raw["context"]):
            joined = "".join(sents)
            lead = len(joined) - len(joined.lstrip())
            pos = 0
            for k, sent in enumerate(sents):
                if (title, k) in facts:
                    spans.setdefault(ci, []).append((pos - lead, pos - lead + len(sent)))
                pos += len(sent)
        for i, u in enumerate(units):
            for a, b in spans.get(u.chunk, []):
                if min(b, u.end) - max(a, u.start) > (u.end - u.start) / 2:
                    y[i] = 1.0
        return y
    for step in raw.get("question_decomposition", []):
        p = int(step["paragraph_support_idx"])
        ans = str(step["answer"]).lower()
        mine = [i for i, u in enumerate(units) if u.chunk == p]
        hit = [i for i in mine if ans and ans in units[i].text.lower()]
        for i in hit or mine:
            y[i] = 1.0
    return y


def lr_training(
    qs: Sequence[tuple[str, Any]], emb: Any, counter: Any, budget: float, data_dir: str
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """Per question: the feature matrix of its units and their sentence labels (:func:`sentence_labels`)."""
    raw = _raw_records(data_dir)
    f = SelectorLab(embedder=emb)
    Xs, ys = [], []
    for _, q in qs:
        chunks = [Chunk(p.text, id=p.id, metadata={"title": p.title}) for p in q.contexts]
        f.compress(chunks, query=q.question, budget=Budget(fraction=budget), counter=counter)
        Xs.append(f.last["X"])
        ys.append(sentence_labels(q, f.last["units"], raw[q.id]))
    return Xs, ys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--titles", default="none,text")
    ap.add_argument("--split", default="tune")
    ap.add_argument("--datasets", default="hotpotqa-train,musique")
    ap.add_argument("--data-dir", default="/work/shared/data")
    ap.add_argument("--budget", type=float, default=0.25)
    ap.add_argument("--variants", default="", help="comma-separated variant names (default: all)")
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--lr-coefs", default="", help="comma-separated coefficients for 'lr fitted' (LR_FEATURES)")
    ap.add_argument("--lr-l2", type=float, default=1.0)
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
        coefs: dict[int, NDArray[np.float64]] = {}
        if any("_lrcv" in VARIANTS[n] for n in names):
            Xs, ys = lr_training(qs, emb, counter, args.budget, args.data_dir)
            folds = [_fold(q.id) for _, q in qs]
            for k in (0, 1):
                tr = [i for i in range(len(qs)) if folds[i] != k]
                Xk, yk = np.vstack([Xs[i] for i in tr]), np.concatenate([ys[i] for i in tr])
                coefs[k] = fit_logistic(Xk, yk, l2=args.lr_l2)
            full = fit_logistic(np.vstack(Xs), np.concatenate(ys), l2=args.lr_l2)
            print(f"# titles={titles} lr fitted on all {len(qs)} questions ({', '.join(LR_FEATURES)}):")
            print("#   " + ",".join(f"{c:.4f}" for c in full), flush=True)
        for name in names:
            kw = VARIANTS[name]
            f: RelevanceFilter
            if "_lab" in kw:
                lab = SelectorLab(embedder=emb, **kw["_lab"])
                if kw.get("_lrfit"):
                    lab.lr = [float(c) for c in args.lr_coefs.split(",")]
                f = lab
            elif "_lib" in kw:
                f = RelevanceFilter(embedder=emb, **kw["_lib"])
            else:
                f = EntityBridgeFilter(embedder=emb, **kw) if kw else RelevanceFilter(embedder=emb)
            hits[name], ms[name] = [], []
            for _, q in qs:
                chunks = [Chunk(p.text, id=p.id, metadata={"title": p.title}) for p in q.contexts]
                if kw.get("_lrcv") and isinstance(f, SelectorLab):
                    f.lr = list(coefs[_fold(q.id)])
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
