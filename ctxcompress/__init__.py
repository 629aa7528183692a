"""ctxcompress: compress retrieved context before it reaches an LLM, and report exactly what was saved.

>>> from ctxcompress import Pipeline, RedundancyFusion, RelevanceFilter, Budget
>>> pipe = Pipeline([("fuse", RedundancyFusion()), ("filter", RelevanceFilter())])
>>> result = pipe.compress(chunks, query="Who directed ...?", budget=Budget(max_tokens=300))  # doctest: +SKIP
>>> print(result.report.to_markdown())  # doctest: +SKIP

Importing this package is light: models and heavy libraries (torch, onnxruntime, faiss,
tiktoken) load on first use, and a missing one raises an error naming the extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._backends.cache import CachedEmbedder
from ._backends.embedders import OnnxEmbedder, SentenceTransformerEmbedder, default_embedder, get_embedder
from ._backends.scorers import BM25Scorer, EmbeddingScorer, OnnxCrossEncoder
from ._backends.tokens import ApproxCounter, HFTokenizerCounter, TiktokenCounter, for_model, get_counter
from ._compressors.long_context_reorder import LongContextReorder
from ._compressors.redundancy_fusion import RedundancyFusion
from ._compressors.relevance_filter import HybridWeights, RelevanceFilter
from ._core.compressor import Compressor
from ._core.errors import BackendError, ConfigError, CtxCompressError, InputError, MissingDependencyError
from ._core.pipeline import Pipeline, load_config
from ._core.protocols import LLM, Embedder, Scorer, TokenCounter, embedder_identity
from ._core.registry import register_type
from ._core.report import ChunkReport, SavingsReport, StageReport
from ._core.result import CompressionResult
from ._core.segment import Segment, split_sentences, split_words
from ._core.types import Budget, Chunk, Span
from ._demo import default_pipeline
from ._version import __version__

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors (nothing is imported)
    from ._backends.store import StoredEmbedder, StoreInfo, VectorStore, open_store
    from ._compressors.semantic_compressor import SemanticCompressor
    from ._compressors.summarizer import Summarizer
    from ._index import IndexReport, index_chunks
    from ._kg.loaders import load_graph
    from ._kg.pruner import KGSchemaPruner
    from ._lm.attention_filter import AttentionFilter
    from ._lm.token_pruner import TokenPruner
    from ._refiner.extract_restructure import ExtractRestructure
    from ._refiner.parser import parse_refiner_output
    from ._tune import TuneResult, read_dev_set, tune

# compressors whose modules pull optional dependencies load on first access
_LAZY: dict[str, str] = {
    "KGSchemaPruner": "._kg.pruner",
    "load_graph": "._kg.loaders",
    "SemanticCompressor": "._compressors.semantic_compressor",
    "Summarizer": "._compressors.summarizer",
    "ExtractRestructure": "._refiner.extract_restructure",
    "parse_refiner_output": "._refiner.parser",
    "AttentionFilter": "._lm.attention_filter",
    "TokenPruner": "._lm.token_pruner",
    "VectorStore": "._backends.store",
    "StoredEmbedder": "._backends.store",
    "StoreInfo": "._backends.store",
    "open_store": "._backends.store",
    "index_chunks": "._index",
    "IndexReport": "._index",
    "tune": "._tune",
    "TuneResult": "._tune",
    "read_dev_set": "._tune",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ctxcompress' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazily loaded ones included (without loading them)."""
    return sorted({*globals(), *_LAZY})


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
    "HybridWeights",
    "IndexReport",
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
    "StoreInfo",
    "StoredEmbedder",
    "Summarizer",
    "TiktokenCounter",
    "TokenCounter",
    "TokenPruner",
    "TuneResult",
    "VectorStore",
    "__version__",
    "default_embedder",
    "default_pipeline",
    "embedder_identity",
    "for_model",
    "get_counter",
    "get_embedder",
    "index_chunks",
    "load_config",
    "load_graph",
    "open_store",
    "parse_refiner_output",
    "read_dev_set",
    "register_type",
    "split_sentences",
    "split_words",
    "tune",
]
