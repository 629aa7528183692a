"""ctxcompress: compress retrieved context before it reaches an LLM, and report exactly what was saved.

>>> from ctxcompress import Pipeline, RedundancyFusion, RelevanceFilter, Budget
>>> pipe = Pipeline([("fuse", RedundancyFusion()), ("filter", RelevanceFilter())])
>>> result = pipe.compress(chunks, query="Who directed ...?", budget=Budget(max_tokens=300))  # doctest: +SKIP
>>> print(result.report.to_markdown())  # doctest: +SKIP

Importing this package is light: models and heavy libraries (torch, onnxruntime, faiss,
tiktoken) load on first use, and a missing one raises an error naming the extra to install.
"""

from __future__ import annotations

from ._base import CompressionResult, Compressor
from ._demo import default_pipeline
from ._embed import CachedEmbedder, OnnxEmbedder, SentenceTransformerEmbedder, default_embedder, get_embedder
from ._errors import BackendError, ConfigError, CtxCompressError, InputError, MissingDependencyError
from ._fusion import RedundancyFusion
from ._pipeline import Pipeline, load_config
from ._protocols import LLM, Embedder, Scorer, TokenCounter
from ._registry import register_type
from ._relevance import RelevanceFilter
from ._reorder import LongContextReorder
from ._report import ChunkReport, SavingsReport, StageReport
from ._rerank import BM25Scorer, EmbeddingScorer, OnnxCrossEncoder
from ._segment import Segment, split_sentences, split_words
from ._tokens import ApproxCounter, HFTokenizerCounter, TiktokenCounter, for_model, get_counter
from ._types import Budget, Chunk, Span

__version__ = "0.1.0"

# compressors whose modules pull optional dependencies load on first access
_LAZY: dict[str, str] = {
    "KGSchemaPruner": "._kg",
    "load_graph": "._kg",
    "SemanticCompressor": "._semantic",
    "Summarizer": "._summarize",
    "ExtractRestructure": "._refiner",
    "parse_refiner_output": "._refiner",
    "AttentionFilter": "._gemfilter",
    "TokenPruner": "._token_pruner",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ctxcompress' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [  # noqa: RUF022 - plain sorted order, checked by a test
    "ApproxCounter",
    "AttentionFilter",
    "BM25Scorer",
    "BackendError",
    "Budget",
    "CachedEmbedder",
    "Chunk",
    "ChunkReport",
    "CompressionResult",
    "Compressor",
    "ConfigError",
    "CtxCompressError",
    "Embedder",
    "EmbeddingScorer",
    "ExtractRestructure",
    "HFTokenizerCounter",
    "InputError",
    "KGSchemaPruner",
    "LLM",
    "LongContextReorder",
    "MissingDependencyError",
    "OnnxCrossEncoder",
    "OnnxEmbedder",
    "Pipeline",
    "RedundancyFusion",
    "RelevanceFilter",
    "SavingsReport",
    "Scorer",
    "Segment",
    "SemanticCompressor",
    "SentenceTransformerEmbedder",
    "Span",
    "StageReport",
    "Summarizer",
    "TiktokenCounter",
    "TokenCounter",
    "TokenPruner",
    "__version__",
    "default_embedder",
    "default_pipeline",
    "for_model",
    "get_counter",
    "get_embedder",
    "load_config",
    "load_graph",
    "parse_refiner_output",
    "register_type",
    "split_sentences",
    "split_words",
]
