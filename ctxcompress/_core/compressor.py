"""The compressor base class, the call context, results, budget enforcement and (de)serialisation."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from .errors import BackendError, ConfigError, CtxCompressError, InputError
from .protocols import Embedder, Scorer, TokenCounter, backend_name, call_backend, check_scores, check_vectors
from .report import SavingsReport, StageReport, chunk_reports
from .types import Budget, Chunk, Span, coerce_chunks, validate_call_chunks

__all__ = [
    "SEPARATOR",
    "CallContext",
    "CompressionResult",
    "Compressor",
    "extract",
    "fit_to_budget",
]

SEPARATOR = "\n\n"
"""How chunks are joined into the prompt-ready text (and counted)."""

OnError = Literal["raise", "passthrough"]


def join_text(chunks: Sequence[Chunk]) -> str:
    return SEPARATOR.join(c.text for c in chunks)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CompressionResult:
    """The output of ``compress``: chunks traceable to ``sources``, the prompt-ready ``text``, a report."""

    chunks: tuple[Chunk, ...]
    report: SavingsReport
    text: str
    sources: tuple[Chunk, ...] = ()

    def __iter__(self) -> Any:
        return iter(self.chunks)

    def __len__(self) -> int:
        return len(self.chunks)

    def to_dict(self, *, include_sources: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "chunks": [c.to_dict() for c in self.chunks],
            "text": self.text,
            "report": self.report.to_dict(),
        }
        if include_sources:
            data["sources"] = [c.to_dict() for c in self.sources]
        return data

    def check_spans(self) -> list[str]:
        """Problems with the provenance of the output (empty when every verbatim span is exact)."""
        by_id = {c.id: c for c in self.sources}
        problems: list[str] = []
        for ch in self.chunks:
            for sp in ch.spans:
                src = by_id.get(sp.source_id)
                if src is None:
                    problems.append(f"chunk {ch.id!r}: span points to unknown source {sp.source_id!r}")
                elif sp.end > len(src.text) or sp.out_end > len(ch.text):
                    problems.append(f"chunk {ch.id!r}: span {sp} out of range")
                elif sp.verbatim and src.text[sp.start : sp.end] != ch.text[sp.out_start : sp.out_end]:
                    problems.append(f"chunk {ch.id!r}: span {sp} is not verbatim")
        return problems


# --------------------------------------------------------------------------- call context
@dataclass
class CallContext:
    """State shared by the stages of one call: counter, per-call embedding cache, warnings."""

    counter: TokenCounter
    sources: tuple[Chunk, ...]
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    passthrough: bool = False
    """True inside a pipeline whose error policy is ``passthrough``."""
    _emb_cache: dict[tuple[int, bool, str], NDArray[np.float32]] = field(default_factory=dict)
    _emb_dim: dict[int, int] = field(default_factory=dict)

    def count(self, text: str) -> int:
        """Tokens in ``text``; a counter that fails or returns no count >= 0 raises :class:`BackendError`."""
        if not text:
            return 0
        try:
            n = self.counter.count(text)
        except CtxCompressError:
            raise
        except Exception as exc:
            what = f"token counter {backend_name(self.counter)!r}"
            raise BackendError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        if type(n) is not int:
            if isinstance(n, bool) or not hasattr(n, "__index__"):
                raise BackendError(f"token counter {backend_name(self.counter)!r} returned {n!r}, not an int")
            n = int(n)
        if n < 0:
            raise BackendError(f"token counter {backend_name(self.counter)!r} returned a negative count {n}")
        return n

    def embed(self, embedder: Embedder, texts: Sequence[str], *, queries: bool = False) -> NDArray[np.float32]:
        """Embed ``texts`` once per call: repeated texts and texts seen by an earlier stage are reused.

        Every embedder call of a compressor goes through here: a fault, a wrong shape, a dimension
        that differs from the embedder's earlier vectors, or a NaN / infinite value raises
        :class:`BackendError` (so the ``on_error`` policy applies) instead of silently skewing the output.
        """
        key0 = id(embedder)
        missing = list(dict.fromkeys(t for t in texts if (key0, queries, t) not in self._emb_cache))
        if missing:
            fn = getattr(embedder, "encode_queries", None) if queries else None
            what = f"embedder {backend_name(embedder)!r}" + (" (queries)" if fn is not None else "")
            vecs = check_vectors(what, call_backend(what, fn or embedder.encode, missing), len(missing))
            dim = self._emb_dim.setdefault(key0, vecs.shape[1])
            if vecs.shape[1] != dim:
                raise BackendError(f"{what} returned vectors of dimension {vecs.shape[1]}, earlier {dim}")
            for t, v in zip(missing, vecs, strict=True):
                self._emb_cache[(key0, queries, t)] = v
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._emb_cache[(key0, queries, t)] for t in texts])

    def score(self, scorer: Scorer, query: str, texts: Sequence[str]) -> NDArray[np.float64]:
        """``scorer.score(query, texts)``, checked: a fault, a wrong number of scores or a NaN / infinite
        score raises :class:`BackendError` (so the ``on_error`` policy applies). Every compressor that
        calls a :class:`~ctxcompress.Scorer` calls it through here."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        what = f"scorer {backend_name(scorer)!r}"
        return check_scores(what, call_backend(what, scorer.score, query, list(texts)), len(texts))


# --------------------------------------------------------------------------- text surgery
_LINE_BREAK_RE = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
"""A line break as :meth:`str.splitlines` sees one."""


def gap_separator(text: str, start: int, end: int, sep: str = " ") -> str:
    """What joins two kept pieces of ``text`` when ``text[start:end]`` between them is left out.

    ``sep`` itself, unless the gap held a line break: then ``sep`` with its trailing spaces replaced
    by one ``"\\n"`` (``" "`` gives ``"\\n"``, ``" … "`` gives ``" …\\n"``), so that a title line and a
    body sentence of the source never become one line. ``sep`` should hold whitespace, so that two
    words of the source never touch in the output.
    """
    if _LINE_BREAK_RE.search(text, start, end) is not None:
        return sep.rstrip(" ") + "\n"
    return sep


def merge_ranges(text: str, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort ranges and merge those that overlap or are separated only by whitespace."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and (s <= out[-1][1] or not text[out[-1][1] : s].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def extract(chunk: Chunk, ranges: Iterable[tuple[int, int]], *, sep: str = " ") -> Chunk | None:
    """A new chunk holding ``chunk.text`` restricted to ``ranges`` (joined by ``sep``), with spans.

    Adjacent ranges separated only by whitespace are merged so the original text between them is
    kept. Where text between two ranges is left out they are joined by :func:`gap_separator`:
    ``sep``, or a line break where the left-out text held one. Id, metadata and score of ``chunk``
    are kept. Returns ``None`` when nothing is left.
    """
    merged = merge_ranges(chunk.text, ranges)
    if not merged:
        return None
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    prev_end = 0
    for i, (s, e) in enumerate(merged):
        if i:
            gap = gap_separator(chunk.text, prev_end, s, sep)
            parts.append(gap)
            pos += len(gap)
        prev_end = e
        parts.append(chunk.text[s:e])
        spans.extend(chunk.trace(s, e, out_start=pos))
        pos += e - s
    text = "".join(parts)
    if merged == [(0, len(chunk.text))]:
        return chunk
    return chunk.replace(text=text, spans=tuple(spans))


def fit_to_budget(
    chunks: Sequence[Chunk],
    cap: int | None,
    count: Callable[[str], int],
    *,
    render: Callable[[Sequence[Chunk]], str] = join_text,
) -> tuple[list[Chunk], bool]:
    """The longest prefix of ``chunks`` (cut at a sentence, then word, boundary) whose rendering fits.

    This is the hard cap: the result's rendered text never has more than ``cap`` tokens.
    Returns the chunks and whether anything was cut.
    """
    chunks = list(chunks)
    if cap is None or count(render(chunks)) <= cap:
        return chunks, False
    if cap <= 0 or not chunks:
        return [], True
    from .segment import split_sentences, split_words

    # candidate cut points: (chunk index, end offset), in order
    cuts: list[tuple[int, int]] = []
    for i, ch in enumerate(chunks):
        ends = [seg.end for seg in split_sentences(ch.text)] or [len(ch.text)]
        cuts.extend((i, e) for e in ends)

    def build(i: int, end: int) -> list[Chunk]:
        head = chunks[:i]
        last = extract(chunks[i], [(0, end)])
        return head + ([last] if last is not None else [])

    def fits(i: int, end: int) -> bool:
        return count(render(build(i, end))) <= cap

    lo, hi = -1, len(cuts) - 1  # invariant: cuts[lo] fits (or lo == -1), cuts[hi] may not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(*cuts[mid]):
            lo = mid
        else:
            hi = mid - 1
    best: list[Chunk] = build(*cuts[lo]) if lo >= 0 else []
    # try to add words of the next sentence
    nxt = lo + 1
    if nxt < len(cuts):
        i, end = cuts[nxt]
        start = cuts[lo][1] if lo >= 0 and cuts[lo][0] == i else 0
        words = [w.end for w in split_words(chunks[i].text[start:end])]
        wlo, whi = -1, len(words) - 1
        while wlo < whi:
            mid = (wlo + whi + 1) // 2
            if fits(i, start + words[mid]):
                wlo = mid
            else:
                whi = mid - 1
        if wlo >= 0:
            best = build(i, start + words[wlo])
    # token counts are almost always monotone in length; guarantee the cap regardless
    while best and count(render(best)) > cap:
        best = best[:-1]
    return best, True


def fewest_drops(fits: Callable[[int], bool], limit: int) -> int:
    """The smallest ``k`` in ``[0, limit]`` for which ``fits(k)`` holds (``limit`` when none does).

    For "drop the ``k`` weakest until the rendered text fits" loops: ``fits(k)`` renders and counts
    the text without the ``k`` weakest units. It gives what trying ``k = 0, 1, 2, ...`` in turn
    gives when dropping more never makes the text longer (token counts are monotone in practice),
    with ``O(log k)`` calls instead of ``k``: ``0`` and ``1`` first, then doubling, then bisection.
    """
    if limit <= 0 or fits(0):
        return 0
    lo, hi = 0, 1  # fits(lo) is false
    while hi < limit and not fits(hi):
        lo, hi = hi, min(limit, 2 * hi)
    hi = min(hi, limit)  # fits(hi), or hi is the limit where the loop stops anyway
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def greedy_fill(texts: Sequence[str], cap: int, count: Callable[[str], int], *, sep: str = SEPARATOR) -> list[int]:
    """Indices of the texts taken, in order, when each is taken if ``sep.join`` of those taken still fits ``cap``.

    Linear in the input: each text is counted once, and what joining adds (the separator, and any
    tokens that merge across it, such as a full stop with the newlines after it in some encodings)
    by counting a few characters either side of the join; so, for tokenisers whose merges stay that
    local, the result is what counting the whole joined text for each candidate gives. The caller
    still checks the result with one full count (see :func:`fewest_drops`).
    """
    taken: list[int] = []
    used = 0
    last: str | None = None
    for i, text in enumerate(texts):
        add = count(text)
        if last is not None:
            left, right = last[-_JOIN_CONTEXT:], text[:_JOIN_CONTEXT]
            add += count(left + sep + right) - count(left) - count(right)
        if used + add <= cap:
            taken.append(i)
            used += add
            last = text
    return taken


_JOIN_CONTEXT = 64
"""Characters either side of a join that :func:`greedy_fill` counts to learn what the join adds."""


# --------------------------------------------------------------------------- serialisation
def _type_name(cls: type) -> str:
    """The registered name of ``cls`` (what ``to_dict`` writes and ``from_dict`` reads)."""
    from .registry import type_name_of

    return type_name_of(cls)


def serialize(value: Any) -> Any:
    """Turn a parameter value into JSON/YAML-able data (objects → ``{"type", "init_parameters"}``)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Budget):
        return {"type": "ctxcompress.Budget", "init_parameters": value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [serialize(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): serialize(v) for k, v in value.items()}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and isinstance(value, Compressor):
        return to_dict()
    params = _init_params(value)
    if params is not None:
        return {"type": _type_name(type(value)), "init_parameters": {k: serialize(v) for k, v in params.items()}}
    raise ConfigError(
        f"cannot serialise a {type(value).__name__} parameter: pass it by name (e.g. embedder='onnx') "
        "or give its class constructor parameters stored under the same attribute names"
    )


def _init_params(obj: Any) -> dict[str, Any] | None:
    """Constructor parameters of ``obj`` if it stores each under the same attribute name."""
    try:
        sig = inspect.signature(type(obj).__init__)
    except (TypeError, ValueError):
        return None
    params: dict[str, Any] = {}
    for name, p in sig.parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(obj, name):
            return None
        params[name] = getattr(obj, name)
    return params


def deserialize(value: Any, *, _depth: int = 0) -> Any:
    """Turn configuration data back into parameter values.

    A mapping with ``type`` and ``init_parameters`` becomes an object, but only of a registered type
    (see :func:`ctxcompress.register_type`); any other named type is a :class:`ConfigError`.
    """
    from .registry import MAX_DEPTH

    if _depth > MAX_DEPTH:
        raise ConfigError(f"configuration nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, (list, tuple)):
        return [deserialize(v, _depth=_depth + 1) for v in value]
    if isinstance(value, Mapping):
        if "type" in value and "init_parameters" in value:
            extra = sorted(str(k) for k in value if k not in ("type", "init_parameters"))
            if extra:
                raise ConfigError(
                    f"a {{type, init_parameters}} object has unexpected keys {extra} (type {value['type']!r})"
                )
            return _construct(value["type"], value["init_parameters"], _depth=_depth + 1)
        return {k: deserialize(v, _depth=_depth + 1) for k, v in value.items()}
    return value


def _construct(type_name: Any, init_parameters: Any, *, _depth: int = 0) -> Any:
    """Build the registered type ``type_name``: the name is resolved before anything is called."""
    from .registry import canonical_name, resolve_type

    cls = resolve_type(type_name)  # ConfigError for anything not registered
    if init_parameters is None:
        init_parameters = {}
    if not isinstance(init_parameters, Mapping):
        raise ConfigError(f"'init_parameters' of {type_name} must be a mapping, got {type(init_parameters).__name__}")
    bad = [k for k in init_parameters if not isinstance(k, str)]
    if bad:
        raise ConfigError(f"parameter names of {type_name} must be strings, got {bad!r}")
    if cls is Budget:
        try:
            return Budget(**init_parameters)
        except TypeError as exc:
            raise ConfigError(f"cannot build {type_name} from {sorted(init_parameters)}: {exc}") from exc
    if issubclass(cls, Compressor):
        return cls.from_dict({"type": canonical_name(type_name), "init_parameters": init_parameters})
    params = {k: deserialize(v, _depth=_depth + 1) for k, v in init_parameters.items()}
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"cannot build {type_name} from {sorted(params)}: {exc}") from exc


# --------------------------------------------------------------------------- the base class
class Compressor(ABC):
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
    ) -> CompressionResult:
        """Compress ``chunks`` for ``query`` under ``budget``; see :class:`CompressionResult`."""
        from .._backends.tokens import get_counter

        if query is None:
            query = ""
        if not isinstance(query, str):
            raise InputError(f"query must be a str, got {type(query).__name__}")
        sources = coerce_chunks(chunks)
        validate_call_chunks(sources)
        budget_obj = Budget.coerce(budget)
        ctx = CallContext(counter=get_counter(counter), sources=tuple(sources))
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
        return CompressionResult(chunks=tuple(out), report=report, text=text, sources=tuple(sources))

    async def acompress(
        self,
        chunks: Iterable[Chunk | str | Mapping[str, Any]],
        *,
        query: str = "",
        budget: Budget | int | float | None = None,
        counter: TokenCounter | str | None = None,
    ) -> CompressionResult:
        """Async :meth:`compress` (runs the CPU-bound work in a worker thread)."""
        chunk_list = list(chunks)
        return await asyncio.to_thread(self.compress, chunk_list, query=query, budget=budget, counter=counter)

    def warm_up(self) -> None:
        """Load models now rather than on the first call (no-op for model-free compressors)."""
        return None

    def __or__(self, other: Compressor) -> Compressor:
        from .pipeline import Pipeline

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
            compressor=_type_name(type(self)),
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
            from .._backends.embedders import get_embedder

            obj = get_embedder(getattr(self, "embedder", None))
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
            "type": _type_name(type(self)),
            "init_parameters": {k: serialize(v) for k, v in self.get_params(deep=False).items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Compressor:
        """Build a compressor from ``to_dict`` data.

        On ``Compressor`` itself, ``data["type"]`` picks the class: only registered names (ctxcompress's
        own types and those given to :func:`ctxcompress.register_type`) are accepted, and nested
        ``{"type", "init_parameters"}`` parameters likewise. On a subclass the class is the one called.
        """
        from .registry import check_shape, resolve_type

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
            obj = _construct(type_name, params)
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
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Compressor)
        return self.to_dict() == other.to_dict()

    __hash__ = object.__hash__


def validate_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def validate_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    allow_none: bool = True,
    low_inclusive: bool = True,
) -> None:
    if value is None:
        if allow_none:
            return
        raise ConfigError(f"{name} is required")
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value != value:
        raise ConfigError(f"{name} must be {'an int' if integer else 'a number'}, got {value!r}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        raise ConfigError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be <= {high}, got {value!r}")
