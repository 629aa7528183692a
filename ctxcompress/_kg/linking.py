"""Entity linking for :class:`~ctxcompress.KGSchemaPruner`: find the graph nodes a question is about.

The :class:`NodeIndex` of a graph (built once per graph object, node types and relation types, and
reused by every call) holds an exact-name table (names and ``aliases``; case-insensitive, except
symbol-like single words such as gene symbols, which match case-sensitively) and, built on first
need, an embedding matrix of the names (a FAISS inner-product index when the node count is large
and faiss is installed, numpy otherwise), optionally saved to disk.

Linking a question (:meth:`NodeIndex.link`):

1. exact name/alias matches of the question's word n-grams, longest first;
2. the remaining n-grams of 2 to 6 words (not across punctuation, not starting or ending with a stopword)
   are embedded and matched to their nearest name; matches with cosine ``>= threshold`` are kept,
   best first, without overlap;
3. if nothing matched, the whole question is searched against the index and its ``fallback_k``
   nearest nodes are taken (KG-RAG's fallback, k = 5).

With an LLM entity extractor (KG-RAG's GPT step; prompt and answer parser in ``entities.py``), each
extracted string is matched exactly, else to its nearest node (k = 1), as the paper does.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import unicodedata
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._core.deps import require
from .._core.errors import MissingDependencyError
from .._core.log import timed
from .._core.protocols import Embedder, backend_name, call_backend, check_vectors
from .graph import check_graph
from .traversal import relation_matches

__all__ = ["STOPWORDS", "Link", "NodeIndex", "clear_indexes", "get_index"]

FAISS_MIN_NAMES = 20_000
"""Above this many indexed names, search with FAISS (when installed)."""

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def _read_stopwords() -> frozenset[str]:
    text = resources.files("ctxcompress._kg").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() if (w := line.strip()) and not w.startswith("#"))


STOPWORDS = _read_stopwords()
"""Words that do not start or end a candidate mention (and never match a node alone); read once from
the package's ``stopwords.txt``."""


def normalise(text: str, *, lower: bool = True) -> str:
    """Name normal form: NFKC, optionally lower-cased, words of letters/digits joined by one space."""
    text = unicodedata.normalize("NFKC", text)
    if lower:
        text = text.lower()
    return " ".join(_TOKEN.findall(text))


def _symbol_like(name: str) -> bool:
    """A single word with an upper-case letter after the first character (``HLA-B``, ``TNF``, ``CD24``)."""
    stripped = name.strip()
    if not stripped or any(c.isspace() for c in stripped):
        return False
    return any(c.isupper() for c in stripped[1:]) or (stripped.isupper() and len(stripped) <= 5)


@dataclass(frozen=True, slots=True)
class Link:
    """A question mention linked to a graph node."""

    node: Any
    name: str
    type: str
    mention: str
    score: float
    method: str  # "exact", "embedding", "llm", "llm-exact" or "question"
    start: int = -1
    end: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": str(self.node),
            "name": self.name,
            "type": self.type,
            "mention": self.mention,
            "score": round(float(self.score), 6),
            "method": self.method,
        }


@dataclass(frozen=True, slots=True)
class _Tok:
    lower: str
    cased: str
    start: int
    end: int
    brk: bool  # punctuation (, . ; : ? ! brackets, newline) separates it from the previous token


_BREAK = re.compile(r"[,.;:?!()\[\]{}\n]")


def _tokens(text: str) -> list[_Tok]:
    text = unicodedata.normalize("NFKC", text)
    out: list[_Tok] = []
    prev = 0
    for m in _TOKEN.finditer(text):
        out.append(_Tok(m.group().lower(), m.group(), m.start(), m.end(), bool(_BREAK.search(text, prev, m.start()))))
        prev = m.end()
    return out


class NodeIndex:
    """Names of the linkable nodes of a graph, with exact lookup and (lazily) embedding search.

    Linkable nodes: of the chosen ``node_types`` (``None``: all) and with at least one edge of the
    chosen ``relation_types`` (so every linked node has context).
    """

    def __init__(self, graph: Any, node_types: frozenset[str] | None, relation_types: frozenset[str] | None) -> None:
        check_graph(graph)
        self.graph = graph
        self.node_types = node_types
        self.relation_types = relation_types
        self.type_words = frozenset(normalise(str(t)) for _, t in graph.nodes(data="type"))
        has_edge: set[Any] = set()
        for u, v, d in graph.edges(data=True):
            if relation_matches(d, relation_types):
                has_edge.add(u)
                has_edge.add(v)
        nodes: list[Any] = []
        for n, attrs in graph.nodes(data=True):
            if n not in has_edge:
                continue
            if node_types is not None and str(attrs.get("type", "")).lower() not in node_types:
                continue
            nodes.append(n)
        self.nodes = nodes
        # one entry per (node, name or alias)
        self.strings: list[str] = []
        self.owner: list[int] = []
        self.exact_ci: dict[str, list[int]] = {}
        self.exact_cs: dict[str, list[int]] = {}
        self.max_words = 1
        for i, n in enumerate(nodes):
            attrs = graph.nodes[n]
            names = [str(attrs.get("name", n)), *(str(a) for a in (attrs.get("aliases") or ()))]
            seen: set[str] = set()
            for nm in names:
                key = normalise(nm)
                if not key or key in seen:
                    continue
                seen.add(key)
                self.strings.append(nm)
                self.owner.append(i)
                self.max_words = max(self.max_words, key.count(" ") + 1)
                if _symbol_like(nm):
                    self.exact_cs.setdefault(normalise(nm, lower=False), []).append(i)
                else:
                    self.exact_ci.setdefault(key, []).append(i)
        self._lock = threading.Lock()
        self._vectors: dict[tuple[int, str], tuple[Embedder, NDArray[np.float32], Any]] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    # ---------------------------------------------------------------- node info
    def info(self, i: int) -> tuple[Any, str, str]:
        n = self.nodes[i]
        attrs = self.graph.nodes[n]
        return n, str(attrs.get("name", n)), str(attrs.get("type", ""))

    # ---------------------------------------------------------------- embedding index
    def _matrix(self, embedder: Embedder, cache_dir: str | None) -> tuple[NDArray[np.float32], Any]:
        key = (id(embedder), str(getattr(embedder, "name", type(embedder).__name__)))
        with self._lock:
            hit = self._vectors.get(key)
            if hit is not None:
                return hit[1], hit[2]
            vecs = self._load_or_embed(embedder, cache_dir)
            index = None
            if len(self.strings) >= FAISS_MIN_NAMES and vecs.size:
                try:
                    faiss = require("faiss", extra="faiss", purpose="fast node search in large graphs")
                except MissingDependencyError:
                    faiss = None
                if faiss is not None:
                    index = faiss.IndexFlatIP(vecs.shape[1])
                    index.add(np.ascontiguousarray(vecs, dtype=np.float32))
            self._vectors[key] = (embedder, vecs, index)  # the embedder is kept so its id stays unique
            return vecs, index

    def _load_or_embed(self, embedder: Embedder, cache_dir: str | None) -> NDArray[np.float32]:
        path: Path | None = None
        if cache_dir:
            digest = hashlib.sha1(
                json.dumps([str(getattr(embedder, "name", "")), self.strings], ensure_ascii=False).encode("utf-8")
            ).hexdigest()[:20]
            path = Path(cache_dir).expanduser() / f"kg-names-{digest}.npy"
            if path.is_file():
                try:
                    cached = np.load(path)
                    if cached.shape[0] == len(self.strings):
                        return np.asarray(cached, dtype=np.float32)
                except (OSError, ValueError):
                    pass
        with timed(f"embedded {len(self.strings)} node names for the graph's node index"):
            vecs = _encode(embedder, self.strings)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, vecs)
                tmp.replace(path)
            except OSError:
                pass  # a cache that cannot be written is only slower
        return vecs

    def search(
        self, embedder: Embedder, texts: Sequence[str], k: int, cache_dir: str | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """For each text, the ``k`` best nodes: (cosines, node indices), best first; -1 pads."""
        vecs, index = self._matrix(embedder, cache_dir)
        n_texts = len(texts)
        if not n_texts or not len(self.strings):
            return np.zeros((n_texts, 0), np.float32), np.zeros((n_texts, 0), np.int64)
        q = _encode(embedder, list(texts))
        # search more strings than k: several strings (aliases) may belong to one node
        depth = min(len(self.strings), max(k * 4, k + 8))
        if index is not None:
            sims, idx = index.search(np.ascontiguousarray(q, dtype=np.float32), depth)
        else:
            allsims = q @ vecs.T
            if depth < allsims.shape[1]:
                part = np.argpartition(-allsims, depth - 1, axis=1)[:, :depth]
            else:
                part = np.tile(np.arange(allsims.shape[1]), (n_texts, 1))
            psims = np.take_along_axis(allsims, part, axis=1)
            order = np.argsort(-psims, axis=1, kind="stable")
            idx = np.take_along_axis(part, order, axis=1)
            sims = np.take_along_axis(psims, order, axis=1)
        out_s = np.full((n_texts, k), -np.inf, dtype=np.float32)
        out_i = np.full((n_texts, k), -1, dtype=np.int64)
        owner = self.owner
        for r in range(n_texts):
            seen: set[int] = set()
            j = 0
            for s, si in zip(sims[r], idx[r], strict=True):
                if si < 0:
                    continue
                node = owner[int(si)]
                if node in seen:
                    continue
                seen.add(node)
                out_s[r, j], out_i[r, j] = s, node
                j += 1
                if j == k:
                    break
        return out_s, out_i

    # ---------------------------------------------------------------- linking
    def exact(self, text: str) -> list[tuple[int, int, int]]:
        """Exact matches in ``text`` as (node index, first token, end token), longest first, no overlap."""
        toks = _tokens(text)
        found: list[tuple[int, int, int]] = []
        taken = [False] * len(toks)
        for length in range(min(self.max_words, len(toks)), 0, -1):
            for i in range(len(toks) - length + 1):
                if any(taken[i : i + length]):
                    continue
                span = toks[i : i + length]
                if length == 1 and (span[0].lower in STOPWORDS or span[0].lower in self.type_words):
                    continue
                hits = self.exact_cs.get(" ".join(t.cased for t in span))
                if hits is None:
                    hits = self.exact_ci.get(" ".join(t.lower for t in span))
                if not hits:
                    continue
                for node in hits:
                    found.append((node, i, i + length))
                for j in range(i, i + length):
                    taken[j] = True
        found.sort(key=lambda f: f[1])
        return found

    def link(
        self,
        question: str,
        embedder: Embedder,
        *,
        threshold: float,
        fallback_k: int,
        cache_dir: str | None = None,
        embed: bool = True,
        min_fuzzy_words: int = 2,
        max_fuzzy_words: int = 6,
    ) -> list[Link]:
        """Link ``question`` to nodes: exact n-grams, then embedded n-grams (``min_fuzzy_words`` to
        ``max_fuzzy_words`` words, see :class:`~ctxcompress.KGSchemaPruner`), then the whole question.

        Each node is linked once, at its first mention (a question may name an entity twice, e.g. an
        answer option listed twice). ``embed=False``: exact matches only (no model call).
        """
        toks = _tokens(question)
        links: list[Link] = []
        taken = [False] * len(toks)
        for node, i, j in self.exact(question):
            for t in range(i, j):
                taken[t] = True
            n, name, kind = self.info(node)
            if any(lk.node == n for lk in links):
                continue
            s, e = toks[i].start, toks[j - 1].end
            links.append(Link(n, name, kind, question[s:e], 1.0, "exact", s, e))
        # fuzzy: embed the n-grams that do not overlap an exact match
        cands: list[tuple[int, int]] = []
        for length in range(min_fuzzy_words, min(max_fuzzy_words, len(toks)) + 1):
            for i in range(len(toks) - length + 1):
                j = i + length
                if any(taken[i:j]):
                    continue
                first, last = toks[i].lower, toks[j - 1].lower
                if first in STOPWORDS or last in STOPWORDS or any(t.brk for t in toks[i + 1 : j]):
                    continue
                cands.append((i, j))
        if embed and cands and len(self):
            texts = [question[toks[i].start : toks[j - 1].end] for i, j in cands]
            sims, idx = self.search(embedder, texts, 1, cache_dir)
            scored = sorted(
                ((float(sims[c, 0]), c) for c in range(len(cands)) if idx[c, 0] >= 0 and sims[c, 0] >= threshold),
                key=lambda x: (-x[0], cands[x[1]][0] - cands[x[1]][1], cands[x[1]][0]),
            )
            linked = {lk.node for lk in links}
            for score, c in scored:
                i, j = cands[c]
                if any(taken[i:j]):
                    continue
                n, name, kind = self.info(int(idx[c, 0]))
                for t in range(i, j):
                    taken[t] = True
                if n in linked:
                    continue
                linked.add(n)
                s, e = toks[i].start, toks[j - 1].end
                links.append(Link(n, name, kind, question[s:e], score, "embedding", s, e))
        if embed and not links and question.strip() and len(self):
            links = self.nearest(question, embedder, fallback_k, method="question", cache_dir=cache_dir)
        links.sort(key=lambda lk: (lk.start if lk.start >= 0 else 1 << 30, -lk.score))
        return links

    def nearest(
        self, text: str, embedder: Embedder, k: int, *, method: str, cache_dir: str | None = None
    ) -> list[Link]:
        """The ``k`` nodes whose names are nearest to ``text``."""
        sims, idx = self.search(embedder, [text], k, cache_dir)
        out = []
        for s, i in zip(sims[0], idx[0], strict=True):
            if i < 0:
                continue
            n, name, kind = self.info(int(i))
            out.append(Link(n, name, kind, text, float(s), method))
        return out

    def link_entities(self, entities: Sequence[str], embedder: Embedder, *, cache_dir: str | None = None) -> list[Link]:
        """KG-RAG's step 2: each extracted entity string to its node (exact name first, else k = 1)."""
        links: list[Link] = []
        seen: set[Any] = set()
        for ent in entities:
            exact = self.exact(ent)
            whole = [e for e in exact if e[1] == 0 and e[2] == len(_tokens(ent))]
            if whole:
                n, name, kind = self.info(whole[0][0])
                lk = Link(n, name, kind, ent, 1.0, "llm-exact")
            else:
                found = self.nearest(ent, embedder, 1, method="llm", cache_dir=cache_dir)
                if not found:
                    continue
                lk = found[0]
            if lk.node not in seen:
                seen.add(lk.node)
                links.append(lk)
        return links


def _encode(embedder: Embedder, texts: list[str]) -> NDArray[np.float32]:
    if not texts:
        return np.zeros((0, 0), np.float32)
    what = f"embedder {backend_name(embedder)!r}"
    return check_vectors(what, call_backend(what, embedder.encode, texts), len(texts))


# --------------------------------------------------------------------------- index cache
_INDEX_LOCK = threading.Lock()
_INDEXES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], NodeIndex]] = weakref.WeakKeyDictionary()


def get_index(graph: Any, node_types: frozenset[str] | None, relation_types: frozenset[str] | None) -> NodeIndex:
    """The shared :class:`NodeIndex` of ``graph`` for these node and relation types.

    Built once per graph object (rebuilt when its node count changes; after other changes to a graph
    already indexed, call :func:`clear_indexes`).
    """
    key = (node_types, relation_types, graph.number_of_nodes())
    with _INDEX_LOCK:
        per_graph = _INDEXES.get(graph)
        if per_graph is None:
            per_graph = {}
            _INDEXES[graph] = per_graph
        hit = per_graph.get(key)
        if hit is not None:
            return hit
        for k in [k for k in per_graph if k[2] != key[2]]:
            del per_graph[k]
    index = NodeIndex(graph, node_types, relation_types)
    with _INDEX_LOCK:
        return per_graph.setdefault(key, index)


def clear_indexes(graph: Any = None) -> None:
    """Forget the node indexes (and their embeddings) of ``graph``, or of every graph."""
    with _INDEX_LOCK:
        if graph is None:
            _INDEXES.clear()
        else:
            _INDEXES.pop(graph, None)
