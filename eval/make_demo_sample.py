"""Rebuild ``ctxcompress/data/hotpotqa_demo.jsonl``, the demo's embedded sample, by a declared rule.

Rule: the first 8 questions, in file order, of the HotpotQA distractor dev file
``hotpotqa_distractor_dev500/hotpotqa_dev_subsampled.dev.jsonl.gz`` (the development half that
``shared/data`` holds) that have exactly 10 paragraphs and a span answer (not yes/no). No HotpotQA
dev question is a tuning question (``ctxcompress_eval._protocol.TUNING``); the script checks the
chosen ids against the HotpotQA train sample the weights were tuned on all the same. The rule looks
at nothing the library computes, so the sample is not chosen by how well ctxcompress does on it.

Paragraph texts are kept verbatim (IRCoT joins a paragraph's sentences with two spaces).

    python eval/make_demo_sample.py --data-dir ../shared/data --out ctxcompress/data/hotpotqa_demo.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

N_QUESTIONS = 8
N_PARAGRAPHS = 10
DEV_FILE = "hotpotqa_distractor_dev500/hotpotqa_dev_subsampled.dev.jsonl.gz"
TRAIN_DIR = "hotpotqa_train100_hipporag"


def _rows(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _train_ids(data_dir: Path) -> set[str]:
    ids: set[str] = set()
    for path in sorted((data_dir / TRAIN_DIR).glob("*.json*")):
        for r in _rows(path):
            ids.add(str(r.get("_id", r.get("id", ""))))
    return ids


def pick(data_dir: Path) -> list[dict[str, Any]]:
    """The demo's questions in the demo's format (``id``, ``question``, ``answers``, ``contexts``)."""
    tuning = _train_ids(data_dir)
    out: list[dict[str, Any]] = []
    for r in _rows(data_dir / DEV_FILE):
        answers = [s for a in r["answers_objects"] for s in a.get("spans", [])]
        contexts = r["contexts"]
        if len(contexts) != N_PARAGRAPHS or not answers:
            continue
        if any(a.strip().lower() in ("yes", "no") for a in answers):
            continue
        if str(r["question_id"]) in tuning:  # pragma: no cover - dev and train ids never meet
            continue
        out.append(
            {
                "id": r["question_id"],
                "question": r["question_text"],
                "answers": answers,
                "contexts": [
                    {"title": c["title"], "text": c["paragraph_text"], "is_supporting": bool(c["is_supporting"])}
                    for c in contexts
                ],
            }
        )
        if len(out) == N_QUESTIONS:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = pick(args.data_dir)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for r in rows:
        print(r["id"], r["question"], r["answers"])


if __name__ == "__main__":
    main()
