"""Questions, passages and the dataset loaders (one per format in ``../shared/data``, plus user JSON lines).

Every loader returns :class:`Question` objects: a question, its gold answers and the passages a
compressor sees (``contexts``), each passage with a title and, where the data set labels it, whether
it supports the answer. The context that every method compresses is :func:`render` of the passages:
passage texts joined by a blank line, titles *not* included (titles are metadata that methods may use).

Single-passage sets (NaturalQuestions oracle, XQuAD, PubMedQA) become multi-document by retrieval:
all passages of the split are embedded with the harness's embedder, indexed with FAISS (exact inner
product), and the top-k passages are retrieved for each question; the gold passage is marked
``is_supporting`` when it is among them, and ``meta["gold_retrieved"]`` records whether it was.

**Titles** (:func:`with_titles`, applied by :func:`load_dataset` to every method's input): ``metadata``
keeps titles as passage metadata only (a method may read them; of the built-in methods only
ctxcompress does); ``text`` writes each title into its passage's text (:data:`TITLE_TEMPLATE`), so
every method sees it, it counts in the budget and in ``tokens_in``, and the metadata title is empty;
``none`` removes titles everywhere.

**Tuning and reporting questions** (:data:`TUNING`, :func:`split_questions`): the questions the
library's defaults were tuned on are declared here, and runs report on the others unless asked
otherwise (``split="report"``; ``"tune"`` for the tuning questions, ``"all"`` for both).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATASETS",
    "SPLITS",
    "TITLES",
    "TITLE_TEMPLATE",
    "TUNING",
    "DatasetSpec",
    "Passage",
    "Question",
    "load_dataset",
    "load_jsonl",
    "parse_dataset_spec",
    "render",
    "split_questions",
    "tuning_ids",
    "with_titles",
]

SEPARATOR = "\n\n"
YES_NO = frozenset({"yes", "no"})


@dataclass(frozen=True)
class Passage:
    """One retrieved passage. ``is_supporting`` is ``None`` where the data set has no label."""

    id: str
    title: str
    text: str
    is_supporting: bool | None = None


@dataclass(frozen=True)
class Question:
    """A question, its acceptable answers and the passages to compress.

    ``label_answer`` marks answers that are labels rather than spans (yes/no/maybe): such questions are
    counted apart from answer-in-context recall (their answer is not expected to be in the text).
    """

    id: str
    question: str
    answers: tuple[str, ...]
    contexts: tuple[Passage, ...]
    label_answer: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def yes_no(self) -> bool:
        """True for questions whose answer is a label (yes/no/maybe), not a span of the context."""
        return self.label_answer or (bool(self.answers) and all(a.strip().lower() in YES_NO for a in self.answers))

    @property
    def n_supporting(self) -> int:
        return sum(1 for p in self.contexts if p.is_supporting)


def render(passages: Sequence[Passage]) -> str:
    """The prompt-ready context of the passages: their texts joined by a blank line (no titles)."""
    return SEPARATOR.join(p.text for p in passages)


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
            random.Random(_stable_seed(seed, "rgb", qid)).shuffle(ctx)
            yield Question(
                id=qid,
                question=r["query"],
                answers=tuple(_flatten_answers(r["answer"])),
                contexts=tuple(ctx),
                meta={"fakeanswer": r.get("fakeanswer"), "n_positive_wrong": len(r.get("positive_wrong", []))},
            )

    return _take(gen(), limit)


# --------------------------------------------------------------------------- single-passage sets
@dataclass(frozen=True)
class _SingleItem:
    """A question with the id of its gold passage in a corpus of passages."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold: str
    label_answer: bool = False


def _nq_corpus(folder: Path) -> tuple[list[Passage], list[_SingleItem]]:
    path = _find(folder, ["*.jsonl.gz", "*.jsonl"])
    passages: dict[tuple[str, str], Passage] = {}
    items: list[_SingleItem] = []
    for n, r in enumerate(_iter_jsonl(path)):
        ctx = r["ctxs"][0]
        key = (ctx.get("title", ""), ctx["text"])
        if key not in passages:
            passages[key] = Passage(f"nq{len(passages)}", key[0], key[1])
        items.append(_SingleItem(f"nq{n}", r["question"], tuple(r["answers"]), passages[key].id))
    return list(passages.values()), items


def _xquad_corpus(folder: Path) -> tuple[list[Passage], list[_SingleItem]]:
    path = _find(folder, ["*.json.gz", "*.json"])
    data = _read_json(path)
    passages: list[Passage] = []
    items: list[_SingleItem] = []
    for article in data["data"]:
        for pi, para in enumerate(article["paragraphs"]):
            pid = f"{article['title']}#{pi}"
            passages.append(Passage(pid, article["title"], para["context"]))
            for qa in para["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                items.append(_SingleItem(str(qa["id"]), qa["question"], answers, pid))
    return passages, items


def _pubmedqa_corpus(folder: Path) -> tuple[list[Passage], list[_SingleItem]]:
    """PubMedQA PQA-L: the passage is the abstract (its labelled sections joined by a space)."""
    path = _find(folder, ["*.json.gz", "*.json"])
    data = _read_json(path)
    passages: list[Passage] = []
    items: list[_SingleItem] = []
    for pmid, r in data.items():
        pid = f"pmid{pmid}"
        passages.append(Passage(pid, "", " ".join(r["CONTEXTS"])))
        items.append(_SingleItem(str(pmid), r["QUESTION"], (r["final_decision"],), pid, label_answer=True))
    return passages, items


Embed = Callable[[Sequence[str]], np.ndarray]


def retrieve_contexts(
    passages: Sequence[Passage],
    items: Sequence[_SingleItem],
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


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class DatasetSpec:
    """A data set by name: where its files live and how its contexts are built."""

    name: str
    folder: str
    description: str
    multi: Callable[[Path, int | None], list[Question]] | None = None
    corpus: Callable[[Path], tuple[list[Passage], list[_SingleItem]]] | None = None


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


# --------------------------------------------------------------------------- titles and the protocol
TITLES = ("metadata", "text", "none")
TITLE_TEMPLATE = "{title}\n{text}"
"""How ``titles="text"`` renders a passage: its title on a line of its own, then its text."""

SPLITS = ("report", "tune", "all")

TUNING: dict[str, str] = {
    "hotpotqa-train": "all",
    "musique": "half",
}
"""Declared tuning questions per data set (the others are reporting questions).

- ``hotpotqa-train`` (``hotpotqa_train100_hipporag``, 50 questions): ``all``. The hybrid
  ``RelevanceFilter`` weights were chosen on this sample (``eval/tuning/sweep_relevance.py``); the
  8 questions of ``ctxcompress/data/hotpotqa_demo.jsonl`` are among them.
- ``musique`` (``musique_train100_hipporag``, 50 questions): ``half``: the ``ceil(n/2)`` questions
  that come first when the file's questions are ordered by ``stable_seed("tuning", name, id)`` (a
  fixed hash of the id, independent of ``--seed``, ``--limit`` and ``--sample``): 25 tuning, 25 report.
- every other data set (HotpotQA dev included) holds reporting questions only. One tie between two
  weight settings was broken on HotpotQA dev before this protocol existed (eval/RESULTS.md says so).
"""


def tuning_ids(name: str, questions: Sequence[Question]) -> frozenset[str]:
    """The ids of the declared tuning questions among ``questions`` (all questions of the file)."""
    rule = TUNING.get(name)
    if rule is None:
        return frozenset()
    if rule == "all":
        return frozenset(q.id for q in questions)
    if rule == "half":
        ranked = sorted(questions, key=lambda q: _stable_seed("tuning", name, q.id))
        return frozenset(q.id for q in ranked[: (len(ranked) + 1) // 2])
    raise ValueError(f"unknown tuning rule {rule!r} for {name!r}")


def split_questions(name: str, questions: Sequence[Question], split: str) -> list[Question]:
    """The ``report``, ``tune`` or ``all`` questions of a whole data set file, in file order."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if split == "all":
        return list(questions)
    tune = tuning_ids(name, questions)
    return [q for q in questions if (q.id in tune) == (split == "tune")]


def with_titles(questions: Sequence[Question], titles: str) -> list[Question]:
    """Apply a titles setting (``metadata``, ``text``, ``none``) to the passages of ``questions``."""
    if titles not in TITLES:
        raise ValueError(f"titles must be one of {', '.join(TITLES)}; got {titles!r}")
    if titles == "metadata":
        return list(questions)
    out: list[Question] = []
    for q in questions:
        ctx = tuple(
            Passage(
                p.id,
                "",
                TITLE_TEMPLATE.format(title=p.title, text=p.text) if titles == "text" and p.title else p.text,
                p.is_supporting,
            )
            for p in q.contexts
        )
        out.append(replace(q, contexts=ctx))
    return out


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
        raise ValueError(f"{name} has no {split} questions (see ctxcompress_eval._data.TUNING); pass --split {other}")
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


def _stable_seed(*parts: object) -> int:
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(h, "little")


stable_seed = _stable_seed
