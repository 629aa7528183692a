"""Knowledge-graph context (KG-RAG): link the question to graph nodes, verbalise their one-hop edges
with provenance, keep only the sentences that matter, and print what was saved.

    pip install 'ctxcompress[all]'        # networkx, onnxruntime and the offline MiniLM files
    python examples/kg_pruning.py [GRAPH_DIR ...]

Without arguments it uses the small Hetionet / DISEASES subsets in tests/fixtures/kg (CC0 / CC BY 4.0,
see SOURCE.md there); pass ../shared/data/hetionet_v1 ../shared/data/jensenlab_diseases for the full
merged graph (~50k nodes, ~200k edges).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local model files only

from ctxcompress import KGSchemaPruner

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "kg"
QUESTION = "Which genes are associated with multiple sclerosis and with psoriasis?"


def main() -> None:
    graphs = sys.argv[1:] or [str(FIXTURES / "hetionet_mini"), str(FIXTURES / "jensenlab_mini")]
    pruner = KGSchemaPruner(graphs, node_types=["Disease"])
    result = pruner.retrieve(QUESTION, counter="gpt-4o")
    print(f"Question: {QUESTION}\n")
    print(result.text)
    print()
    for chunk in result.chunks:
        facts = chunk.metadata.get("kg_facts", [])
        print(f"{chunk.id}: {len(facts)} facts kept, e.g. {facts[0] if facts else None}")
    print()
    print(result.report.to_markdown())


if __name__ == "__main__":
    main()
