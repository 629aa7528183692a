"""The ``ctxcompress`` command line: ``demo``, ``compress``, ``index``, ``batch``, ``tune`` and ``kg``."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import re
import sys
import zlib
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from ._core.errors import ConfigError, CtxCompressError, InputError
from ._core.result import CompressionResult
from ._core.types import Budget, Chunk
from ._version import __version__

__all__ = ["main", "parse_budget", "read_chunks"]


BUDGET_HELP = (
    "a whole number is tokens (300); a number with a decimal point or an exponent is a kept fraction "
    "in (0, 1] (0.25, 1.0, 1e-1); N%% is a percentage (25%%)"
)


COUNTER_HELP = (
    "token counter: a target model (gpt-4o, gpt-4, ...), an encoding (o200k_base, cl100k_base), approx, "
    "or a tokenizer.json path (default o200k_base)"
)
MODEL_HELP = "an alias of --counter (give one of them)"
FORMAT_HELP = (
    "json (default): chunks, text and report; markdown: the report; text: the compressed text; html: a "
    "self-contained page of every source chunk with the kept text highlighted and the dropped text greyed"
)

COMPRESS_EPILOG = """\
input (JSON lines, the default): one chunk per line, an object or a JSON string
  {"id": "p1", "text": "Paris is the capital of France. ...", "metadata": {"title": "Paris"}, "score": 0.9}
  "Berlin is the capital of Germany."
  id, metadata and score are optional. With --input-format text every non-blank line is one chunk.

output: JSON with the kept chunks (text, metadata, spans into the source text), the joined text and
the savings report; --format markdown prints the report, --format text the compressed text only,
--format html a self-contained page showing what was kept, merged and dropped in every chunk.

example:
  echo '{"id": "a", "text": "Paris is the capital of France. Cats sleep a lot."}' \\
    | ctxcompress compress --query "capital of France?" --budget 50% --format markdown
  ctxcompress compress --input chunks.jsonl --query "capital of France?" --budget 50% --format html > cut.html
"""

KG_EPILOG = """\
graphs (--graph, repeat to merge): a Hetionet folder (hetionet_v1), a JensenLab DISEASES folder, or an
  edge list (.csv, .tsv, .jsonl; .gz allowed) with the columns source, target, predicate and
  provenance (or source_db), and optionally source_name, target_name, source_type, target_type,
  relation, key; any other column becomes an edge property.

output: the same JSON as `ctxcompress compress`: the pruned sentences with their node ids, edge keys
and provenance in metadata["kg_facts"], and a report whose tokens_in is the full one-hop context.

example:
  ctxcompress kg --graph data/hetionet_v1 --graph data/jensenlab_diseases --node-type Disease \\
    --query "What genes are associated with psoriasis and Crohn's disease?" --budget 300
"""


def _counter_arg(args: argparse.Namespace) -> str | None:
    """The counter named by ``--counter`` or its alias ``--model`` (both, and different: an error)."""
    model, counter = getattr(args, "model", None), getattr(args, "counter", None)
    if model is not None and counter is not None and model != counter:
        raise ConfigError(f"--model {model!r} and --counter {counter!r} disagree: --model is an alias, give one")
    return counter if counter is not None else model


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_budget(value: str) -> Budget:
    """Parse a command-line budget with one rule.

    A whole number (``300``) is a token count; a number with a decimal point or an exponent
    (``0.25``, ``1.0``, ``1e-1``) is a kept fraction in (0, 1]; ``25%`` is a percentage in (0, 100].
    Anything else (``1.5``, ``-3``, ``nan``, ``300.0``) raises :class:`InputError`.
    """
    text = value.strip()
    if re.fullmatch(r"[0-9]+", text):
        return Budget(max_tokens=int(text))
    if re.fullmatch(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)%", text):
        pct = float(text[:-1])
        if not 0 < pct <= 100:
            raise InputError(f"invalid budget {value!r}: a percentage must be in (0%, 100%]")
        return Budget(fraction=pct / 100)
    if not re.fullmatch(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", text):
        raise InputError(f"invalid budget {value!r}: tokens (300), a fraction (0.25) or a percentage (25%)")
    number = float(text)
    if not 0 < number <= 1:
        hint = " (a token count is a whole number without a decimal point)" if number > 1 else ""
        raise InputError(f"invalid budget {value!r}: a fraction must be in (0, 1]{hint}")
    return Budget(fraction=number)


def _budget(value: str) -> Budget:
    try:
        return parse_budget(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(value: str) -> float:
    budget = _budget(value)
    if budget.fraction is None:
        raise argparse.ArgumentTypeError(
            f"invalid budget {value!r}: a kept fraction is needed here (0.25, 1.0 or 25%), not a token count"
        )
    return budget.fraction


def _price(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"invalid price {value!r}: a finite number >= 0 (dollars per 1M tokens)")
    return number


class _NonStandardJSON(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonStandardJSON(f"{name} is not valid JSON")


def _decode(raw: bytes | str, where: str) -> str:
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates: undecodable bytes read through a text layer
            raise InputError(f"{where}: not valid UTF-8 (undecodable character at column {exc.start + 1})") from None
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})") from None


def read_chunks(stream: Iterable[bytes | str], *, input_format: str = "jsonl", name: str = "input") -> list[Chunk]:
    """Read chunks from lines of UTF-8 text (a binary or text stream); blank lines are skipped.

    ``input_format="jsonl"`` (the default): each line is a JSON object ``{"id", "text", "metadata",
    "score"}`` or a JSON string. ``input_format="text"``: each line is one chunk's text, taken as is.
    A line that is not valid UTF-8, not valid JSON (``NaN`` and ``Infinity`` included) or not a chunk
    raises :class:`InputError` naming ``name`` and the line number.
    """
    if input_format not in ("jsonl", "text"):
        raise InputError(f"input_format must be 'jsonl' or 'text', got {input_format!r}")
    chunks: list[Chunk] = []
    for n, raw in enumerate(stream, 1):
        where = f"{name}, line {n}"
        line = _decode(raw, where)
        if n == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        if input_format == "text":
            chunks.append(Chunk(text=line.rstrip("\r\n")))
            continue
        try:
            item: Any = json.loads(line.rstrip("\r\n"), parse_constant=_reject_constant)
        except _NonStandardJSON as exc:
            raise InputError(f"{where}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{where}: not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno}); "
                "for plain text lines pass --input-format text"
            ) from None
        if isinstance(item, str):
            chunks.append(Chunk(text=item))
        elif isinstance(item, dict):
            if "text" not in item or not isinstance(item["text"], str):
                raise InputError(f"{where}: a chunk object needs a string 'text' field")
            try:
                chunks.append(Chunk.from_dict(item))
            except (InputError, ConfigError, KeyError, TypeError, ValueError) as exc:
                detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
                raise InputError(f"{where}: invalid chunk: {detail}") from None
        else:
            raise InputError(f"{where}: expected a JSON object or string, got {type(item).__name__}")
    return chunks


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats (NaN, Infinity: not JSON) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _emit(text: str) -> None:
    """Write ``text`` and a newline to stdout as UTF-8, whatever the locale; never invalid bytes."""
    data = (text + "\n").encode("utf-8", errors="replace")
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    sys.stdout.flush()
    buffer.write(data)
    buffer.flush()


def _print_result(res: CompressionResult, args: argparse.Namespace) -> int:
    """Print a result as JSON (chunks with spans, text, report), the Markdown report, or the text."""
    report = res.report.with_price(args.price) if args.price is not None else res.report
    if args.format == "markdown":
        _emit(report.to_markdown(per_chunk=True))
    elif args.format == "html":
        _emit(dataclasses.replace(res, report=report).to_html())
    elif args.format == "text":
        _emit(res.text)
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
        indent = None if args.compact else 2
        _emit(json.dumps(_json_safe(out), ensure_ascii=False, allow_nan=False, indent=indent, default=str))
    return 0


def _read_input(args: argparse.Namespace) -> list[Chunk]:
    fmt = args.input_format
    if args.input:
        try:
            with open(args.input, "rb") as fh:
                chunks = read_chunks(fh, input_format=fmt, name=args.input)
        except OSError as exc:
            raise InputError(f"cannot read --input {args.input}: {exc.strerror or exc}") from None
        source = args.input
    else:
        stdin = sys.stdin
        if stdin is None:
            raise InputError("no standard input: pass --input FILE")
        if stdin.isatty():
            print(
                "ctxcompress: reading chunks from standard input "
                f"({'JSON lines' if fmt == 'jsonl' else 'one per line'}; end with Ctrl-D), or pass --input FILE",
                file=sys.stderr,
            )
        chunks = read_chunks(getattr(stdin, "buffer", stdin), input_format=fmt, name="standard input")
        source = "standard input"
    if not chunks:
        raise InputError(f"no chunks in {source}: it is empty or has only blank lines")
    return chunks


def _cmd_compress(args: argparse.Namespace) -> int:
    from ._core.pipeline import load_config
    from ._demo import default_pipeline

    counter = _counter_arg(args)
    chunks = _read_input(args)
    comp = load_config(args.config) if args.config else default_pipeline()
    store = _open_store(args.store) if args.store else None
    res = comp.compress(chunks, query=args.query, budget=args.budget, counter=counter, store=store)
    return _print_result(res, args)


def _cmd_tune(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ._demo import default_pipeline
    from ._tune import tune, write_pipeline

    pipe = args.config or default_pipeline()
    result = tune(
        pipe,
        args.dev,
        tolerance=args.tolerance,
        stages=args.stage or None,
        counter=_counter_arg(args),
        limit=args.limit,
    )
    write_pipeline(result.pipeline, args.out)
    report = result.to_markdown()
    if args.report:
        Path(args.report).write_text(report, encoding="utf-8")
    if args.plot and not result.plot(args.plot):
        report += "\n(no plot: matplotlib is not installed)\n"
    _emit(report)
    return 0


def _open_store(path: str) -> Any:
    from ._backends.store import VectorStore

    return VectorStore(path)


def _cmd_index(args: argparse.Namespace) -> int:
    from ._core.pipeline import load_config
    from ._index import index_chunks

    comp = load_config(args.config) if args.config else None
    if args.ray:
        from .distributed import index_dataset

        if not args.input:
            raise InputError("--ray reads the corpus with Ray Data: pass --input PATH (a path every node can read)")
        with _open_store(args.store) as store:
            job = index_dataset(args.input, store, compressor=comp, workers=args.workers, address=args.ray_address)
            info = store.info()
        out = {**job.to_dict(), "dtype": info.dtype, "vectors": info.vectors, "file_bytes": info.file_bytes}
        _emit(json.dumps(out, ensure_ascii=False, indent=None if args.compact else 2))
        return 0
    chunks = _read_input(args)
    with _open_store(args.store) as store:
        report = index_chunks(chunks, store, compressor=comp)
        info = store.info()
    out = {**report.to_dict(), "dtype": info.dtype, "vectors": info.vectors, "file_bytes": info.file_bytes}
    _emit(json.dumps(out, ensure_ascii=False, indent=None if args.compact else 2))
    return 0


def _cmd_kg(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from ._kg.loaders import load_graph
    from ._kg.pruner import KGSchemaPruner

    counter = _counter_arg(args)
    try:  # read (and keep in load_graph's cache) up front, so that an unreadable file is one clear error
        load_graph(args.graph)
    except (OSError, EOFError, UnicodeDecodeError, zlib.error, csv.Error) as exc:
        detail = f"not valid UTF-8 text ({exc.reason})" if isinstance(exc, UnicodeDecodeError) else exc
        raise InputError(f"cannot read --graph {', '.join(args.graph)}: {detail}") from None
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
        format=args.render,
        index_cache=cache,
    )
    res = comp.retrieve(args.query, budget=args.budget, counter=counter)
    return _print_result(res, args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._core.pipeline import load_config
    from ._demo import run_demo

    comp = load_config(args.config) if args.config else None
    run_demo(budget=args.budget, k=args.k, counter=_counter_arg(args), compressor=comp, out=sys.stdout)
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from ._core.pipeline import load_config
    from .distributed import compress_records

    comp = load_config(args.config) if args.config else None
    job = compress_records(
        args.input,
        args.output,
        compressor=comp,
        budget=args.budget,
        counter=_counter_arg(args),
        store=args.store,
        workers=args.workers,
        address=args.ray_address,
    )
    _emit(json.dumps(job.to_dict(), ensure_ascii=False, indent=None if args.compact else 2))
    return 0


def _ray_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=_positive_int, default=2, help="Ray actors, one CPU each (2); on a local cluster, its CPUs"
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster to connect to (default: $RAY_ADDRESS, else a local cluster of --workers CPUs)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ctxcompress", description="Compress retrieved context for LLMs, offline.")
    p.add_argument("--version", action="version", version=f"ctxcompress {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="retrieve from a FAISS index over an embedded sample, compress, show savings")
    d.add_argument(
        "--budget", type=_fraction, default=0.25, help="kept fraction of the retrieved tokens: 0.25 (default) or 25%%"
    )
    d.add_argument("-k", type=int, default=10, help="passages retrieved per question (10)")
    d.add_argument("--counter", default=None, help=COUNTER_HELP)
    d.add_argument("--model", default=None, help=MODEL_HELP)
    d.add_argument("--config", default=None, help="YAML/JSON pipeline configuration to use instead of the default")
    d.set_defaults(func=_cmd_demo)

    c = sub.add_parser(
        "compress",
        help="compress JSON-lines chunks from stdin (or --input) and print JSON",
        description="Read chunks (JSON lines by default) from standard input or --input, compress them for "
        "--query, print JSON. Every line must be valid UTF-8; a line that is not valid JSON is an error "
        "(exit 2) unless --input-format text is given. Empty input is an error.",
        epilog=COMPRESS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--query", required=True, help="the question the context must answer")
    c.add_argument("--budget", type=_budget, default=None, help=BUDGET_HELP)
    c.add_argument("--counter", default=None, help=COUNTER_HELP)
    c.add_argument("--model", default=None, help=MODEL_HELP)
    c.add_argument("--config", default=None, help="YAML/JSON pipeline configuration (default: fuse + filter)")
    c.add_argument("--input", default=None, help="read chunks from this file instead of stdin")
    c.add_argument(
        "--input-format",
        choices=("jsonl", "text"),
        default="jsonl",
        help='jsonl (default): one {"id", "text", "metadata", "score"} object or JSON string per line; '
        "text: each non-blank line is one chunk, taken as is",
    )
    c.add_argument(
        "--format",
        choices=("json", "markdown", "text", "html"),
        default="json",
        help=FORMAT_HELP,
    )
    c.add_argument("--price", type=_price, default=None, help="price per 1M input tokens, to report cost saved")
    c.add_argument("--compact", action="store_true", help="one-line JSON")
    c.add_argument(
        "--store",
        default=None,
        help="SQLite file of precomputed sentence vectors (ctxcompress index); misses are added",
    )
    c.set_defaults(func=_cmd_compress)

    x = sub.add_parser(
        "index",
        help="embed JSON-lines chunks into a vector store, for compress --store",
        description="Read chunks (as for compress) and store, in the SQLite file --store, the vectors of every "
        "text the pipeline (default, or --config) embeds when compressing them; already stored texts are "
        "skipped. Prints a JSON summary.",
    )
    x.add_argument("--store", required=True, help="SQLite file of sentence vectors (created when missing)")
    x.add_argument("--config", default=None, help="YAML/JSON pipeline configuration (default: fuse + filter)")
    x.add_argument("--input", default=None, help="read chunks from this file instead of stdin")
    x.add_argument("--input-format", choices=("jsonl", "text"), default="jsonl", help="as for compress")
    x.add_argument("--compact", action="store_true", help="one-line JSON")
    x.add_argument(
        "--ray",
        action="store_true",
        help="segment and embed on Ray Data workers (pip install 'ctxcompress[ray]'); the store is written here",
    )
    _ray_options(x)
    x.set_defaults(func=_cmd_index)

    b = sub.add_parser(
        "batch",
        help="compress a JSON-lines file of (query, chunks) records on Ray",
        description='Read --input, one JSON record per line: {"id": ..., "query": "...", "chunks": [...]} '
        "(chunks as for compress), compress each on Ray Data workers (pip install 'ctxcompress[ray]') and write "
        '--output, one JSON line per record in input order: {"id", "query", "chunks", "text", "report"}, '
        'or {"id", "error"} for a record that could not be compressed. Prints a JSON summary.',
    )
    b.add_argument("--input", required=True, help="JSON-lines records (a path, folder or glob every node can read)")
    b.add_argument("--output", required=True, help="JSON-lines file to write (on this machine)")
    b.add_argument("--budget", type=_budget, default=None, help=BUDGET_HELP)
    b.add_argument("--counter", default=None, help=COUNTER_HELP)
    b.add_argument("--model", default=None, help=MODEL_HELP)
    b.add_argument("--config", default=None, help="YAML/JSON pipeline configuration (default: fuse + filter)")
    b.add_argument(
        "--store", default=None, help="vector store the workers read (ctxcompress index); on a disk they all see"
    )
    b.add_argument("--compact", action="store_true", help="one-line JSON")
    _ray_options(b)
    b.set_defaults(func=_cmd_batch)

    t = sub.add_parser(
        "tune",
        help="find the least kept fraction per pipeline stage that keeps answer recall on a dev set",
        description="For each stage in order (earlier stages held at their choice), the least kept fraction "
        "whose answer-in-context recall on --dev stays within --tolerance of the uncompressed context's; "
        "writes the pipeline with these stage budgets to --out and prints the report (Markdown).",
    )
    t.add_argument("--dev", required=True, help="dev set, JSON lines: question, answers, contexts")
    t.add_argument("--config", default=None, help="YAML/JSON pipeline configuration (default: fuse + filter)")
    t.add_argument("--out", required=True, help="tuned pipeline file to write (.json, or .yaml with PyYAML)")
    t.add_argument("--tolerance", type=float, default=0.02, help="recall allowed below uncompressed (0.02)")
    t.add_argument("--stage", action="append", default=None, help="tune only this step (repeat; default: all)")
    t.add_argument("--limit", type=int, default=None, help="use only the first N dev questions")
    t.add_argument("--report", default=None, help="also write the report to this Markdown file")
    t.add_argument("--plot", default=None, help="recall-vs-kept plot (PNG) when matplotlib is installed")
    t.add_argument("--counter", default=None, help=COUNTER_HELP)
    t.add_argument("--model", default=None, help=MODEL_HELP)
    t.set_defaults(func=_cmd_tune)

    k = sub.add_parser(
        "kg",
        help="link a question to a knowledge graph, prune its one-hop context, print JSON",
        description="Link the entities of --query to nodes of the graph(s), verbalise their one-hop edges as "
        "sentences with provenance, keep the sentences most similar to the question (KG-RAG), print JSON.",
        epilog=KG_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k.add_argument("--graph", action="append", required=True, help="graph folder or edge list (repeat to merge)")
    k.add_argument("--query", required=True, help="the question")
    k.add_argument("--node-type", action="append", default=None, help="linkable node type, e.g. Disease (repeat)")
    k.add_argument("--relation", action="append", default=None, help="keep only this relation type (repeat)")
    k.add_argument("--edge-property", action="append", default=None, help="edge property to verbalise (repeat)")
    k.add_argument("--percentile", type=float, default=75.0, help="similarity percentile to beat (75)")
    k.add_argument("--min-similarity", type=float, default=0.5, help="minimum similarity (0.5)")
    k.add_argument("--context-volume", type=int, default=150, help="sentences kept in all, split per entity (150)")
    k.add_argument(
        "--output",
        choices=("per_entity", "joined"),
        default="per_entity",
        help="per_entity (default): one chunk per linked entity; joined: one chunk",
    )
    k.add_argument(
        "--render",
        choices=("prose", "compact", "auto"),
        default="prose",
        help="prose (default): one sentence per edge; compact: one line per subject and relation; auto: the cheaper",
    )
    k.add_argument("--embedder", default=None, help="embedder spec (default: the local all-MiniLM-L6-v2)")
    k.add_argument("--index-cache", default=None, help="folder for node-name embeddings (~/.cache/ctxcompress/kg)")
    k.add_argument("--no-index-cache", action="store_true", help="do not keep node-name embeddings on disk")
    k.add_argument("--budget", type=_budget, default=None, help=BUDGET_HELP)
    k.add_argument("--counter", default=None, help=COUNTER_HELP)
    k.add_argument("--model", default=None, help=MODEL_HELP)
    k.add_argument(
        "--format",
        choices=("json", "markdown", "text", "html"),
        default="json",
        help=FORMAT_HELP,
    )
    k.add_argument("--price", type=_price, default=None, help="price per 1M input tokens, to report cost saved")
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
