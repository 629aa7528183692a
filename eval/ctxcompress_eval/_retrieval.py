"""Retrieval-built contexts: single-passage sets (NaturalQuestions oracle, XQuAD, PubMedQA) made multi-document.

All passages of the split are embedded with the harness's embedder, indexed with FAISS (exact inner
product), and the top-k passages are retrieved for each question; the gold passage is marked
``is_supporting`` when it is among them, and ``meta["gold_retrieved"]`` records whether it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._data import Passage, Question

__all__ = ["CorpusItem", "retrieve_contexts"]


@dataclass(frozen=True)
class CorpusItem:
    """A question with the id of its gold passage in a corpus of passages."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold: str
    label_answer: bool = False


Embed = Callable[[Sequence[str]], np.ndarray]


def retrieve_contexts(
    passages: Sequence[Passage],
    items: Sequence[CorpusItem],
    *,
    k: int | None,
    embed_passages: Embed | None,
    embed_queries: Embed | None,
    cache_dir: Path | None = None,
    cache_key: str = "",
) -> list[Question]:
    """Build multi-document questions by dense retrieval of the top ``k`` passages (FAISS, exact IP).

    ``k=None`` is the oracle setting: the gold passage alone. Passage vectors are cached in
    ``cache_dir`` (keyed by ``cache_key`` and the corpus), so a resumed run does not embed again.
    """
    by_id = {p.id: p for p in passages}
    if k is None:
        return [
            Question(
                it.id,
                it.question,
                it.answers,
                (_gold(by_id[it.gold]),),
                it.label_answer,
                {"gold_retrieved": True},
            )
            for it in items
        ]
    if embed_passages is None or embed_queries is None:
        raise ValueError("retrieval needs an embedder")
    from ctxcompress._core.deps import require

    faiss = require("faiss", extra="faiss", purpose="the retrieval-built multi-document setting")
    texts = [f"{p.title}: {p.text}" if p.title else p.text for p in passages]
    digest = hashlib.sha1(("\x00".join(texts) + cache_key).encode("utf-8")).hexdigest()[:16]
    cache_file = cache_dir / f"passages-{digest}.npy" if cache_dir is not None else None
    if cache_file is not None and cache_file.is_file():
        vecs = np.load(cache_file)
    else:
        vecs = np.asarray(embed_passages(texts), dtype=np.float32)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache_file, vecs)
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(np.ascontiguousarray(vecs, dtype=np.float32))
    qv = np.ascontiguousarray(embed_queries([it.question for it in items]), dtype=np.float32)
    _, ids = index.search(qv, min(k, len(passages)))
    out: list[Question] = []
    for it, row in zip(items, ids, strict=True):
        got = [passages[int(i)] for i in row if i >= 0]
        hit = any(p.id == it.gold for p in got)
        ctx = tuple(_gold(p) if p.id == it.gold else _plain(p) for p in got)
        out.append(Question(it.id, it.question, it.answers, ctx, it.label_answer, {"gold_retrieved": hit}))
    return out


def _gold(p: Passage) -> Passage:
    return Passage(p.id, p.title, p.text, True)


def _plain(p: Passage) -> Passage:
    return Passage(p.id, p.title, p.text, False)
