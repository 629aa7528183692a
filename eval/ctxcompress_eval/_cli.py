"""``ctxcompress-eval``: run the evaluation, list methods and data sets, re-render a report."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ctxcompress import CtxCompressError
from ctxcompress import __version__ as _ctxcompress_version
from ctxcompress._cli import parse_budget

from ._datasets import DATASETS

EPILOG = """\
data sets: {datasets}, or a path to your own .jsonl / .jsonl.gz file: one question per line,
  {{"id"?: str, "question": str, "answers": [str, ...],
   "contexts": [{{"title": str, "text": str, "is_supporting"?: bool}}, ...]}}
  (the format of ctxcompress/data/hotpotqa_demo.jsonl). Single-passage sets (nq, xquad, pubmedqa) are
  retrieval-built: name@10, name@20 (top-k by dense retrieval over all passages of the split) or name@gold.

data folder: --data-dir, else $CTXCOMPRESS_DATA_DIR, else ../shared/data when it exists (a checkout of
  this repository); `ctxcompress-eval datasets` lists the sub-folder each named set is read from.

example:
  ctxcompress-eval run --dataset hotpotqa --data-dir ../shared/data \\
    --methods ctxcompress,langchain-embeddings-filter,llamaindex-sentence-optimizer,longllmlingua,random,none \\
    --budgets 0.5,0.25 --limit 100 --out reports/hotpot
"""


DATA_ENV = "CTXCOMPRESS_DATA_DIR"
"""Environment variable naming the folder of the named data sets (``--data-dir`` wins over it)."""
REPO_DATA = "../shared/data"
"""Where this repository keeps the data sets, next to a checkout: used when it exists and nothing else is set."""


def resolve_data_dir(flag: str | None) -> str | None:
    """The folder of the named data sets: ``--data-dir``, else ``$CTXCOMPRESS_DATA_DIR``, else
    ``../shared/data`` when that folder exists (a checkout of this repository), else None."""
    if flag:
        return flag
    env = os.environ.get(DATA_ENV)
    if env:
        return env
    return REPO_DATA if Path(REPO_DATA).is_dir() else None


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _budgets(text: str) -> list[float]:
    """Kept fractions, with the rule of ``ctxcompress --budget``: 0.25, 1.0, 1e-1 or 25%; no token counts."""
    out: list[float] = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        try:
            budget = parse_budget(item)
        except CtxCompressError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if budget.fraction is None:
            raise argparse.ArgumentTypeError(
                f"invalid budget {item!r}: budgets here are kept fractions (0.25, 1.0 or 25%), not token counts"
            )
        out.append(budget.fraction)
    if not out:
        raise argparse.ArgumentTypeError("no budgets given: e.g. 0.5,0.25")
    return out


def _ints(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid list of whole numbers {text!r}: e.g. 10,20") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"invalid list {text!r}: whole numbers >= 1, e.g. 10,20")
    return out


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: a whole number >= 1")
    return value


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(
        prog="ctxcompress-eval",
        description="Evaluate context compressors against each other at matched token budgets.",
        epilog=EPILOG.format(datasets=", ".join(DATASETS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=_version_line())
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser(
        "run",
        help="run an evaluation and write results.json, results.csv, report.md, report.html",
        epilog=EPILOG.format(datasets=", ".join(DATASETS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--dataset", required=True, help="comma-separated data set names or .jsonl paths")
    r.add_argument(
        "--data-dir",
        default=None,
        help=f"folder of the named data sets (default: ${DATA_ENV}, else {REPO_DATA} when it exists); "
        "not needed for .jsonl paths",
    )
    r.add_argument("--methods", default="ctxcompress,random,none", help="comma-separated method names")
    r.add_argument("--config", action="append", default=[], help="a pipeline YAML/JSON file to evaluate (repeatable)")
    r.add_argument(
        "--budgets",
        type=_budgets,
        default=[0.5, 0.25],
        help="comma-separated kept fractions in (0, 1]: a decimal point or an exponent (0.25, 1.0, 1e-1) or a "
        "percentage (25%%); whole numbers are token counts, which are not accepted here (default 0.5,0.25)",
    )
    r.add_argument("--limit", type=_positive, default=None, help="first N questions of each data set")
    r.add_argument(
        "--sample", type=_positive, default=None, help="a seeded random sample of N questions instead of the first N"
    )
    r.add_argument(
        "--titles",
        choices=("metadata", "text", "none"),
        default="metadata",
        help="passage titles: chunk metadata only (default), written into every passage's text, or none",
    )
    r.add_argument(
        "--split",
        choices=("report", "tune", "all"),
        default="report",
        help="the declared reporting questions (default), the tuning questions, or all",
    )
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--records", default=None, help="record store folder (default OUT/records); share it to reuse runs")
    r.add_argument(
        "--counter",
        "--model",
        dest="counter",
        default="o200k_base",
        help="token counter: a target model (gpt-4o, ...), an encoding (o200k_base, the default), approx or a "
        "tokenizer.json path; --model is an alias",
    )
    r.add_argument(
        "--embedder",
        default="onnx",
        help="embedder for every method: onnx (default: the library's default, MiniLM int8 on ONNX Runtime), "
        "st (MiniLM on sentence-transformers), default, fake, ...",
    )
    r.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed: --sample, the random baseline, the rgb passage order, the bootstrap (default 0)",
    )
    r.add_argument(
        "--workers", type=_positive, default=1, help="questions run in parallel: threads, or Ray actors (default 1)"
    )
    r.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local (default): threads in this process; ray: a local Ray cluster with --workers actors",
    )
    r.add_argument("--retrieval-k", type=_ints, default=[10], help="top-k for retrieval-built sets, e.g. 10,20")
    r.add_argument("--reader", default=None, help="optional reader LLM: smollm2, hf:<folder>, <module>:<attr>")
    r.add_argument(
        "--memory",
        choices=("rss", "tracemalloc", "off"),
        default="rss",
        help="peak memory per call: rss (default; native allocations included), tracemalloc (Python only) or off",
    )
    r.add_argument("--threads", type=_positive, default=1, help="torch / ONNX Runtime threads per process (default 1)")
    r.add_argument(
        "--embed-cache",
        action="store_true",
        help="share one embedding cache across methods and budgets (faster; latency then not comparable)",
    )
    r.add_argument("--lingua-model", default=None, help="model folder for longllmlingua (default: SmolLM2)")
    r.add_argument("--fresh", action="store_true", help="discard cached records of the methods run")
    r.add_argument(
        "--rescore", action="store_true", help="recompute the metrics of cached records from their stored text"
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    r.add_argument(
        "--html-examples",
        type=int,
        default=3,
        metavar="N",
        help="write, for the first N questions of each data set, an HTML view of what each ctxcompress method "
        "kept at each budget (OUT/examples/...), linked from report.html; 0: none (default 3)",
    )

    sub.add_parser("methods", help="list the registered methods")
    sub.add_parser("datasets", help="list the data sets")
    rep = sub.add_parser("report", help="re-render report.md/html/csv from OUT/results.json")
    rep.add_argument("out", help="the --out folder of an earlier run")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; a usage or input error is one line on stderr and exit status 2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return _main(args, argv)
    except (CtxCompressError, ValueError, OSError, ImportError, RuntimeError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ctxcompress-eval: error: {message}", file=sys.stderr)
        return 2


def _check_run_args(args: argparse.Namespace, methods: list[str]) -> None:
    """Cheap checks before models load: method names known, data folder present for named data sets."""
    from ._methods import expand_method_names, list_methods

    known = list_methods()
    for name in expand_method_names(methods):
        if name not in known and not name.startswith(("config:", "ctxcompress:")):
            raise ValueError(f"unknown method {name!r}; `ctxcompress-eval methods` lists them")
        if name.startswith("config:") and not Path(name.partition(":")[2]).is_file():
            raise ValueError(f"configuration file {name.partition(':')[2]!r} does not exist")
    for spec in _names(args.dataset):
        if spec.partition("@")[0] not in DATASETS:
            continue
        if args.data_dir is None:
            raise ValueError(
                f"no data folder for the data set {spec!r}: pass --data-dir DIR or set {DATA_ENV} "
                "(a .jsonl path needs neither)"
            )
        if not Path(args.data_dir).is_dir():
            raise ValueError(f"data folder {args.data_dir} does not exist (pass --data-dir DIR or set {DATA_ENV})")


def _version_line() -> str:
    from . import __version__

    return f"ctxcompress-eval {__version__} (ctxcompress {_ctxcompress_version})"


def _main(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    if args.command == "methods":
        from ._methods import list_methods

        for name, desc in list_methods().items():
            print(f"{name:40s} {desc}")
        return 0
    if args.command == "datasets":
        for name, ds in DATASETS.items():
            print(f"{name:16s} {ds.folder:30s} {ds.description}")
        return 0
    if args.command == "report":
        from ._report import load_results, write_all

        write_all(load_results(Path(args.out)), Path(args.out))
        return 0
    from ._config import RunConfig
    from ._runner import run

    args.data_dir = resolve_data_dir(args.data_dir)
    methods = _names(args.methods) + [f"config:{p}" for p in args.config]
    if not methods:
        raise ValueError("no methods given: e.g. --methods ctxcompress,random,none")
    _check_run_args(args, methods)
    cfg = RunConfig(
        datasets=_names(args.dataset),
        methods=methods,
        budgets=args.budgets,
        out=Path(args.out),
        data_dir=args.data_dir or ".",
        records=Path(args.records) if args.records else None,
        limit=args.limit,
        counter=args.counter,
        embedder=args.embedder,
        seed=args.seed,
        workers=args.workers,
        engine=args.engine,
        retrieval_k=args.retrieval_k,
        reader=args.reader,
        memory=args.memory,
        fresh=args.fresh,
        progress=not args.no_progress,
        lingua_model=args.lingua_model,
        threads=args.threads,
        embed_cache=args.embed_cache,
        rescore=args.rescore,
        sample=args.sample,
        titles=args.titles,
        split=args.split,
        html_examples=args.html_examples,
        command="ctxcompress-eval " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
    )
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
