"""Per-question records: :func:`make_record` (the metrics of one output) and the resumable :class:`RecordStore`.

Each dataset x method x budget has ``<records>/<dataset>/<method>@<budget>.jsonl``, one JSON line per
question, and a ``.meta.json`` fingerprint (method settings, counter, embedder, seed); a store made
with other settings is an error unless ``fresh=True`` discards it. A line cut by an interruption is
dropped when the store is opened, so that question runs again.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import _metrics as M
from ._data import Question, render
from ._methods import MethodContext
from ._reader import PROMPT

__all__ = ["RecordStore", "make_record", "store_folder"]


def make_record(
    question: Question,
    raw: dict[str, Any],
    ctx: MethodContext,
    budget: float,
    reader: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Per-question metrics of one compressed output (see ``_metrics`` for the definitions)."""
    full = render(question.contexts)
    tokens_in = ctx.count(full)
    text = raw["text"]
    tokens_out = ctx.count(text)
    cap = int(budget * tokens_in + 1e-9)
    sup_kept, sup_total = M.supporting_kept(text, question.contexts)
    vchars, tchars = M.verbatim_rate(text, [p.text for p in question.contexts])
    rec: dict[str, Any] = {
        "id": question.id,
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "cap": cap,
        "kept_fraction": tokens_out / tokens_in if tokens_in else 1.0,
        "over_budget": tokens_out > cap,
        "yes_no": question.yes_no,
        "answer_in_context": None if question.yes_no else M.answer_in_context(text, question.answers),
        "support_kept": sup_kept,
        "support_total": sup_total,
        "verbatim_chars": vchars,
        "total_chars": tchars,
        "ms": raw["ms"],
        "mem_bytes": raw["mem_bytes"],
        "gold_retrieved": question.meta.get("gold_retrieved"),
        "kept_ids": raw["kept"],
        "error": raw["error"],
        "meta": raw["meta"],
        "text": text,
    }
    if reader is not None:
        prediction = reader(PROMPT.format(context=text, question=question.question))
        rec.update(
            {
                "prediction": prediction,
                "em": M.exact_match(prediction, question.answers),
                "f1": M.f1_score(prediction, question.answers),
                "substring": M.substring_match(prediction, question.answers),
            }
        )
    return rec


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@=+-]+", "_", name)


def store_folder(dataset: str, titles: str) -> str:
    """``hotpotqa`` for the default titles setting, ``hotpotqa+titles=text`` for the others."""
    return _slug(dataset if titles == "metadata" else f"{dataset}+titles={titles}")


class RecordStore:
    """JSON lines of per-question records for one dataset x method x budget, with a fingerprint."""

    def __init__(self, folder: Path, method: str, budget: float, fingerprint: dict[str, Any], *, fresh: bool) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{_slug(method)}@{budget:g}"
        self.path = folder / f"{stem}.jsonl"
        self.meta_path = folder / f"{stem}.meta.json"
        self._lock = threading.Lock()
        fp = json.loads(json.dumps(fingerprint, default=str))
        if fresh:
            self.path.unlink(missing_ok=True)
            self.meta_path.unlink(missing_ok=True)
        if self.meta_path.is_file():
            stored = json.loads(self.meta_path.read_text(encoding="utf-8"))
            if stored != fp:
                raise RuntimeError(
                    f"{self.path} holds records made with other settings ({_diff(stored, fp)}); "
                    "rerun with --fresh to discard them, or use another --out/--records folder"
                )
        else:
            self.meta_path.write_text(json.dumps(fp, indent=2, sort_keys=True), encoding="utf-8")
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            good: list[str] = []
            damaged = False
            with self.path.open("r", encoding="utf-8") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except json.JSONDecodeError:
                        damaged = True  # a line cut by an interruption: that question runs again
                        continue
                    if not line.endswith("\n"):
                        damaged = True
                    good.append(json.dumps(r, ensure_ascii=False))
                    self.records[str(r["id"])] = r
            if damaged:  # rewrite without the cut line, so that appends start on a fresh line
                self.path.write_text("".join(g + "\n" for g in good), encoding="utf-8")

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace the store's content (used to rescore records with the current metric definitions)."""
        with self._lock:
            recs = list(records)
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
            tmp.replace(self.path)
            self.records = {str(r["id"]): r for r in recs}

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                f.flush()
            self.records[str(record["id"])] = record


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys)[:400]
