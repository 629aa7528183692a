"""``CtxCompressor``: any ctxcompress compressor or pipeline as a LangChain document compressor and Runnable."""

from __future__ import annotations

import asyncio
import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union

from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun, Callbacks
from langchain_core.documents import BaseDocumentCompressor, BaseDocumentTransformer, Document
from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
from langchain_core.retrievers import RetrieverLike
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableParallel,
    RunnablePassthrough,
    RunnableSerializable,
)
from langchain_core.runnables.config import (
    ensure_config,
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)

from ctxcompress import (
    Budget,
    Chunk,
    CompressionResult,
    Compressor,
    IndexReport,
    SavingsReport,
    TokenCounter,
    default_pipeline,
    index_chunks,
)
from ctxcompress.extend import resolve_store, unknown_fields_message

__all__ = [  # noqa: RUF022 - plain sorted
    "CompressorInput",
    "CtxCompressIndexer",
    "CtxCompressor",
    "METADATA_KEY",
    "NoQueryWarning",
    "REPORT_EVENT",
]

REPORT_EVENT = "ctxcompress_report"
"""Name of the custom callback event that carries the full savings report (``on_custom_event``)."""

METADATA_KEY = "ctxcompress"
"""Default key of the per-document compression summary in ``Document.metadata``."""

CompressorInput = Union[Mapping[str, Any], Sequence[Document]]  # noqa: UP007 - a runtime alias for pydantic
"""What the Runnable takes: ``{"documents": [...], "query": "..."}`` or a list of documents."""

_NO_QUERY_WARNING = (
    "no query given: the documents were compressed without one (as from `retriever | compressor`, whose "
    "retriever output carries no query); use compressor.with_retriever(retriever) or pass "
    "{'documents': ..., 'query': ...} for query-aware compression"
)


class NoQueryWarning(UserWarning):
    """Documents reached :class:`CtxCompressor` without a query (e.g. ``retriever | compressor`` in LCEL):
    the compression could not use one. ``compressor.with_retriever(retriever)`` carries the query."""


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


class CtxCompressor(BaseDocumentCompressor, RunnableSerializable[CompressorInput, list[Document]]):
    """Compress retrieved LangChain documents with a ctxcompress compressor or pipeline.

    >>> compressor = CtxCompressor(compressor=default_pipeline(), budget=Budget(fraction=0.3))  # doctest: +SKIP

    Three ways to use it:

    - as a ``BaseDocumentCompressor``: ``ContextualCompressionRetriever(base_compressor=compressor,
      base_retriever=retriever)``, or ``compressor.compress_documents(docs, query)``;
    - as a Runnable: ``compressor.invoke({"documents": docs, "query": q})``, also in LCEL, e.g.
      ``{"documents": retriever, "query": RunnablePassthrough()} | compressor``;
      ``compressor.with_retriever(retriever)`` builds exactly that chain and is the composition to
      use. ``retriever | compressor`` runs, but the retriever's output carries no query: the
      compression is query-agnostic, the report says so and a :class:`NoQueryWarning` is raised;
    - async: ``acompress_documents`` / ``ainvoke`` await ``compressor.acompress`` (no executor hop
      through the sync path).

    Each output document is a new ``Document`` (the inputs are never modified) with the id, metadata
    and any other fields of the document it came from, the compressed ``page_content``, and under
    ``metadata[metadata_key]`` a summary of what happened to it: ``source_ids``, ``tokens_in``,
    ``tokens_out``, ``kept_fraction``, ``spans`` (character offsets into the source text), the
    compressor's ``relevance`` score when it computed one, and the totals of the whole ``call``.
    Sources are named by document id; a document without an id (or a repeated id) by its position
    in the input (``"0"``, ``"1"``, ...), as in the report; the output document keeps its own id.

    The full :class:`ctxcompress.SavingsReport` is ``last_report`` (the most recent call's) and is
    dispatched to callback handlers as the custom event ``"ctxcompress_report"`` (``on_custom_event``;
    also visible in ``astream_events`` and LangSmith traces) whenever the call runs inside a
    LangChain run, e.g. from ``invoke`` or a ``ContextualCompressionRetriever``.

    ``score_key`` names the metadata field holding the retriever's relevance score (passed to
    ctxcompress as ``Chunk.score``; the metadata itself is kept unchanged).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    compressor: CompressorField = Field(default_factory=default_pipeline)
    """A ``ctxcompress.Compressor`` or ``Pipeline`` (default: ``ctxcompress.default_pipeline()``)."""
    budget: BudgetField = Field(default=None, validate_default=True)
    """``ctxcompress.Budget``, an int (max tokens), a float in (0, 1] (kept fraction) or None (no cap)."""
    counter: CounterField = None
    """Token counter: a model or encoding name (``"gpt-4o"``, ``"o200k_base"``), a TokenCounter, or None."""
    score_key: str | None = "relevance_score"
    """Metadata key of the retriever's relevance score, read into ``Chunk.score`` (None: ignore)."""
    metadata_key: str = METADATA_KEY
    """Metadata key of the per-document compression summary."""
    store: Any = None
    """A ``ctxcompress.VectorStore`` (or its file path) of sentence vectors precomputed by
    :class:`CtxCompressIndexer` / ``ctxcompress.index_chunks``; None: embed everything per call."""

    _last_report: SavingsReport | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------ validation
    @model_validator(mode="before")
    @classmethod
    def _check_names(cls, data: Any) -> Any:
        """A misspelt keyword fails, naming the close field (``budgett`` -> ``budget``)."""
        if isinstance(data, Mapping):
            known = [name for name in cls.model_fields]
            unknown = [str(k) for k in data if k not in known]
            if unknown:
                raise ValueError(unknown_fields_message(cls.__name__, unknown, known))
        return data

    @field_validator("compressor", mode="before")
    @classmethod
    def _check_compressor(cls, value: Any) -> Compressor:
        if value is None:
            return default_pipeline()
        if isinstance(value, Mapping):  # Compressor.to_dict() data (from dumpd/loads): registered types only
            return Compressor.from_dict(value)
        if not isinstance(value, Compressor):
            raise ValueError(
                f"compressor must be a ctxcompress Compressor or Pipeline, got {type(value).__name__}; "
                "e.g. compressor=ctxcompress.default_pipeline()"
            )
        return value

    @field_validator("budget", mode="before")
    @classmethod
    def _check_budget(cls, value: Any) -> Budget:
        if isinstance(value, Mapping):  # Budget.to_dict() data
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

    # ------------------------------------------------------------------ serialisation
    @field_serializer("compressor")
    def _dump_compressor(self, value: Compressor) -> dict[str, Any]:
        return value.to_dict()

    @field_serializer("budget")
    def _dump_budget(self, value: Budget) -> dict[str, Any]:
        return value.to_dict()

    @field_serializer("counter")
    def _dump_counter(self, value: Any) -> Any:
        return _counter_name(value)

    @field_serializer("store")
    def _dump_store(self, value: Any) -> Any:
        return _store_path(value)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """True: ``langchain_core.load.dumpd`` / ``dumps`` write the configuration, ``loads`` rebuilds it."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_ctxcompress"]``: the class loads from the package's public name."""
        return ["langchain_ctxcompress"]

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        """LangChain's serialised form, with the compressor as ctxcompress's own ``to_dict`` data.

        ``loads(dumps(c), allowed_objects=[CtxCompressor], valid_namespaces=["langchain_ctxcompress"])``
        rebuilds it; the compressor comes back through ``Compressor.from_dict``, which builds
        registered ctxcompress types only (a ``ConfigError`` naming any other).
        """
        data = super().to_json()
        if data["type"] != "constructor":
            return data
        kwargs: dict[str, Any] = dict(data["kwargs"])
        kwargs["compressor"] = self.compressor.to_dict()
        kwargs["budget"] = self.budget.to_dict()
        if "counter" in kwargs:
            kwargs["counter"] = _counter_name(self.counter)
        if "store" in kwargs:
            kwargs["store"] = _store_path(self.store)
        data["kwargs"] = kwargs  # a fresh dict from super(), which also set "name"
        return data

    @field_validator("store", mode="before")
    @classmethod
    def _check_store(cls, value: Any) -> Any:
        return resolve_store(value)

    def _store_kw(self) -> dict[str, Any]:
        return {} if self.store is None else {"store": self.store}

    # ------------------------------------------------------------------ results
    def warm_up(self) -> None:
        """Load the compressor's models now (the first call would otherwise pay for it)."""
        self.compressor.warm_up()

    @property
    def last_report(self) -> SavingsReport | None:
        """The savings report of the most recent call (None before the first one)."""
        return self._last_report

    # ------------------------------------------------------------------ BaseDocumentCompressor
    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Compress ``documents`` for ``query``; see the class docstring for what each output holds."""
        docs = _as_documents(documents)
        chunks, origin = _to_chunks(docs, self.score_key)
        result = self.compressor.compress(
            chunks, query=query or "", budget=self.budget, counter=self.counter, **self._store_kw()
        )
        report = self._record(result, query_given=bool(query))
        _emit(report, query, callbacks)
        return self._to_documents(result, report, docs, origin)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents`: awaits the compressor's own ``acompress``."""
        docs = _as_documents(documents)
        chunks, origin = _to_chunks(docs, self.score_key)
        result = await self.compressor.acompress(
            chunks, query=query or "", budget=self.budget, counter=self.counter, **self._store_kw()
        )
        report = self._record(result, query_given=bool(query))
        await _aemit(report, query, callbacks)
        return self._to_documents(result, report, docs, origin)

    # ------------------------------------------------------------------ Runnable
    def invoke(self, input: CompressorInput, config: RunnableConfig | None = None, **kwargs: Any) -> list[Document]:
        """Compress ``{"documents", "query"}`` (or a list of documents) into a list of documents."""
        return self._call_with_config(self._invoke, input, config, **kwargs)

    async def ainvoke(
        self, input: CompressorInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`invoke`."""
        return await self._acall_with_config(self._ainvoke, input, config, **kwargs)

    def _invoke(
        self, input: CompressorInput, run_manager: CallbackManagerForChainRun, config: RunnableConfig
    ) -> list[Document]:
        docs, query = _parse_input(input)
        return list(self.compress_documents(docs, query or "", callbacks=config.get("callbacks")))

    async def _ainvoke(
        self, input: CompressorInput, run_manager: AsyncCallbackManagerForChainRun, config: RunnableConfig
    ) -> list[Document]:
        docs, query = _parse_input(input)
        return list(await self.acompress_documents(docs, query or "", callbacks=config.get("callbacks")))

    def with_retriever(self, retriever: RetrieverLike) -> Runnable[str, list[Document]]:
        """``query -> retriever -> this compressor``: ``{"documents": retriever, "query": passthrough} | self``."""
        fan_out: RunnableParallel[str] = RunnableParallel(documents=retriever, query=RunnablePassthrough())
        return fan_out | self

    # ------------------------------------------------------------------ internals
    def _record(self, result: CompressionResult, *, query_given: bool) -> SavingsReport:
        report = result.report
        if not query_given:  # every report says so; Python shows the warning once per place by default
            report = dataclasses.replace(report, warnings=(*report.warnings, _NO_QUERY_WARNING))
            warnings.warn(_NO_QUERY_WARNING, NoQueryWarning, stacklevel=3)
        self._last_report = report
        return report

    def _to_documents(
        self,
        result: CompressionResult,
        report: SavingsReport,
        docs: list[Document],
        origin: dict[str, int],
    ) -> list[Document]:
        per_source = {c.id: c for c in report.chunks}
        call = {
            "tokens_in": report.tokens_in,
            "tokens_out": report.tokens_out,
            "tokens_saved": report.tokens_saved,
            "counter": report.counter,
        }
        out: list[Document] = []
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
            if relevance:  # the compressor's own relevance score for this document's source(s)
                summary["relevance"] = max(relevance)
            metadata = dict(chunk.metadata)
            metadata[self.metadata_key] = summary
            index = origin.get(str(chunk.id))
            if index is not None:  # derived from one source document: keep its id and every other field
                out.append(docs[index].model_copy(update={"page_content": chunk.text, "metadata": metadata}))
            else:  # a new piece built from several sources (e.g. a restructured section)
                out.append(Document(page_content=chunk.text, id=chunk.id, metadata=metadata))
        return out


class CtxCompressIndexer(BaseDocumentTransformer, BaseModel):
    """A LangChain document transformer that precomputes, into a ``ctxcompress.VectorStore``, the
    sentence vectors a :class:`CtxCompressor` with the same ``compressor`` will need for these documents.

    Documents pass through unchanged (the same objects), so it slots in before
    ``vectorstore.add_documents(indexer.transform_documents(docs))`` or into any pipeline of
    transformers; at query time ``CtxCompressor(compressor=..., store=indexer.store)`` then embeds
    only the query. The strings embedded are the ones the compressor's scorers build
    (``ctxcompress.index_chunks``), from each document's ``page_content`` and ``metadata`` (its
    ``title``), as ``CtxCompressor`` will see them. ``last_report`` is the last call's
    ``ctxcompress.IndexReport``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    store: Any
    """A ``ctxcompress.VectorStore`` or its file path (created when missing)."""
    compressor: Any = Field(default_factory=default_pipeline)
    """The ``ctxcompress.Compressor`` / ``Pipeline`` used at query time (default: ``default_pipeline()``)."""
    score_key: str | None = "relevance_score"
    """As in :class:`CtxCompressor` (read into ``Chunk.score``; does not change what is embedded)."""

    _last_report: IndexReport | None = PrivateAttr(default=None)

    @field_validator("store", mode="before")
    @classmethod
    def _check_store(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("store is required: a ctxcompress.VectorStore or its file path")
        return resolve_store(value)

    @field_validator("compressor", mode="before")
    @classmethod
    def _check_compressor(cls, value: Any) -> Compressor:
        return CtxCompressor._check_compressor(value)

    @property
    def last_report(self) -> IndexReport | None:
        """What the most recent call indexed (None before the first one)."""
        return self._last_report

    def transform_documents(self, documents: Sequence[Document], **kwargs: Any) -> Sequence[Document]:
        """Store the vectors of ``documents``' sentences; return the documents unchanged."""
        docs = _as_documents(documents)
        chunks, _ = _to_chunks(docs, self.score_key)
        self._last_report = index_chunks(chunks, self.store, compressor=self.compressor)
        return docs

    async def atransform_documents(self, documents: Sequence[Document], **kwargs: Any) -> Sequence[Document]:
        """Async :meth:`transform_documents` (the embedding runs in a worker thread)."""
        return await asyncio.to_thread(self.transform_documents, documents, **kwargs)


# ---------------------------------------------------------------------- helpers
def _counter_name(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else getattr(value, "name", repr(value))


def _store_path(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else getattr(value, "path", repr(value))


def _as_documents(documents: Document | Sequence[Any]) -> list[Document]:
    if isinstance(documents, Document):
        return [documents]
    docs = list(documents)
    for i, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise TypeError(f"documents[{i}] is a {type(doc).__name__}, not a langchain_core Document")
    return docs


def _parse_input(value: Any) -> tuple[list[Document], str | None]:
    """``(documents, query)`` from the Runnable's input."""
    if isinstance(value, Mapping):
        if "documents" not in value:
            raise ValueError(
                f"CtxCompressor takes {{'documents': [...], 'query': '...'}}; got keys {sorted(map(str, value))}"
            )
        query = value.get("query", value.get("question"))
        if query is not None and not isinstance(query, str):
            raise TypeError(f"the query must be a str, got {type(query).__name__}")
        return _as_documents(value["documents"]), query
    if isinstance(value, str):
        raise TypeError(
            "CtxCompressor takes documents, not a query string: use compressor.with_retriever(retriever), "
            "or {'documents': retriever, 'query': RunnablePassthrough()} | compressor"
        )
    if isinstance(value, (Document, Sequence)):
        return _as_documents(value), None
    raise TypeError(f"CtxCompressor takes {{'documents', 'query'}} or a list of Documents, got {type(value).__name__}")


def _to_chunks(docs: list[Document], score_key: str | None) -> tuple[list[Chunk], dict[str, int]]:
    """One chunk per document, with unique ids: the document's id, else its position."""
    taken = {str(d.id) for d in docs if d.id}
    used: set[str] = set()
    chunks: list[Chunk] = []
    origin: dict[str, int] = {}
    for i, doc in enumerate(docs):
        cid = str(doc.id) if doc.id else None
        if cid is None or cid in used:
            cid = str(i)
            n = 1
            while cid in taken or cid in used:
                cid = f"{i}#{n}"
                n += 1
        used.add(cid)
        origin[cid] = i
        chunks.append(
            Chunk(text=doc.page_content, id=cid, metadata=doc.metadata, score=_score(doc.metadata, score_key))
        )
    return chunks, origin


def _score(metadata: Mapping[str, Any], key: str | None) -> float | None:
    if not key:
        return None
    value = metadata.get(key)
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _event_data(report: SavingsReport, query: str | None) -> dict[str, Any]:
    return {"query": query or "", "report": report.to_dict()}


def _emit(report: SavingsReport, query: str | None, callbacks: Callbacks | None) -> None:
    """Send the report to callback handlers, attached to the enclosing run (if there is one)."""
    config = ensure_config({"callbacks": callbacks} if callbacks is not None else None)
    manager = get_callback_manager_for_config(config)
    if manager.parent_run_id is None or not manager.handlers:
        return
    manager.on_custom_event(REPORT_EVENT, _event_data(report, query), run_id=manager.parent_run_id)


async def _aemit(report: SavingsReport, query: str | None, callbacks: Callbacks | None) -> None:
    config = ensure_config({"callbacks": callbacks} if callbacks is not None else None)
    manager = get_async_callback_manager_for_config(config)
    if manager.parent_run_id is None or not manager.handlers:
        return
    await manager.on_custom_event(REPORT_EVENT, _event_data(report, query), run_id=manager.parent_run_id)
