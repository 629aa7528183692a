"""``CtxCompressIndexer``: a LlamaIndex ``TransformComponent`` that precomputes ctxcompress sentence vectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_serializer, field_validator
from llama_index.core.schema import BaseNode, NodeWithScore, TransformComponent
from llama_index.postprocessor.ctxcompress.base import _compressor_from_config, _to_chunks

from ctxcompress import Compressor, IndexReport, default_pipeline, index_chunks
from ctxcompress.extend import resolve_store

__all__ = ["CtxCompressIndexer"]


class CtxCompressIndexer(TransformComponent):
    """Precompute, into a ``ctxcompress.VectorStore``, the sentence vectors that a
    :class:`CtxCompressPostprocessor` with the same ``compressor`` will need for these nodes.

    A step of an ``IngestionPipeline(transformations=[splitter, CtxCompressIndexer(store=...),
    embed_model])``: nodes pass through unchanged (the same objects). At query time
    ``CtxCompressPostprocessor(compressor=..., store=...)`` then embeds only the query. The strings
    embedded are the ones the compressor's scorers build (``ctxcompress.index_chunks``), from each
    node's text and metadata (its ``title``), as the postprocessor will see them. Nodes without text
    are skipped. ``last_report`` is the last call's ``ctxcompress.IndexReport``.
    """

    store: Any = Field(description="A ctxcompress.VectorStore or its file path (created when missing).")
    compressor: Any = Field(
        default_factory=default_pipeline,
        description="The ctxcompress Compressor or Pipeline used at query time (default: default_pipeline()).",
    )

    _last_report: IndexReport | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "CtxCompressIndexer"

    @field_validator("store", mode="before")
    @classmethod
    def _check_store(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("store is required: a ctxcompress.VectorStore or its file path")
        return resolve_store(value)

    @field_validator("compressor", mode="before")
    @classmethod
    def _check_compressor(cls, value: Any) -> Compressor:
        if value is None:
            return default_pipeline()
        if isinstance(value, Mapping):
            return _compressor_from_config(value)
        if not isinstance(value, Compressor):
            raise ValueError(f"compressor must be a ctxcompress Compressor or Pipeline, got {type(value).__name__}")
        return value

    @field_serializer("store")
    def _dump_store(self, value: Any) -> Any:
        return getattr(value, "path", repr(value))

    @field_serializer("compressor")
    def _dump_compressor(self, value: Compressor) -> dict[str, Any]:
        return value.to_dict()

    @property
    def last_report(self) -> IndexReport | None:
        """What the most recent call indexed (None before the first one)."""
        return self._last_report

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Store the vectors of the nodes' sentences; return the nodes unchanged."""
        chunks, _, _ = _to_chunks([NodeWithScore(node=n) for n in nodes])
        self._last_report = index_chunks(chunks, self.store, compressor=self.compressor)
        return nodes
