"""The ``ctxcompress`` command line: ``demo``, ``compress`` and ``kg``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ._base import CompressionResult
from ._errors import CtxCompressError, InputError
from ._types import Budget, Chunk

__all__ = ["main"]


def _budget(value: str) -> Budget:
    try:
        number = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid budget {value!r}: tokens (300) or a fraction (0.25)") from exc
    if 0 < number <= 1 and "." in value:
        return Budget(fraction=number)
    if number.is_integer() and number >= 0:
        return Budget(max_tokens=int(number))
    raise argparse.ArgumentTypeError(f"invalid budget {value!r}: tokens (300) or a fraction (0.25)")


def read_chunks(stream: TextIO) -> list[Chunk]:
    """JSON lines: ``{"id", "text", "metadata"}`` objects, JSON strings, or plain text lines."""
    chunks: list[Chunk] = []
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            item: Any = json.loads(line)
        except json.JSONDecodeError:
            item = line.rstrip("\n")
        if isinstance(item, str):
            chunks.append(Chunk(text=item))
        elif isinstance(item, dict):
            if "text" not in item or not isinstance(item["text"], str):
                raise InputError(f"line {n}: a chunk object needs a string 'text' field")
            chunks.append(Chunk.from_dict(item))
        else:
            raise InputError(f"line {n}: expected a JSON object or string, got {type(item).__name__}")
    return chunks


def _print_result(res: CompressionResult, args: argparse.Namespace) -> int:
    """Print a result as JSON (chunks with spans, text, report), the Markdown report, or the text."""
    report = res.report.with_price(args.price) if args.price is not None else res.report
    if args.format == "markdown":
        print(report.to_markdown(per_chunk=True))
    elif args.format == "text":
        print(res.text)
    else:
        out = {
            "chunks": [
                {
                    "id": c.id,
                    "text": c.text,
                    "metadata": dict(c.metadata),
                    "score": c.score,
                    "spans": [s.to_dict() for s in c.spans],
                }
                for c in res.chunks
            ],
            "text": res.text,
            "report": report.to_dict(),
        }
        print(json.dumps(out, ensure_ascii=False, indent=None if args.compact else 2, default=str))
    return 0


def _cmd_compress(args: argparse.Namespace) -> int:
    from ._demo import default_pipeline
    from ._pipeline import load_config

    stream: TextIO = open(args.input, encoding="utf-8") if args.input else sys.stdin  # noqa: SIM115
    try:
        chunks = read_chunks(stream)
    finally:
        if args.input:
            stream.close()
    comp = load_config(args.config) if args.config else default_pipeline()
    res = comp.compress(chunks, query=args.query, budget=args.budget, counter=args.model or args.counter)
    return _print_result(res, args)


def _cmd_kg(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from ._kg import KGSchemaPruner

    cache: str | None = None
    if not args.no_index_cache:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        cache = args.index_cache or str(Path(base) / "ctxcompress" / "kg")
    comp = KGSchemaPruner(
        args.graph[0] if len(args.graph) == 1 else args.graph,
        embedder=args.embedder,
        node_types=args.node_type or None,
        relation_types=args.relation or None,
        edge_properties=args.edge_property or (),
        percentile=args.percentile,
        min_similarity=args.min_similarity,
        context_volume=args.context_volume,
        output=args.output,
        index_cache=cache,
    )
    res = comp.retrieve(args.query, budget=args.budget, counter=args.model or args.counter)
    return _print_result(res, args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo
    from ._pipeline import load_config

    comp = load_config(args.config) if args.config else None
    run_demo(budget=args.budget, k=args.k, counter=args.model, compressor=comp, out=sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ctxcompress", description="Compress retrieved context for LLMs, offline.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="retrieve from a FAISS index over an embedded sample, compress, show savings")
    d.add_argument("--budget", type=float, default=0.25, help="kept fraction of the retrieved tokens (0.25)")
    d.add_argument("-k", type=int, default=10, help="passages retrieved per question (10)")
    d.add_argument("--model", default=None, help="target LLM or encoding for token counts (default o200k_base)")
    d.add_argument("--config", default=None, help="YAML/JSON pipeline configuration to use instead of the default")
    d.set_defaults(func=_cmd_demo)

    c = sub.add_parser("compress", help="compress JSON-lines chunks from stdin and print JSON")
    c.add_argument("--query", required=True, help="the question the context must answer")
    c.add_argument("--budget", type=_budget, default=None, help="max tokens (300) or kept fraction (0.25)")
    c.add_argument("--model", default=None, help="target LLM for exact token counts (gpt-4o, gpt-4, ...)")
    c.add_argument("--counter", default=None, help="token counter: o200k_base, cl100k_base, approx, tokenizer.json")
    c.add_argument("--config", default=None, help="YAML/JSON pipeline configuration (default: fuse + filter)")
    c.add_argument("--input", default=None, help="read chunks from this file instead of stdin")
    c.add_argument("--format", choices=("json", "markdown", "text"), default="json")
    c.add_argument("--price", type=float, default=None, help="price per 1M input tokens, to report cost saved")
    c.add_argument("--compact", action="store_true", help="one-line JSON")
    c.set_defaults(func=_cmd_compress)

    k = sub.add_parser("kg", help="link a question to a knowledge graph, prune its one-hop context, print JSON")
    k.add_argument("--graph", action="append", required=True, help="graph folder or edge list (repeat to merge)")
    k.add_argument("--query", required=True, help="the question")
    k.add_argument("--node-type", action="append", default=None, help="linkable node type, e.g. Disease (repeat)")
    k.add_argument("--relation", action="append", default=None, help="keep only this relation type (repeat)")
    k.add_argument("--edge-property", action="append", default=None, help="edge property to verbalise (repeat)")
    k.add_argument("--percentile", type=float, default=75.0, help="similarity percentile to beat (75)")
    k.add_argument("--min-similarity", type=float, default=0.5, help="minimum similarity (0.5)")
    k.add_argument("--context-volume", type=int, default=150, help="sentences kept in all, split per entity (150)")
    k.add_argument("--output", choices=("per_entity", "joined"), default="per_entity")
    k.add_argument("--embedder", default=None, help="embedder spec (default: the local all-MiniLM-L6-v2)")
    k.add_argument("--index-cache", default=None, help="folder for node-name embeddings (~/.cache/ctxcompress/kg)")
    k.add_argument("--no-index-cache", action="store_true", help="do not keep node-name embeddings on disk")
    k.add_argument("--budget", type=_budget, default=None, help="max tokens (300) or kept fraction (0.25)")
    k.add_argument("--model", default=None, help="target LLM for exact token counts (gpt-4o, gpt-4, ...)")
    k.add_argument("--counter", default=None, help="token counter: o200k_base, cl100k_base, approx, tokenizer.json")
    k.add_argument("--format", choices=("json", "markdown", "text"), default="json")
    k.add_argument("--price", type=float, default=None, help="price per 1M input tokens, to report cost saved")
    k.add_argument("--compact", action="store_true", help="one-line JSON")
    k.set_defaults(func=_cmd_kg)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CtxCompressError as exc:
        print(f"ctxcompress: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
