"""The dataset loaders (one per format in ``../shared/data``, plus user JSON lines) and their registry.

:func:`load_dataset` loads a data set by name or path, builds retrieval contexts for single-passage
sets (``_retrieval``), keeps the declared reporting or tuning questions and applies the titles setting
(``_protocol``).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ._data import Passage, Question, stable_seed
from ._protocol import SPLITS, TITLES, TUNING, tuning_ids, with_titles
from ._retrieval import CorpusItem, retrieve_contexts

__all__ = ["DATASETS", "DatasetSpec", "dataset_key", "load_dataset", "load_jsonl", "parse_dataset_spec"]


# --------------------------------------------------------------------------- file helpers
def _open_text(path: Path) -> Any:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not valid JSON: {exc}") from exc


def _read_json(path: Path) -> Any:
    with _open_text(path) as f:
        return json.load(f)


def _find(folder: Path, patterns: Sequence[str]) -> Path:
    """The one data file in ``folder`` matching the first pattern that matches anything."""
    if folder.is_file():
        return folder
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist (pass --data-dir, e.g. ../shared/data)")
    for pattern in patterns:
        found = sorted(folder.glob(pattern))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise FileNotFoundError(f"several files match {pattern} in {folder}: {[p.name for p in found]}")
    raise FileNotFoundError(f"no file matching {list(patterns)} in {folder}")


def _take(items: Iterator[Question], limit: int | None) -> list[Question]:
    out: list[Question] = []
    for q in items:
        if limit is not None and len(out) >= limit:
            break
        out.append(q)
    return out


# --------------------------------------------------------------------------- user JSON lines
def load_jsonl(path: str | Path, limit: int | None = None) -> list[Question]:
    """Load a user data set in the harness's JSON-lines format (``.jsonl`` or ``.jsonl.gz``).

    One question per line: ``{"id"?: str, "question": str, "answers": [str, ...],
    "contexts": [{"title": str, "text": str, "is_supporting"?: bool}, ...]}`` — the format of
    ``ctxcompress/data/hotpotqa_demo.jsonl``. ``id`` defaults to the line number; a context's id is its
    position. Optional ``"label_answer": true`` marks yes/no/maybe label answers.
    """
    p = Path(path)

    def gen() -> Iterator[Question]:
        for n, r in enumerate(_iter_jsonl(p)):
            for key in ("question", "answers", "contexts"):
                if key not in r:
                    raise ValueError(f"{p}: record {n} has no {key!r} (keys: {sorted(r)})")
            answers = r["answers"]
            if isinstance(answers, str):
                answers = [answers]
            contexts = []
            for i, c in enumerate(r["contexts"]):
                if isinstance(c, str):
                    c = {"text": c}
                if "text" not in c:
                    raise ValueError(f"{p}: record {n} context {i} has no 'text'")
                sup = c.get("is_supporting")
                contexts.append(
                    Passage(
                        id=str(c.get("id", i)),
                        title=str(c.get("title") or ""),
                        text=str(c["text"]),
                        is_supporting=None if sup is None else bool(sup),
                    )
                )
            yield Question(
                id=str(r.get("id", n)),
                question=str(r["question"]),
                answers=tuple(str(a) for a in answers),
                contexts=tuple(contexts),
                label_answer=bool(r.get("label_answer", False)),
                meta={k: v for k, v in r.items() if k in ("type", "level")},
            )

    return _take(gen(), limit)


# --------------------------------------------------------------------------- multi-document sets
def _hotpotqa(folder: Path, limit: int | None) -> list[Question]:
    """HotpotQA distractor, IRCoT processed format (``hotpotqa_distractor_dev500``)."""
    path = _find(folder, ["*.jsonl.gz", "*.jsonl"])

    def gen() -> Iterator[Question]:
        for r in _iter_jsonl(path):
            answers = [s for a in r["answers_objects"] for s in a.get("spans", [])]
            yield Question(
                id=str(r["question_id"]),
                question=r["question_text"],
                answers=tuple(answers),
                contexts=tuple(
                    Passage(str(c["id"]), c.get("title", ""), c["paragraph_text"], bool(c["is_supporting"]))
                    for c in r["contexts"]
                ),
            )

    return _take(gen(), limit)


def _hotpotqa_original(folder: Path, limit: int | None) -> list[Question]:
    """HotpotQA in its original distractor format (``hotpotqa_train100_hipporag``)."""
    path = _find(folder, ["*.jsonl.gz", "*.jsonl"])

    def gen() -> Iterator[Question]:
        for r in _iter_jsonl(path):
            gold_titles = {t for t, _ in r.get("supporting_facts", [])}
            contexts = tuple(
                Passage(str(i), title, "".join(sents).strip(), title in gold_titles)
                for i, (title, sents) in enumerate(r["context"])
            )
            yield Question(
                id=str(r["_id"]),
                question=r["question"],
                answers=(r["answer"],),
                contexts=contexts,
                meta={"type": r.get("type"), "level": r.get("level")},
            )

    return _take(gen(), limit)


def _musique(folder: Path, limit: int | None) -> list[Question]:
    """MuSiQue-Ans with 20 paragraphs (``musique_train100_hipporag``)."""
    path = _find(folder, ["*.jsonl.gz", "*.jsonl"])

    def gen() -> Iterator[Question]:
        for r in _iter_jsonl(path):
            yield Question(
                id=str(r["id"]),
                question=r["question"],
                answers=(r["answer"], *r.get("answer_aliases", [])),
                contexts=tuple(
                    Passage(str(c.get("idx", i)), c.get("title", ""), c["paragraph_text"], bool(c["is_supporting"]))
                    for i, c in enumerate(r["paragraphs"])
                ),
                meta={"hops": len(r.get("question_decomposition", []))},
            )

    return _take(gen(), limit)


def _flatten_answers(answer: Any) -> list[str]:
    if isinstance(answer, str):
        return [answer]
    out: list[str] = []
    for a in answer:
        out.extend(_flatten_answers(a))
    return list(dict.fromkeys(out))


def _rgb(folder: Path, limit: int | None, seed: int = 0) -> list[Question]:
    """RGB English counterfactual set: contexts = positive (supporting) + negative snippets, shuffled.

    The order is shuffled per question with a seed derived from the question id, so positives are not
    always first. ``positive_wrong`` (counterfactual) snippets and ``fakeanswer`` are kept in ``meta``
    but not given to the compressors. An answer that is a list of alternatives (dates written several
    ways) counts when any alternative is present.
    """
    path = _find(folder, ["*.jsonl.gz", "*.jsonl"])

    def gen() -> Iterator[Question]:
        for r in _iter_jsonl(path):
            qid = str(r["id"])
            pos = [Passage(f"pos{i}", "", t, True) for i, t in enumerate(r.get("positive", []))]
            neg = [Passage(f"neg{i}", "", t, False) for i, t in enumerate(r.get("negative", []))]
            ctx = pos + neg
            random.Random(stable_seed(seed, "rgb", qid)).shuffle(ctx)
            yield Question(
                id=qid,
                question=r["query"],
                answers=tuple(_flatten_answers(r["answer"])),
                contexts=tuple(ctx),
                meta={"fakeanswer": r.get("fakeanswer"), "n_positive_wrong": len(r.get("positive_wrong", []))},
            )

    return _take(gen(), limit)


def _nq_corpus(folder: Path) -> tuple[list[Passage], list[CorpusItem]]:
    path = _find(folder, ["*.jsonl.gz", "*.jsonl"])
    passages: dict[tuple[str, str], Passage] = {}
    items: list[CorpusItem] = []
    for n, r in enumerate(_iter_jsonl(path)):
        ctx = r["ctxs"][0]
        key = (ctx.get("title", ""), ctx["text"])
        if key not in passages:
            passages[key] = Passage(f"nq{len(passages)}", key[0], key[1])
        items.append(CorpusItem(f"nq{n}", r["question"], tuple(r["answers"]), passages[key].id))
    return list(passages.values()), items


def _xquad_corpus(folder: Path) -> tuple[list[Passage], list[CorpusItem]]:
    path = _find(folder, ["*.json.gz", "*.json"])
    data = _read_json(path)
    passages: list[Passage] = []
    items: list[CorpusItem] = []
    for article in data["data"]:
        for pi, para in enumerate(article["paragraphs"]):
            pid = f"{article['title']}#{pi}"
            passages.append(Passage(pid, article["title"], para["context"]))
            for qa in para["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                items.append(CorpusItem(str(qa["id"]), qa["question"], answers, pid))
    return passages, items


def _pubmedqa_corpus(folder: Path) -> tuple[list[Passage], list[CorpusItem]]:
    """PubMedQA PQA-L: the passage is the abstract (its labelled sections joined by a space)."""
    path = _find(folder, ["*.json.gz", "*.json"])
    data = _read_json(path)
    passages: list[Passage] = []
    items: list[CorpusItem] = []
    for pmid, r in data.items():
        pid = f"pmid{pmid}"
        passages.append(Passage(pid, "", " ".join(r["CONTEXTS"])))
        items.append(CorpusItem(str(pmid), r["QUESTION"], (r["final_decision"],), pid, label_answer=True))
    return passages, items


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class DatasetSpec:
    """A data set by name: where its files live and how its contexts are built."""

    name: str
    folder: str
    description: str
    multi: Callable[[Path, int | None], list[Question]] | None = None
    corpus: Callable[[Path], tuple[list[Passage], list[CorpusItem]]] | None = None


DATASETS: dict[str, DatasetSpec] = {
    "hotpotqa": DatasetSpec(
        "hotpotqa", "hotpotqa_distractor_dev500", "HotpotQA distractor dev (10 paragraphs, 2 supporting)", _hotpotqa
    ),
    "hotpotqa-train": DatasetSpec(
        "hotpotqa-train",
        "hotpotqa_train100_hipporag",
        "HotpotQA train sample, original format (10 paragraphs, 2 supporting)",
        _hotpotqa_original,
    ),
    "musique": DatasetSpec(
        "musique", "musique_train100_hipporag", "MuSiQue-Ans (20 paragraphs, 2-4 supporting)", _musique
    ),
    "rgb": DatasetSpec("rgb", "rgb_en_fact", "RGB English (positive + negative news snippets)", _rgb),
    "nq": DatasetSpec(
        "nq", "lost_in_the_middle_nq", "NaturalQuestions-Open oracle passages, retrieval-built", corpus=_nq_corpus
    ),
    "xquad": DatasetSpec("xquad", "xquad_en", "XQuAD English paragraphs, retrieval-built", corpus=_xquad_corpus),
    "pubmedqa": DatasetSpec(
        "pubmedqa", "pubmedqa_pqal", "PubMedQA PQA-L abstracts, retrieval-built (yes/no/maybe)", corpus=_pubmedqa_corpus
    ),
}


def parse_dataset_spec(spec: str, default_k: int = 10) -> tuple[str, int | None]:
    """``"nq@20"`` → ``("nq", 20)``; ``"nq@gold"`` → ``("nq", None)`` (the gold passage alone)."""
    name, _, arg = spec.partition("@")
    if not arg:
        return name, default_k
    if arg in ("gold", "oracle"):
        return name, None
    try:
        k = int(arg)
    except ValueError as exc:
        raise ValueError(f"invalid retrieval depth in {spec!r}: use name@10, name@20 or name@gold") from exc
    if k < 1:
        raise ValueError(f"retrieval depth must be >= 1 in {spec!r}")
    return name, k


def dataset_key(spec: str, default_k: int = 10) -> str:
    """The name results are filed under: ``hotpotqa``, ``nq@10``, ``mydata`` (a file's stem)."""
    if _is_path(spec):
        stem = Path(spec).name
        for suffix in (".gz", ".jsonl", ".json"):
            stem = stem.removesuffix(suffix)
        return stem
    name, k = parse_dataset_spec(spec, default_k)
    if DATASETS.get(name) is not None and DATASETS[name].corpus is not None:
        return f"{name}@{'gold' if k is None else k}"
    return name


def _is_path(spec: str) -> bool:
    return spec.endswith((".jsonl", ".jsonl.gz")) or "/" in spec or Path(spec).is_file()


def load_dataset(
    spec: str,
    *,
    data_dir: str | Path = "../shared/data",
    limit: int | None = None,
    default_k: int = 10,
    embedder: Any = None,
    cache_dir: Path | None = None,
    seed: int = 0,
    titles: str = "metadata",
    split: str = "all",
) -> list[Question]:
    """Load a data set by name (``hotpotqa``, ``musique``, ``nq@20``, ...) or a user JSON-lines path.

    ``limit`` keeps the first questions in file order (of the ``split``). Retrieval-built sets index
    every passage of the split (not only those of the first ``limit`` questions) with ``embedder`` (an
    object with ``encode`` and optionally ``encode_queries``); retrieval always embeds ``title: text``,
    so the retrieved passages are the same under every titles setting. ``split`` (``report``, ``tune``,
    ``all``) keeps the declared reporting or tuning questions (:data:`TUNING`; a data set without a
    declaration and a user file hold reporting questions only). ``titles`` is applied last
    (:func:`with_titles`), so it is the one place where every method's input gets its titles.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if titles not in TITLES:
        raise ValueError(f"titles must be one of {', '.join(TITLES)}; got {titles!r}")
    if _is_path(spec):
        if split == "tune":
            raise ValueError(f"{spec}: a user file holds reporting questions only; pass --split report or all")
        return with_titles(load_jsonl(spec, limit), titles)
    name, k = parse_dataset_spec(spec, default_k)
    ds = DATASETS.get(name)
    if ds is None:
        raise ValueError(f"unknown data set {name!r}: use one of {', '.join(DATASETS)} or a .jsonl path")
    folder = Path(data_dir) / ds.folder
    if name not in TUNING and split != "tune":
        return with_titles(_load_named(name, k, folder, limit, embedder, cache_dir, seed), titles)
    # the split is defined on the whole file: load it all, split, then take the first ``limit``
    every = _load_named(name, k, folder, None, embedder, cache_dir, seed)
    tune = tuning_ids(name, every)
    marked = [replace(q, meta={**q.meta, "tuning": q.id in tune}) for q in every]
    chosen = [q for q in marked if split == "all" or q.meta["tuning"] == (split == "tune")]
    if every and not chosen:
        other = "tune or all" if split == "report" else "report or all"
        raise ValueError(
            f"{name} has no {split} questions (see ctxcompress_eval._protocol.TUNING); pass --split {other}"
        )
    return with_titles(chosen[:limit] if limit is not None else chosen, titles)


def _load_named(
    name: str, k: int | None, folder: Path, limit: int | None, embedder: Any, cache_dir: Path | None, seed: int
) -> list[Question]:
    ds = DATASETS[name]
    if ds.multi is not None:
        return _rgb(folder, limit, seed) if name == "rgb" else ds.multi(folder, limit)
    assert ds.corpus is not None
    passages, items = ds.corpus(folder)
    items = items[:limit] if limit is not None else items
    enc = getattr(embedder, "encode", None)
    enc_q = getattr(embedder, "encode_queries", enc)
    name_key = f"{getattr(embedder, 'name', type(embedder).__name__)}"
    return retrieve_contexts(
        passages, items, k=k, embed_passages=enc, embed_queries=enc_q, cache_dir=cache_dir, cache_key=name_key
    )
