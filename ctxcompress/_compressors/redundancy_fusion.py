"""Redundancy fusion: merge near-duplicate sentences across chunks (MCTF-style multi-criteria)."""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._core.compressor import Compressor, OnError
from .._core.context import CallContext
from .._core.protocols import Embedder
from .._core.select import Unit, make_units
from .._core.text import extract
from .._core.types import Chunk
from .._core.validate import validate_choice, validate_number

__all__ = ["RedundancyFusion"]

_WORD = re.compile(r"\w+")

MERGED_KEY = "ctxcompress.merged"
"""Metadata key listing the sources merged into a chunk's representative sentences."""


class RedundancyFusion(Compressor):
    """Merge near-duplicate sentences, keeping one representative per group.

    In the spirit of Multi-Criteria Token Fusion (Lee et al., CVPR 2024), a pair of sentences is
    fused by three criteria: their **similarity** (cosine of embeddings, at least
    ``similarity_threshold``), their **informativeness** for the query (a sentence that answers the
    query is the one kept, and a pair of highly informative sentences is merged last), and the
    **size** of the group formed (large groups are penalised by ``size_penalty`` and capped at
    ``max_group_size``), merged greedily by the combined score. The representative is the most
    query-relevant member; its chunk's metadata (key ``"ctxcompress.merged"``) records every merged
    source (id, offsets, similarity), so no provenance is lost.

    For speed, only sentences with a lexical near-duplicate candidate (word-set Jaccard of at least
    ``lexical_prefilter``; 0 compares every pair) are embedded: sentences that share few words are
    practically never above a 0.9 cosine, and most retrieved sentences have no duplicate at all.
    The candidates are found in time near-linear in the input (see :meth:`_candidate_pairs`);
    ``max_candidates`` bounds the partners one sentence is compared with.
    """

    def __init__(
        self,
        *,
        embedder: Embedder | str | None = None,
        similarity_threshold: float = 0.9,
        informativeness_weight: float = 0.1,
        size_penalty: float = 0.02,
        max_group_size: int = 8,
        cross_chunk_only: bool = True,
        lexical_prefilter: float = 0.3,
        max_candidates: int = 64,
        on_error: OnError = "raise",
    ) -> None:
        self.embedder = embedder
        self.similarity_threshold = validate_number(
            "similarity_threshold", similarity_threshold, low=-1.0, high=1.0, allow_none=False
        )
        self.informativeness_weight = validate_number(
            "informativeness_weight", informativeness_weight, low=0.0, allow_none=False
        )
        self.size_penalty = validate_number("size_penalty", size_penalty, low=0.0, allow_none=False)
        self.max_group_size = validate_number("max_group_size", max_group_size, low=2, integer=True, allow_none=False)
        self.cross_chunk_only = validate_choice("cross_chunk_only", cross_chunk_only, (True, False))
        self.lexical_prefilter = validate_number(
            "lexical_prefilter", lexical_prefilter, low=0.0, high=1.0, allow_none=False
        )
        self.max_candidates = validate_number("max_candidates", max_candidates, low=1, integer=True, allow_none=False)
        self.on_error = validate_choice("on_error", on_error, ("raise", "passthrough"))
        self._embedder_obj: Embedder | None = None

    def warm_up(self) -> None:
        self._get_embedder().encode(["warm up"])

    def embedding_texts(self, chunks: Sequence[Chunk]) -> list[tuple[Embedder, list[str]]]:
        """Every sentence of ``chunks``, as embedded (a call embeds only those with a near-duplicate)."""
        units = make_units(list(chunks), "sentence")
        return [(self._get_embedder(), [u.text for u in units])] if units else []

    def _candidate_pairs(self, units: list[Unit], chunk_of: list[int]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Pairs that may be near-duplicates: word-set Jaccard >= ``lexical_prefilter`` (all pairs if 0).

        Pairs are found without enumerating all of them (prefix filtering, as in set-similarity
        joins): words are ordered from the rarest to the most frequent, and two word sets with a
        Jaccard of at least ``t`` always share one of the first ``|x| - ceil(t * |x|) + 1`` words of
        each, so only those are indexed. Same-chunk pairs are never generated when
        ``cross_chunk_only``; each sentence looks at most ``max_candidates`` earlier sentences per
        indexed word (the most recent) and keeps at most ``max_candidates`` partners, which bounds
        the work on inputs full of repeated sentences. Pairs come sorted.
        """
        n = len(units)
        if self.lexical_prefilter <= 0:
            iu, ju = np.triu_indices(n, k=1)
            if self.cross_chunk_only and iu.size:
                keep = np.array(chunk_of)[iu] != np.array(chunk_of)[ju]
                iu, ju = iu[keep], ju[keep]
            return iu, ju
        t = float(self.lexical_prefilter)
        limit = self.max_candidates
        vocab: dict[str, int] = {}
        raw: list[list[int]] = []
        for u in units:
            raw.append(list(dict.fromkeys(vocab.setdefault(w, len(vocab)) for w in _WORD.findall(u.text.lower()))))
        df = [0] * len(vocab)
        for word_ids in raw:
            for w in word_ids:
                df[w] += 1
        # rank words from the rarest to the most frequent (ties by first appearance)
        rank = sorted(range(len(vocab)), key=lambda w: (df[w], w))
        pos = [0] * len(vocab)
        for r, w in enumerate(rank):
            pos[w] = r
        sets: list[frozenset[int]] = []
        prefixes: list[list[int]] = []
        for ids in raw:
            ids.sort(key=pos.__getitem__)
            size = len(ids)
            sets.append(frozenset(ids))
            prefixes.append(ids[: size - math.ceil(t * size - 1e-9) + 1] if size else [])
        del raw
        index: dict[int, list[int]] = {}
        # pairs as two flat int arrays (16 bytes a pair, not a tuple object each): on inputs full of
        # repeated sentences every sentence has up to ``max_candidates`` partners
        pairs_a: array[int] = array("q")
        pairs_b: array[int] = array("q")

        def query(b: int) -> None:
            found: set[int] = set()
            for w in prefixes[b]:
                post = index.get(w)
                if not post:
                    continue
                for a in reversed(post[-limit:]):
                    found.add(a)
                if len(found) >= limit:
                    break
            sb = sets[b]
            for a in found:
                sa = sets[a]
                k = len(sa & sb)
                if k and k / (len(sa) + len(sb) - k) >= t:
                    pairs_a.append(min(a, b))
                    pairs_b.append(max(a, b))

        def insert(b: int) -> None:
            for w in prefixes[b]:
                index.setdefault(w, []).append(b)

        i = 0
        while i < n:  # one chunk at a time: its sentences see only earlier chunks (or each other)
            j = i
            while j < n and chunk_of[j] == chunk_of[i]:
                j += 1
            for b in range(i, j):
                query(b)
                if not self.cross_chunk_only:
                    insert(b)
            if self.cross_chunk_only:
                for b in range(i, j):
                    insert(b)
            i = j
        iu = np.frombuffer(pairs_a, dtype=np.int64).astype(np.intp)
        ju = np.frombuffer(pairs_b, dtype=np.int64).astype(np.intp)
        order = np.lexsort((ju, iu))  # sorted pairs, as before
        return iu[order], ju[order]

    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        units = make_units(chunks, "sentence")
        if len(units) < 2:
            return list(chunks)
        n = len(units)
        chunk_of = [u.chunk for u in units]
        cand_i, cand_j = self._candidate_pairs(units, chunk_of)
        if cand_i.size == 0:
            ctx.details.update({"groups": 0, "merged_sentences": 0, "embedded_sentences": 0})
            return list(chunks)
        # only sentences that have a lexical near-duplicate candidate are embedded
        involved = np.unique(np.concatenate([cand_i, cand_j]))
        emb = self._get_embedder()
        sub = ctx.embed(emb, [units[i].text for i in involved])
        row = np.full(n, -1, dtype=np.intp)  # unit -> its row in ``sub`` (only involved units have one)
        row[involved] = np.arange(involved.size)
        info = np.zeros(n)
        if query.strip():
            info[involved] = sub @ ctx.embed(emb, [query], queries=True)[0]
        pair_sim = _pair_dots(sub, row[cand_i], row[cand_j])
        mask = pair_sim >= self.similarity_threshold
        pairs_i, pairs_j = cand_i[mask], cand_j[mask]
        ctx.details["embedded_sentences"] = int(involved.size)
        if pairs_i.size == 0:
            ctx.details.update({"groups": 0, "merged_sentences": 0})
            return list(chunks)
        # criteria 1 and 2: similar, and not both highly informative
        base = pair_sim[mask] - self.informativeness_weight * np.minimum(info[pairs_i], info[pairs_j])
        parent = list(range(n))
        size = [1] * n

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for k in np.argsort(-base, kind="stable"):
            a, b = find(int(pairs_i[k])), find(int(pairs_j[k]))
            if a == b:
                continue
            new_size = size[a] + size[b]
            # criterion 3: size — penalise large groups, never exceed the cap
            if new_size > self.max_group_size:
                continue
            if base[k] - self.size_penalty * (new_size - 2) < self.similarity_threshold - self.informativeness_weight:
                continue
            parent[b] = a
            size[a] = new_size
        groups: dict[int, list[int]] = {}
        for i in range(n):
            groups.setdefault(find(i), []).append(i)
        keep: set[int] = set()
        merged: dict[int, list[dict[str, Any]]] = {}
        n_groups = 0
        for members in groups.values():
            if len(members) == 1:
                keep.add(members[0])
                continue
            n_groups += 1
            rep = max(members, key=lambda i: (info[i], -i))
            keep.add(rep)
            for m in members:
                if m == rep:
                    continue
                u = units[m]
                src = chunks[u.chunk]
                for sp in src.trace(u.start, u.end, out_start=0):
                    merged.setdefault(units[rep].chunk, []).append(
                        {
                            "source_id": sp.source_id,
                            "start": sp.start,
                            "end": sp.end,
                            "similarity": round(float(sub[row[rep]] @ sub[row[m]]), 4),
                        }
                    )
        kept_ranges: dict[int, list[tuple[int, int]]] = {}
        for i in sorted(keep):
            kept_ranges.setdefault(units[i].chunk, []).append((units[i].start, units[i].end))
        out: list[Chunk] = []
        for ci, ch in enumerate(chunks):
            ranges = kept_ranges.get(ci)
            piece = extract(ch, ranges) if ranges else None
            if piece is None:
                continue
            if ci in merged:
                prior = list(piece.metadata.get(MERGED_KEY, ()))
                piece = piece.replace(metadata={**piece.metadata, MERGED_KEY: prior + merged[ci]})
            out.append(piece)
        ctx.details.update({"groups": n_groups, "merged_sentences": n - len(keep)})
        return out


def _pair_dots(vecs: NDArray[np.float32], rows_i: NDArray[np.intp], rows_j: NDArray[np.intp]) -> NDArray[np.float32]:
    """Row-wise dot products ``vecs[rows_i[k]] . vecs[rows_j[k]]``, in blocks: gathering all pairs'
    vectors at once would take pairs x dimension x 4 bytes (gigabytes on large repetitive inputs)."""
    out = np.empty(rows_i.size, dtype=np.result_type(vecs.dtype, np.float32))
    step = 65536
    for s in range(0, rows_i.size, step):
        e = s + step
        out[s:e] = np.einsum("ij,ij->i", vecs[rows_i[s:e]], vecs[rows_j[s:e]])
    return out
