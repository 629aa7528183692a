"""``CtxCompressPostprocessor``: any ctxcompress compressor or pipeline as a LlamaIndex node postprocessor."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, Union

from llama_index.core.bridge.pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle, TextNode

from ctxcompress import (
    Budget,
    Chunk,
    CompressionResult,
    Compressor,
    SavingsReport,
    TokenCounter,
    default_pipeline,
)
from ctxcompress.extend import resolve_store, unknown_fields_message

__all__ = ["METADATA_KEY", "CtxCompressEndEvent", "CtxCompressPostprocessor"]

METADATA_KEY = "ctxcompress"
"""Default key of the per-node compression summary in ``node.metadata``."""

dispatcher = get_dispatcher(__name__)

_NO_QUERY_WARNING = "no query given: the nodes were compressed without one (pass query_str= or a query_bundle)"


# JSON schemas for the ctxcompress objects (pydantic cannot derive one from an arbitrary class)
CompressorField = Annotated[
    Compressor,
    WithJsonSchema(
        {"type": "object", "description": "ctxcompress Compressor or Pipeline, as Compressor.to_dict() data"}
    ),
]
BudgetField = Annotated[
    Budget,
    WithJsonSchema(
        {
            "type": "object",
            "properties": {
                "max_tokens": {"type": ["integer", "null"]},
                "fraction": {"type": ["number", "null"]},
            },
            "description": "ctxcompress Budget (also accepted: an int of tokens, a float fraction, None)",
        }
    ),
]
CounterField = Annotated[
    Union[str, TokenCounter, None],  # noqa: UP007 - a runtime annotation for pydantic
    WithJsonSchema({"type": ["string", "null"], "description": "model or encoding name, or a TokenCounter"}),
]


class CtxCompressEndEvent(BaseEvent):
    """Instrumentation event sent after each call, carrying the full savings report as a dict."""

    query: str
    report: dict[str, Any]

    @classmethod
    def class_name(cls) -> str:
        return "CtxCompressEndEvent"


class CtxCompressPostprocessor(BaseNodePostprocessor):
    """Compress retrieved nodes with a ctxcompress compressor or pipeline, before the LLM sees them.

    >>> pp = CtxCompressPostprocessor(compressor=default_pipeline(), budget=Budget(fraction=0.3))  # doctest: +SKIP
    >>> engine = index.as_query_engine(node_postprocessors=[pp])  # doctest: +SKIP

    Each output is a new node (the caller's nodes are never modified): a copy of the node it came
    from with the same ``node_id``, metadata, relationships, metadata templates and score, the
    compressed text, and under ``metadata[metadata_key]`` a summary of what happened to that node
    (``source_ids``, ``tokens_in``, ``tokens_out``, ``kept_fraction``, ``spans`` into the source
    text, the compressor's ``relevance`` when it computed one, and the ``call`` totals). Metadata keys
    that compression adds are excluded from the embed and LLM views of the node, so they never reach a
    prompt. The embedding of a node whose text changed is dropped (it described the old text).

    The full :class:`ctxcompress.SavingsReport` is ``last_report`` and is sent as a
    :class:`CtxCompressEndEvent` to LlamaIndex instrumentation handlers. Nodes without text (e.g.
    image nodes) pass through unchanged, after the compressed ones. ``_apostprocess_nodes`` awaits
    the compressor's own ``acompress``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    compressor: CompressorField = Field(
        default_factory=default_pipeline,
        description="A ctxcompress Compressor or Pipeline (default: ctxcompress.default_pipeline()).",
    )
    budget: BudgetField = Field(
        default=None,
        validate_default=True,
        description="ctxcompress.Budget, an int (max tokens), a float in (0, 1] (kept fraction) or None.",
    )
    counter: CounterField = Field(
        default=None,
        description="Token counter: a model or encoding name ('gpt-4o', 'o200k_base'), a TokenCounter, or None.",
    )
    metadata_key: str = Field(default=METADATA_KEY, description="Metadata key of the per-node summary.")
    store: Any = Field(
        default=None,
        description="A ctxcompress.VectorStore (or its file path) of sentence vectors precomputed by "
        "CtxCompressIndexer / ctxcompress.index_chunks; None: embed everything per call.",
    )

    _last_report: SavingsReport | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "CtxCompressPostprocessor"

    # ------------------------------------------------------------------ validation and serialisation
    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> CtxCompressPostprocessor:
        """Rebuild from :meth:`to_dict` data. A ``compressor`` given as data is built the way
        ``ctxcompress.load_config`` builds one: only registered ctxcompress types, else a ``ConfigError``
        naming the refused type (raised as such, before any other field is validated)."""
        merged = {**data, **kwargs}
        compressor = merged.get("compressor")
        if isinstance(compressor, Mapping):
            merged["compressor"] = _compressor_from_config(compressor)
        return super().from_dict(merged)

    @model_validator(mode="before")
    @classmethod
    def _check_names(cls, data: Any) -> Any:
        """A misspelt keyword fails, naming the close field (``budgett`` -> ``budget``)."""
        if isinstance(data, Mapping):
            known = list(cls.model_fields)
            unknown = [str(k) for k in data if k not in known and k != "class_name"]  # class_name: to_dict()'s tag
            if unknown:
                raise ValueError(unknown_fields_message(cls.__name__, unknown, known))
            data = {k: v for k, v in data.items() if k != "class_name"}
        return data

    @field_validator("compressor", mode="before")
    @classmethod
    def _check_compressor(cls, value: Any) -> Compressor:
        if value is None:
            return default_pipeline()
        if isinstance(value, Mapping):  # from to_dict(): the ctxcompress envelope
            return _compressor_from_config(value)
        if not isinstance(value, Compressor):
            raise ValueError(
                f"compressor must be a ctxcompress Compressor or Pipeline, got {type(value).__name__}; "
                "e.g. compressor=ctxcompress.default_pipeline()"
            )
        return value

    @field_validator("budget", mode="before")
    @classmethod
    def _check_budget(cls, value: Any) -> Budget:
        if isinstance(value, Mapping):
            try:
                return Budget(**value)
            except TypeError as exc:  # unknown or non-string keys: a validation error, not a crash
                raise ValueError(f"budget must be Budget.to_dict() data, got keys {sorted(map(str, value))}") from exc
        return Budget.coerce(value)  # ConfigError is a ValueError: pydantic reports it

    @field_validator("metadata_key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if not value:
            raise ValueError("metadata_key must be a non-empty string")
        return value

    @field_validator("store", mode="before")
    @classmethod
    def _check_store(cls, value: Any) -> Any:
        return resolve_store(value)

    @field_serializer("store")
    def _dump_store(self, value: Any) -> Any:
        return None if value is None else getattr(value, "path", repr(value))

    def _store_kw(self) -> dict[str, Any]:
        return {} if self.store is None else {"store": self.store}

    @field_serializer("compressor")
    def _dump_compressor(self, value: Compressor) -> dict[str, Any]:
        return value.to_dict()

    @field_serializer("budget")
    def _dump_budget(self, value: Budget) -> dict[str, Any]:
        return value.to_dict()

    @field_serializer("counter")
    def _dump_counter(self, value: Any) -> Any:
        return value if value is None or isinstance(value, str) else getattr(value, "name", repr(value))

    # ------------------------------------------------------------------ results
    def warm_up(self) -> None:
        """Load the compressor's models now (the first query would otherwise pay for it)."""
        self.compressor.warm_up()

    @property
    def last_report(self) -> SavingsReport | None:
        """The savings report of the most recent call (None before the first one)."""
        return self._last_report

    # ------------------------------------------------------------------ BaseNodePostprocessor
    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query = query_bundle.query_str if query_bundle is not None else ""
        chunks, origin, passthrough = _to_chunks(nodes)
        result = self.compressor.compress(
            chunks, query=query, budget=self.budget, counter=self.counter, **self._store_kw()
        )
        return self._finish(result, query, nodes, origin, passthrough)

    async def _apostprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        query = query_bundle.query_str if query_bundle is not None else ""
        chunks, origin, passthrough = _to_chunks(nodes)
        result = await self.compressor.acompress(
            chunks, query=query, budget=self.budget, counter=self.counter, **self._store_kw()
        )
        return self._finish(result, query, nodes, origin, passthrough)

    # ------------------------------------------------------------------ internals
    def _finish(
        self,
        result: CompressionResult,
        query: str,
        nodes: list[NodeWithScore],
        origin: dict[str, int],
        passthrough: list[NodeWithScore],
    ) -> list[NodeWithScore]:
        report = result.report
        if not query:
            report = dataclasses.replace(report, warnings=(*report.warnings, _NO_QUERY_WARNING))
        self._last_report = report
        dispatcher.event(CtxCompressEndEvent(query=query, report=report.to_dict()))
        per_source = {c.id: c for c in report.chunks}
        call = {
            "tokens_in": report.tokens_in,
            "tokens_out": report.tokens_out,
            "tokens_saved": report.tokens_saved,
            "counter": report.counter,
        }
        out: list[NodeWithScore] = []
        for chunk in result.chunks:
            source_ids = list(dict.fromkeys(sp.source_id for sp in chunk.spans)) or [str(chunk.id)]
            tokens_in = sum(per_source[s].tokens_in for s in source_ids if s in per_source)
            tokens_out = sum(per_source[s].tokens_out for s in source_ids if s in per_source)
            summary: dict[str, Any] = {
                "source_ids": source_ids,
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "kept_fraction": tokens_out / tokens_in if tokens_in else 1.0,
                "spans": [sp.to_dict() for sp in chunk.spans],
                "call": call,
            }
            relevance = [score for s in source_ids if s in per_source and (score := per_source[s].score) is not None]
            if relevance:  # the compressor's own relevance score for this node's source(s)
                summary["relevance"] = max(relevance)
            metadata = dict(chunk.metadata)
            metadata[self.metadata_key] = summary
            index = origin.get(str(chunk.id))
            if index is not None:  # derived from one source node: a copy with the new text
                out.append(_copy_with(nodes[index], chunk.text, metadata))
            else:  # a new piece built from several sources (e.g. a restructured section)
                added = [k for k in metadata if k == self.metadata_key or k.startswith(METADATA_KEY)]
                node = TextNode(
                    id_=str(chunk.id),
                    text=chunk.text,
                    metadata=metadata,
                    excluded_embed_metadata_keys=added,
                    excluded_llm_metadata_keys=list(added),
                )
                out.append(NodeWithScore(node=node, score=chunk.score))
        out.extend(_copy_with(nws, None, dict(nws.node.metadata)) for nws in passthrough)
        return out


# ---------------------------------------------------------------------- helpers
def _compressor_from_config(data: Mapping[str, Any]) -> Compressor:
    """A compressor from its ``to_dict`` data, through ctxcompress's registry of types: nothing that is
    not a registered type is imported or called (``ctxcompress.ConfigError`` naming it otherwise)."""
    return Compressor.from_dict(data)


def _to_chunks(nodes: list[NodeWithScore]) -> tuple[list[Chunk], dict[str, int], list[NodeWithScore]]:
    """One chunk per text node (unique ids: the node id, else its position); nodes without text pass through."""
    used: set[str] = set()
    taken = {n.node.node_id for n in nodes}
    chunks: list[Chunk] = []
    origin: dict[str, int] = {}
    passthrough: list[NodeWithScore] = []
    for i, nws in enumerate(nodes):
        text = nws.node.get_content(metadata_mode=MetadataMode.NONE)
        if not text:
            passthrough.append(nws)
            continue
        cid = nws.node.node_id
        if not cid or cid in used:
            cid = str(i)
            n = 1
            while cid in taken or cid in used:
                cid = f"{i}#{n}"
                n += 1
        used.add(cid)
        origin[cid] = i
        chunks.append(Chunk(text=text, id=cid, metadata=nws.node.metadata, score=nws.score))
    return chunks, origin, passthrough


def _copy_with(source: NodeWithScore, text: str | None, metadata: dict[str, Any]) -> NodeWithScore:
    """A new node like ``source.node`` (same id, relationships, templates) with ``text`` and ``metadata``.

    ``text=None`` keeps the content as it is.
    """
    node: BaseNode = source.node.model_copy()
    added = [k for k in metadata if k not in source.node.metadata]
    node.metadata = metadata
    node.relationships = copy.deepcopy(source.node.relationships)
    node.excluded_embed_metadata_keys = _extend(source.node.excluded_embed_metadata_keys, added)
    node.excluded_llm_metadata_keys = _extend(source.node.excluded_llm_metadata_keys, added)
    if text is not None and text != source.node.get_content(metadata_mode=MetadataMode.NONE):
        node.set_content(text)
        node.embedding = None
    return NodeWithScore(node=node, score=source.score)


def _extend(keys: list[str], added: list[str]) -> list[str]:
    return [*keys, *(k for k in added if k not in keys)]
