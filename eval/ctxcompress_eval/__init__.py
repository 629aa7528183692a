"""ctxcompress-eval: the evaluation harness of ctxcompress.

Datasets (``load_dataset``), per-question metrics (``answer_in_context``, ``supporting_kept``,
``verbatim_rate``, reader EM/F1), a registry of methods with one interface (``Method.compress(question,
contexts, budget) -> MethodOutput``) including peer baselines, and a resumable runner (``run``) that
writes JSON, CSV, Markdown and HTML reports. The command line is ``ctxcompress-eval``.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from ._aggregate import aggregate
from ._config import RunConfig
from ._data import Passage, Question, render
from ._datasets import DATASETS, load_dataset, load_jsonl
from ._methods import (
    CompressorMethod,
    Method,
    MethodContext,
    MethodOutput,
    build_methods,
    list_methods,
    register_method,
)
from ._metrics import (
    answer_in_context,
    exact_match,
    f1_score,
    normalize_answer,
    substring_match,
    supporting_kept,
    verbatim_rate,
)
from ._report import pareto_front, write_all
from ._runner import run

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("ctxcompress-eval")
except _metadata.PackageNotFoundError:  # imported from a checkout without installing
    __version__ = "0+unknown"

__all__ = [
    "DATASETS",
    "CompressorMethod",
    "Method",
    "MethodContext",
    "MethodOutput",
    "Passage",
    "Question",
    "RunConfig",
    "__version__",
    "aggregate",
    "answer_in_context",
    "build_methods",
    "exact_match",
    "f1_score",
    "list_methods",
    "load_dataset",
    "load_jsonl",
    "normalize_answer",
    "pareto_front",
    "register_method",
    "render",
    "run",
    "substring_match",
    "supporting_kept",
    "verbatim_rate",
    "write_all",
]
