"""The compressor base class: the template ``compress`` runs, the error policy, parameters and configuration."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal

from .context import CallContext, VectorSource
from .defaults import resolve_counter, resolve_embedder, resolve_store
from .errors import BackendError, ConfigError, InputError
from .log import logger
from .protocols import Embedder, TokenCounter
from .registry import check_shape, resolve_type, type_name_of
from .report import SavingsReport, StageReport, chunk_reports
from .result import CompressionResult, join_text
from .serialize import Configurable, construct, deserialize, serialize
from .text import fit_to_budget
from .types import Budget, Chunk, coerce_chunks, validate_call_chunks

__all__ = ["Compressor", "OnError"]

OnError = Literal["raise", "passthrough"]


class Compressor(Configurable, ABC):
    """Base class of every compressor. Subclasses implement :meth:`_compress`.

    The constructor is the configuration: keyword-only parameters stored under the same names,
    validated cheaply in ``__init__``; models load on first use (or :meth:`warm_up`).
    """

    #: the default stage name in reports (the class name when empty)
    stage_name: ClassVar[str] = ""

    on_error: OnError = "raise"
    _embedder_obj: Embedder | None = None  # built by _get_embedder for compressors that take an embedder

    @property
    def abstractive(self) -> bool:
        """True when the output may hold text written anew rather than copied from the input (a summary).

        False here: a compressor keeps spans of its input. A subclass that writes new text sets
        ``abstractive = True`` on the class, or overrides this property when a constructor parameter
        decides (``Summarizer`` with an LLM); a :class:`~ctxcompress.Pipeline` is abstractive when
        one of its steps is. Evaluations read it instead of class names, and
        :class:`~ctxcompress.testing.CompressorConformance` skips its verbatim checks for it.
        """
        return False

    # ---------------------------------------------------------------- public API
    def compress(
        self,
        chunks: Iterable[Chunk | str | Mapping[str, Any]],
        *,
        query: str = "",
        budget: Budget | int | float | None = None,
        counter: TokenCounter | str | None = None,
        store: VectorSource | str | os.PathLike[str] | None = None,
    ) -> CompressionResult:
        """Compress ``chunks`` for ``query`` under ``budget``; see :class:`CompressionResult`.

        ``store``: a :class:`~ctxcompress.VectorStore` (or its file path) of precomputed sentence
        vectors (:func:`~ctxcompress.index_chunks`): every stage reads its document vectors there, and
        embeds and writes back only the missing ones. The output is the one without a store, up to the
        store's float16 rounding.
        """
        if query is None:
            query = ""
        if not isinstance(query, str):
            raise InputError(f"query must be a str, got {type(query).__name__}")
        sources = coerce_chunks(chunks)
        validate_call_chunks(sources)
        budget_obj = Budget.coerce(budget)
        ctx = CallContext(counter=resolve_counter(counter), sources=tuple(sources), store=resolve_store(store))
        t0 = time.perf_counter()
        tokens_in = ctx.count(join_text(sources))
        cap = budget_obj.resolve(tokens_in)
        out, stages = self._run(sources, query=query, cap=cap, ctx=ctx, name=self._default_name())
        out, cut = fit_to_budget(out, cap, ctx.count, render=self._render)
        if cut:
            ctx.warnings.append(f"output cut at a sentence/word boundary to hold the budget of {cap} tokens")
        text = self._render(out)
        seconds = time.perf_counter() - t0
        report = SavingsReport(
            tokens_in=tokens_in,
            tokens_out=ctx.count(text),
            counter=ctx.counter.name,
            seconds=seconds,
            stages=tuple(stages),
            chunks=chunk_reports(sources, out, ctx.count, ctx.scores),
            warnings=tuple(ctx.warnings),
            budget_tokens=cap,
        )
        for stage in report.stages:  # each passthrough, fallback and cut once, as the report lists them
            for warning in stage.warnings:
                logger.warning("%s", warning)
        for warning in report.warnings:
            logger.warning("%s", warning)
        return CompressionResult(chunks=tuple(out), report=report, text=text, sources=tuple(sources), query=query)

    async def acompress(
        self,
        chunks: Iterable[Chunk | str | Mapping[str, Any]],
        *,
        query: str = "",
        budget: Budget | int | float | None = None,
        counter: TokenCounter | str | None = None,
        store: VectorSource | str | os.PathLike[str] | None = None,
    ) -> CompressionResult:
        """Async :meth:`compress` (runs the CPU-bound work in a worker thread)."""
        chunk_list = list(chunks)
        return await asyncio.to_thread(
            self.compress, chunk_list, query=query, budget=budget, counter=counter, store=store
        )

    def warm_up(self) -> None:
        """Load models now rather than on the first call (no-op for model-free compressors)."""
        return None

    def embedding_texts(self, chunks: Sequence[Chunk]) -> list[tuple[Embedder, list[str]]]:
        """The document texts this compressor embeds when compressing ``chunks`` (a superset: a stage
        may embed fewer), each list with the embedder it goes to; queries are not included.

        :func:`ctxcompress.index_chunks` embeds them into a :class:`~ctxcompress.VectorStore` at
        ingestion time, so that ``compress(..., store=)`` finds them. Empty here; compressors that
        call an embedder override it with the very strings their scoring builds.
        """
        return []

    def __or__(self, other: Compressor) -> Compressor:
        """``a | b``: the pipeline of ``a`` then ``b`` (see :class:`~ctxcompress.Pipeline`)."""
        from .pipeline import Pipeline  # late, and only here: pipeline.py imports this module

        if not isinstance(other, Compressor):
            return NotImplemented
        return Pipeline([self, other])

    # ---------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _compress(self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext) -> list[Chunk]:
        """Return the compressed chunks. ``cap`` is the token cap of the rendered output (or None)."""

    def _render(self, chunks: Sequence[Chunk]) -> str:
        return join_text(chunks)

    # ---------------------------------------------------------------- machinery
    def _default_name(self) -> str:
        return self.stage_name or type(self).__name__

    def _run(
        self, chunks: list[Chunk], *, query: str, cap: int | None, ctx: CallContext, name: str
    ) -> tuple[list[Chunk], list[StageReport]]:
        """Run this compressor as one stage: time it, apply the error policy, report it."""
        t0 = time.perf_counter()
        n_warn = len(ctx.warnings)
        ctx.details = {}
        tokens_in = ctx.count(join_text(chunks))
        if not chunks:
            out: list[Chunk] = []
        else:
            try:
                out = list(self._compress(chunks, query=query, cap=cap, ctx=ctx))
            except BackendError as exc:
                if self.on_error != "passthrough" and not ctx.passthrough:
                    raise
                ctx.warnings.append(f"{name}: backend failed, context passed through unchanged: {exc}")
                ctx.details = {"passed_through": True}  # what the failed stage had computed does not apply
                out = list(chunks)
        stage_warnings = tuple(ctx.warnings[n_warn:])
        del ctx.warnings[n_warn:]
        stage = StageReport(
            name=name,
            compressor=type_name_of(type(self)),
            tokens_in=tokens_in,
            tokens_out=ctx.count(self._render(out)),
            chunks_in=len(chunks),
            chunks_out=len(out),
            seconds=time.perf_counter() - t0,
            warnings=stage_warnings,
            details=dict(ctx.details),
        )
        return out, [stage]

    # ---------------------------------------------------------------- parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [n for n, p in sig.parameters.items() if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def _get_embedder(self) -> Embedder:
        """The embedder named by the ``embedder`` parameter, built on first use and kept in
        ``_embedder_obj`` (for the compressors that take one)."""
        obj = self._embedder_obj
        if obj is None:
            obj = resolve_embedder(getattr(self, "embedder", None))
            self._embedder_obj = obj
        return obj

    def set_params(self, **params: Any) -> Compressor:
        """Change parameters in place (validated by rebuilding); returns ``self``."""
        valid = self._param_names()
        for key in params:
            if key not in valid:
                raise ConfigError(f"{type(self).__name__} has no parameter {key!r}; valid: {', '.join(valid)}")
        merged = {**self.get_params(deep=False), **params}
        fresh = type(self)(**merged)
        self.__dict__.update(fresh.__dict__)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type_name_of(type(self)),
            "init_parameters": {k: serialize(v) for k, v in self.get_params(deep=False).items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Compressor:
        """Build a compressor from ``to_dict`` data.

        On ``Compressor`` itself, ``data["type"]`` picks the class: only registered names (ctxcompress's
        own types and those given to :func:`ctxcompress.register_type`) are accepted, and nested
        ``{"type", "init_parameters"}`` parameters likewise. On a subclass the class is the one called.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"a compressor configuration is a mapping, got {type(data).__name__}")
        check_shape(data)
        type_name = data.get("type")
        params = data.get("init_parameters", {})
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ConfigError("'init_parameters' must be a mapping")
        if cls is Compressor:
            if not type_name:
                raise ConfigError("a compressor configuration needs a 'type' (e.g. 'ctxcompress.RelevanceFilter')")
            target = resolve_type(type_name)  # ConfigError for anything not registered, before any call
            if not issubclass(target, Compressor):
                raise ConfigError(f"{type_name!r} is not a compressor")
            obj = construct(type_name, params)
            assert isinstance(obj, Compressor)
            return obj
        bad = [k for k in params if not isinstance(k, str)]
        if bad:
            raise ConfigError(f"parameter names of {cls.__name__} must be strings, got {bad!r}")
        try:
            return cls(**{k: deserialize(v) for k, v in params.items()})
        except TypeError as exc:
            raise ConfigError(f"cannot build {cls.__name__}: {exc}") from exc

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        """Same class and same configuration (``to_dict``)."""
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Compressor)
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        """The class's hash: equal compressors (same class, same configuration) hash alike.

        Not a hash of the configuration: ``set_params`` changes a compressor in place, and one held in
        a set or as a dict key must still be found after that. Hashing never builds ``to_dict``.
        """
        return hash(type(self))
