"""The evaluation protocol: titles settings and the declared tuning vs reporting questions.

**Titles** (:func:`with_titles`, applied by ``load_dataset`` to every method's input): ``metadata``
keeps titles as passage metadata only (a method may read them; of the built-in methods only
ctxcompress does); ``text`` writes each title into its passage's text (:data:`TITLE_TEMPLATE`), so
every method sees it, it counts in the budget and in ``tokens_in``, and the metadata title is empty;
``none`` removes titles everywhere.

**Tuning and reporting questions** (:data:`TUNING`, :func:`split_questions`): the questions the
library's defaults were tuned on are declared here, and runs report on the others unless asked
otherwise (``split="report"``; ``"tune"`` for the tuning questions, ``"all"`` for both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ._data import Passage, Question, stable_seed

__all__ = ["SPLITS", "TITLES", "TITLE_TEMPLATE", "TUNING", "split_questions", "tuning_ids", "with_titles"]

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
  ``RelevanceFilter`` weights were chosen on this sample (``eval/tuning/sweep_relevance.py``). The
  demo's questions (``ctxcompress/data/hotpotqa_demo.jsonl``) are HotpotQA dev questions, not these.
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
        ranked = sorted(questions, key=lambda q: stable_seed("tuning", name, q.id))
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
