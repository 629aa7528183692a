"""Byte-identical output check: run the default pipeline and every compressor, digest every output.

Used to show that a refactoring changed no behaviour: run it on the commit before and the commit
after, then compare the two digest files.

    python eval/check_identical.py --data-dir ../shared/data --limit 250 --out /tmp/before.json
    # ... change the code ...
    python eval/check_identical.py --data-dir ../shared/data --limit 250 --out /tmp/after.json
    python eval/check_identical.py --compare /tmp/before.json /tmp/after.json

Every compressor runs on the HotpotQA distractor dev questions at a 25% budget (the compressors that
take a budget) and once without a budget, counted with o200k_base. Embedding compressors use the
real MiniLM (ONNX, the library default) through one shared cache, except ``SemanticCompressor``
(leave-one-out needs ~24 embeddings per sentence: it uses the deterministic ``FakeEmbedder``).
The language-model compressors (``AttentionFilter``, ``TokenPruner``) run on a tiny random-weight
Llama written once to ``--tiny-lm`` (pass the same folder to both runs), on the first
``--lm-limit`` questions: the point is that the same code path gives the same bytes, not quality.
``KGSchemaPruner`` runs on the small test graph in ``tests/fixtures/kg``.

The digest of one output covers its text, every chunk's id, text, metadata, score and spans, and
the report's token counts.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _digest(result: Any) -> str:
    chunks = [
        {
            "id": c.id,
            "text": c.text,
            "metadata": c.metadata,
            "score": c.score,
            "spans": [[s.source_id, s.start, s.end, s.out_start, s.out_end] for s in c.spans],
        }
        for c in result.chunks
    ]
    rep = result.report
    blob = json.dumps(
        {"text": result.text, "chunks": chunks, "in": rep.tokens_in, "out": rep.tokens_out},
        sort_keys=True,
        default=repr,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _hotpot(data_dir: Path, limit: int) -> list[dict[str, Any]]:
    from ctxcompress import Chunk

    path = data_dir / "hotpotqa_distractor_dev500" / "hotpotqa_dev_subsampled.dev.jsonl.gz"
    out: list[dict[str, Any]] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            chunks = [
                Chunk(c["paragraph_text"], id=str(c["id"]), metadata={"title": c["title"]}) for c in r["contexts"]
            ]
            out.append({"id": r["question_id"], "question": r["question_text"], "chunks": chunks})
            if len(out) >= limit:
                break
    return out


def _tiny_lm(folder: Path) -> Path:
    if (folder / "config.json").is_file():
        return folder
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from _tiny_lm import make_tiny_lm

    folder.mkdir(parents=True, exist_ok=True)
    return make_tiny_lm(folder, layers=4, seed=0, max_positions=4096)


def _methods(tiny_lm: Path | None) -> dict[str, Callable[[], Any]]:
    import ctxcompress as cc
    from ctxcompress.testing import FakeEmbedder

    shared = cc.CachedEmbedder(cc.default_embedder())
    fake = FakeEmbedder()
    m: dict[str, Callable[[], Any]] = {
        "default_pipeline": lambda: cc.Pipeline(
            [("fuse", cc.RedundancyFusion(embedder=shared)), ("filter", cc.RelevanceFilter(embedder=shared))]
        ),
        "relevance_hybrid": lambda: cc.RelevanceFilter(embedder=shared),
        "relevance_embedding": lambda: cc.RelevanceFilter(embedder=shared, scorer="embedding"),
        "relevance_bm25": lambda: cc.RelevanceFilter(scorer="bm25"),
        "relevance_document": lambda: cc.RelevanceFilter(embedder=shared, granularity="document"),
        "relevance_context": lambda: cc.RelevanceFilter(embedder=shared, context_window=1, top_k=5),
        "fusion": lambda: cc.RedundancyFusion(embedder=shared),
        "reorder": lambda: cc.LongContextReorder(embedder=shared),
        "semantic_fake": lambda: cc.SemanticCompressor(embedder=fake),
        "summarizer_extractive": lambda: cc.Summarizer(mode="extractive", embedder=shared),
        "refiner_embedding": lambda: cc.ExtractRestructure(embedder=shared),
    }
    if tiny_lm is not None:
        m["attention_filter_tiny"] = lambda: cc.AttentionFilter(model=str(tiny_lm), device="cpu", chat_template=False)
        m["token_pruner_tiny"] = lambda: cc.TokenPruner(model=str(tiny_lm), device="cpu")
    return m


def run(args: argparse.Namespace) -> int:
    import ctxcompress as cc

    questions = _hotpot(Path(args.data_dir), args.limit)
    counter = cc.get_counter("o200k_base")
    tiny = _tiny_lm(Path(args.tiny_lm)) if args.tiny_lm else None
    methods = _methods(tiny)
    if args.only:
        methods = {k: v for k, v in methods.items() if k in set(args.only.split(","))}
    digests: dict[str, dict[str, str]] = {}
    for name, build in methods.items():
        comp = build()
        limit = args.lm_limit if name.endswith("_tiny") else len(questions)
        t0 = time.perf_counter()
        rows: dict[str, str] = {}
        for q in questions[:limit]:
            for label, budget in (("b25", cc.Budget(fraction=0.25)), ("none", None)):
                res = comp.compress(q["chunks"], query=q["question"], budget=budget, counter=counter)
                rows[f"{q['id']}/{label}"] = _digest(res)
        digests[name] = rows
        print(f"{name}: {len(rows)} outputs in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    kg_dir = ROOT / "tests" / "fixtures" / "kg"
    if kg_dir.is_dir() and (not args.only or "kg" in args.only.split(",")):
        digests["kg_fixture"] = _kg(kg_dir)
    Path(args.out).write_text(json.dumps(digests, indent=1, sort_keys=True), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _kg(kg_dir: Path) -> dict[str, str]:
    import ctxcompress as cc
    from ctxcompress.testing import FakeEmbedder

    rows: dict[str, str] = {}
    graph = [str(kg_dir / "hetionet_mini"), str(kg_dir / "jensenlab_mini")]
    queries = ["What genes are associated with psoriasis?", "Which genes relate to multiple sclerosis?", "asthma"]
    for label, kw in (("defaults", {}), ("p50", {"percentile": 50.0}), ("joined", {"output": "joined"})):
        pruner = cc.KGSchemaPruner(graph, embedder=FakeEmbedder(), node_types=["Disease"], **kw)
        for q in queries:
            for blabel, budget in (("b200", cc.Budget(max_tokens=200)), ("none", None)):
                try:
                    res = pruner.compress([], query=q, budget=budget, counter="o200k_base")
                    rows[f"{label}/{q}/{blabel}"] = _digest(res)
                except cc.CtxCompressError as exc:
                    rows[f"{label}/{q}/{blabel}"] = "error:" + str(exc)
    return rows


def compare(a_path: str, b_path: str, *, common: bool = False) -> int:
    a = json.loads(Path(a_path).read_text(encoding="utf-8"))
    b = json.loads(Path(b_path).read_text(encoding="utf-8"))
    bad = 0
    for name in sorted(set(a) & set(b) if common else set(a) | set(b)):
        ra, rb = a.get(name, {}), b.get(name, {})
        keys = set(ra) & set(rb) if common else set(ra) | set(rb)
        diff = [k for k in sorted(keys) if ra.get(k) != rb.get(k)]
        status = "identical" if not diff else f"{len(diff)} differ (e.g. {diff[:3]})"
        print(f"{name}: {len(ra)} vs {len(rb)} outputs, {status}")
        bad += len(diff)
    print("IDENTICAL" if bad == 0 else f"DIFFERENT: {bad} outputs")
    return 0 if bad == 0 else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data", help="folder with hotpotqa_distractor_dev500/")
    p.add_argument("--limit", type=int, default=250, help="HotpotQA dev questions (default 250)")
    p.add_argument("--lm-limit", type=int, default=20, help="questions for the tiny-LM compressors")
    p.add_argument("--tiny-lm", default="/tmp/ctxcompress-tiny-lm", help="folder for the tiny Llama ('' to skip)")
    p.add_argument("--only", default="", help="comma-separated method names")
    p.add_argument("--out", default="identical.json", help="digest file to write")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="compare two digest files")
    p.add_argument("--common", action="store_true", help="with --compare: only the outputs both files hold")
    args = p.parse_args(argv)
    if args.compare:
        return compare(*args.compare, common=args.common)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
