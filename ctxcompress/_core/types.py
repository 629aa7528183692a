"""Core immutable data types: :class:`Span`, :class:`Chunk`, :class:`Budget`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import ConfigError, InputError

__all__ = ["Budget", "Chunk", "Span", "coerce_chunks"]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a piece of a chunk's text came from.

    ``text[out_start:out_end]`` of the chunk that holds this span came from
    ``source.text[start:end]`` of the source chunk ``source_id``. For a verbatim span both
    substrings are equal (a check is exact); an abstractive span (``verbatim=False``) says that the
    output piece *summarises* that source range.
    """

    source_id: str
    start: int
    end: int
    out_start: int
    out_end: int
    verbatim: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.source_id, str):
            raise InputError(f"Span.source_id must be a str, got {type(self.source_id).__name__}")
        for name in ("start", "end", "out_start", "out_end"):
            value = getattr(self, name)
            if type(value) is not int:
                if isinstance(value, bool) or not hasattr(value, "__index__"):
                    raise InputError(f"Span.{name} must be an int, got {value!r}")
                object.__setattr__(self, name, int(value))  # a numpy integer
        if not isinstance(self.verbatim, bool):
            raise InputError(f"Span.verbatim must be True or False, got {self.verbatim!r}")
        if not (0 <= self.start <= self.end) or not (0 <= self.out_start <= self.out_end):
            raise InputError(f"invalid span offsets: {self!r}")
        if self.verbatim and (self.end - self.start) != (self.out_end - self.out_start):
            raise InputError(f"a verbatim span must have equal source and output lengths: {self!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "start": self.start,
            "end": self.end,
            "out_start": self.out_start,
            "out_end": self.out_end,
            "verbatim": self.verbatim,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Span:
        """A span from its :meth:`to_dict` form; a missing or mistyped field raises :class:`InputError`."""
        if not isinstance(data, Mapping):
            raise InputError(f"a span must be a mapping with {', '.join(_SPAN_FIELDS)}; got {type(data).__name__}")
        missing = [k for k in _SPAN_FIELDS if k not in data]
        if missing:
            raise InputError(f"a span needs the field(s) {', '.join(map(repr, missing))}; got keys {sorted(data)}")
        source_id = data["source_id"]
        if isinstance(source_id, int) and not isinstance(source_id, bool):
            source_id = str(source_id)  # chunk ids given as numbers become strings too
        return cls(
            source_id=source_id,
            start=data["start"],
            end=data["end"],
            out_start=data["out_start"],
            out_end=data["out_end"],
            verbatim=data.get("verbatim", True),
        )


_SPAN_FIELDS = ("source_id", "start", "end", "out_start", "out_end")


def _freeze(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(metadata or {}))


@dataclass(frozen=True)
class Chunk:
    """One piece of retrieved context. Immutable.

    - ``text``: the chunk's text.
    - ``id``: a unique id within one ``compress`` call. ``None`` is allowed on input; compressors
      assign positional ids (``"0"``, ``"1"``, ...) to chunks without one.
    - ``metadata``: kept on every output chunk derived from this one (a read-only copy).
    - ``score``: the retriever's score, kept as is.
    - ``spans``: empty for a source chunk; on an output chunk, where each piece of ``text`` came from.
      A chunk given to ``compress`` with spans must describe its text in terms of a source chunk of the
      same call (see :func:`validate_call_chunks`).
    """

    text: str
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    score: float | None = None
    spans: tuple[Span, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise InputError(f"Chunk.text must be a str, got {type(self.text).__name__}")
        if self.id is not None and not isinstance(self.id, str):
            object.__setattr__(self, "id", str(self.id))
        if not isinstance(self.metadata, Mapping):
            raise InputError(f"Chunk.metadata must be a mapping, got {type(self.metadata).__name__}")
        object.__setattr__(self, "metadata", _freeze(self.metadata))
        if self.score is not None:
            try:
                score = float(self.score)
            except (TypeError, ValueError) as exc:
                raise InputError(f"Chunk.score must be a number or None, got {self.score!r}") from exc
            object.__setattr__(self, "score", score)
        if isinstance(self.spans, (str, bytes, Mapping)) or not isinstance(self.spans, Iterable):
            raise InputError(f"Chunk.spans must be a sequence of Span, got {type(self.spans).__name__}")
        spans = tuple(self.spans)
        for sp in spans:
            if not isinstance(sp, Span):
                raise InputError(f"Chunk.spans must hold Span objects, got {type(sp).__name__}")
        object.__setattr__(self, "spans", spans)

    # pickling (MappingProxyType is not picklable): store a plain dict
    def __getstate__(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "id": self.id,
            "metadata": dict(self.metadata),
            "score": self.score,
            "spans": self.spans,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, _freeze(value) if key == "metadata" else value)

    def __hash__(self) -> int:
        return hash((self.text, self.id, self.score, self.spans))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chunk):
            return NotImplemented
        return (
            self.text == other.text
            and self.id == other.id
            and dict(self.metadata) == dict(other.metadata)
            and self.score == other.score
            and self.spans == other.spans
        )

    @property
    def is_source(self) -> bool:
        """True for a chunk that is its own source (no spans)."""
        return not self.spans

    def replace(self, **changes: Any) -> Chunk:
        """A copy with some fields changed."""
        data: dict[str, Any] = {
            "text": self.text,
            "id": self.id,
            "metadata": self.metadata,
            "score": self.score,
            "spans": self.spans,
        }
        data.update(changes)
        return Chunk(**data)

    def trace(self, start: int, end: int, *, out_start: int) -> list[Span]:
        """Spans (in root-source coordinates) for ``self.text[start:end]`` placed at ``out_start``.

        For a source chunk this is one span into itself. For a chunk that is the output of an
        earlier stage, the range is mapped through this chunk's own spans, so that provenance
        always points at the original sources. Parts of the range that are separators added by
        an earlier stage (not covered by a span) have no source and are skipped.
        """
        if not (0 <= start <= end <= len(self.text)):
            raise InputError(f"range [{start}, {end}) is outside chunk {self.id!r}")
        if start == end:
            return []
        if not self.spans:
            if self.id is None:
                raise InputError("a chunk needs an id before it can be traced")
            return [Span(self.id, start, end, out_start, out_start + end - start)]
        result: list[Span] = []
        for sp in self.spans:
            lo, hi = max(start, sp.out_start), min(end, sp.out_end)
            if lo >= hi:
                continue
            o = out_start + (lo - start)
            if sp.verbatim:
                delta = sp.start - sp.out_start
                result.append(Span(sp.source_id, lo + delta, hi + delta, o, o + hi - lo))
            else:
                result.append(Span(sp.source_id, sp.start, sp.end, o, o + hi - lo, verbatim=False))
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "metadata": dict(self.metadata),
            "score": self.score,
            "spans": [s.to_dict() for s in self.spans],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chunk:
        if "text" not in data:
            raise InputError(f"a chunk needs a 'text' field, got keys {sorted(data)}")
        raw_spans = data.get("spans") or ()
        if isinstance(raw_spans, (str, bytes, Mapping)) or not isinstance(raw_spans, Iterable):
            raise InputError(f"a chunk's 'spans' must be a list of spans, got {type(raw_spans).__name__}")
        spans: list[Span] = []
        for n, item in enumerate(raw_spans):
            try:
                spans.append(Span.from_dict(item))
            except InputError as exc:
                raise InputError(f"chunk {data.get('id')!r}, spans[{n}]: {exc}") from None
        return cls(
            text=data["text"],
            id=None if data.get("id") is None else str(data["id"]),
            metadata=data.get("metadata") or {},
            score=data.get("score"),
            spans=tuple(spans),
        )


def coerce_chunks(chunks: Iterable[Chunk | str | Mapping[str, Any]] | None) -> list[Chunk]:
    """Normalise user input into a list of chunks with unique ids.

    Accepts an iterable (a list, a tuple, a generator) of :class:`Chunk`, plain strings and
    ``{"text", "id", "metadata", "score"}`` mappings. Chunks without an id get their position
    (``"0"``, ``"1"``, ...). Duplicate ids raise :class:`InputError`. A single string, chunk or
    mapping, bytes, and anything that is not iterable raise :class:`InputError` (a string is not
    taken as one chunk: iterating it would give characters; wrap it in a list). The caller's
    objects are never modified (chunks are immutable).
    """
    if chunks is None:
        return []
    if isinstance(chunks, (str, Chunk)):
        raise InputError(
            f"compress() takes a list of chunks, not a single {type(chunks).__name__}: wrap it in a list, [chunk]"
        )
    if isinstance(chunks, Mapping):
        raise InputError("compress() takes a list of chunks, not a single mapping: wrap it in a list, [{'text': ...}]")
    if isinstance(chunks, (bytes, bytearray, memoryview)):
        raise InputError("compress() takes a list of chunks, not bytes: decode the text and wrap it in a list")
    try:
        items = iter(chunks)
    except TypeError:
        raise InputError(
            f"compress() takes a list of chunks (Chunk, str or mappings), got {type(chunks).__name__}"
        ) from None
    out: list[Chunk] = []
    for i, item in enumerate(items):
        if isinstance(item, Chunk):
            c = item
        elif isinstance(item, str):
            c = Chunk(text=item)
        elif isinstance(item, Mapping):
            c = Chunk.from_dict(item)
        else:
            raise InputError(
                f"chunk {i} has unsupported type {type(item).__name__}; "
                "pass ctxcompress.Chunk, str or a mapping with a 'text' key"
            )
        if c.id is None:
            c = c.replace(id=str(i))
        out.append(c)
    seen: set[str] = set()
    for c in out:
        assert c.id is not None
        if c.id in seen:
            raise InputError(f"duplicate chunk id {c.id!r}: ids must be unique within one call")
        seen.add(c.id)
    return out


@dataclass(frozen=True, slots=True)
class Budget:
    """A hard cap on the output: ``max_tokens`` and/or ``fraction`` of the input tokens (kept fraction).

    When both are set the smaller cap holds. ``Budget()`` means no cap.
    """

    max_tokens: int | None = None
    fraction: float | None = None

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int):
                raise ConfigError(f"Budget.max_tokens must be an int >= 0 or None, got {self.max_tokens!r}")
            if self.max_tokens < 0:
                raise ConfigError(f"Budget.max_tokens must be >= 0, got {self.max_tokens}")
        if self.fraction is not None:
            f = self.fraction
            if isinstance(f, bool) or not isinstance(f, (int, float)) or math.isnan(f) or not (0.0 < f <= 1.0):
                raise ConfigError(f"Budget.fraction must be a number in (0, 1], got {f!r}")
            object.__setattr__(self, "fraction", float(f))

    @property
    def unlimited(self) -> bool:
        return self.max_tokens is None and self.fraction is None

    def resolve(self, tokens_in: int) -> int | None:
        """The cap in tokens for an input of ``tokens_in`` tokens (``None``: no cap)."""
        caps: list[int] = []
        if self.max_tokens is not None:
            caps.append(self.max_tokens)
        if self.fraction is not None:
            caps.append(math.floor(self.fraction * tokens_in + 1e-9))
        return min(caps) if caps else None

    @classmethod
    def coerce(cls, value: Budget | int | float | None) -> Budget:
        """``None`` → no cap; an int → max tokens; a float in (0, 1] → kept fraction."""
        if value is None:
            return cls()
        if isinstance(value, Budget):
            return value
        if isinstance(value, bool):
            raise ConfigError(f"invalid budget {value!r}")
        if isinstance(value, int):
            return cls(max_tokens=value)
        if isinstance(value, float):
            if 0.0 < value <= 1.0:
                return cls(fraction=value)
            if value.is_integer() and value > 1:
                return cls(max_tokens=int(value))
        raise ConfigError(
            f"invalid budget {value!r}: use Budget(max_tokens=...), Budget(fraction=...), "
            "an int (tokens) or a float in (0, 1] (kept fraction)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "fraction": self.fraction}


def texts_of(chunks: Sequence[Chunk]) -> list[str]:
    return [c.text for c in chunks]


# --------------------------------------------------------------------------- checks at the API boundary
def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _merged_entry(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("source_id"), str)
        and _is_int(value.get("start"))
        and _is_int(value.get("end"))
        and (value.get("similarity") is None or _is_number(value.get("similarity")))
    )


RESERVED_METADATA: dict[str, tuple[str, Any]] = {
    "ctxcompress.merged": (
        "a list of {source_id: str, start: int, end: int, similarity: number} mappings",
        lambda v: _is_list(v) and all(_merged_entry(e) for e in v),
    ),
    "ctxcompress.section": ("a str (a section label such as '1.2')", lambda v: isinstance(v, str)),
    "ctxcompress.source": ("a str (a source chunk id)", lambda v: isinstance(v, str)),
    "ctxcompress.abstractive": ("True or False", lambda v: isinstance(v, bool)),
    "ctxcompress.summarised": (
        "a list of str (source chunk ids)",
        lambda v: _is_list(v) and all(isinstance(e, str) for e in v),
    ),
    "ctxcompress.faithfulness": ("a number in [0, 1]", lambda v: _is_number(v) and 0 <= v <= 1),
}
"""The ``ctxcompress.*`` metadata keys that compressors write and read back, with the type each must have."""


def validate_call_chunks(chunks: Sequence[Chunk]) -> None:
    """Check the chunks of one ``compress`` call (ids already assigned): reserved metadata types and spans.

    Reserved metadata: each key of :data:`RESERVED_METADATA` a chunk carries has the type described there.

    Spans: a chunk given with ``spans`` (e.g. the output of an earlier call) must describe its own text
    in terms of chunks of *this* call: every span points at a chunk of the call that has no spans itself
    (a source), its source range lies inside that chunk's text, its output range inside this chunk's
    text, and a verbatim span's two substrings are equal. Otherwise provenance in the result would point
    at text the result does not hold. Raises :class:`InputError` naming the chunk and the problem.
    """
    by_id = {c.id: c for c in chunks}
    for c in chunks:
        for key, (expected, ok) in RESERVED_METADATA.items():
            if key in c.metadata and not ok(c.metadata[key]):
                raise InputError(
                    f"chunk {c.id!r}: metadata[{key!r}] is reserved by ctxcompress and must be {expected}, "
                    f"got {c.metadata[key]!r}"
                )
        for n, sp in enumerate(c.spans):
            where = f"chunk {c.id!r}, spans[{n}]"
            src = by_id.get(sp.source_id)
            if src is None:
                raise InputError(
                    f"{where} points at {sp.source_id!r}, which is not a chunk of this call: a span must describe "
                    "the chunk's text in terms of a source chunk passed in the same call (pass that source too, "
                    "or drop the spans with chunk.replace(spans=()))"
                )
            if src.spans:
                raise InputError(f"{where} points at {sp.source_id!r}, which has spans itself: point at its source")
            if sp.end > len(src.text):
                raise InputError(f"{where}: source range [{sp.start}, {sp.end}) is outside {sp.source_id!r}'s text")
            if sp.out_end > len(c.text):
                raise InputError(f"{where}: output range [{sp.out_start}, {sp.out_end}) is outside the chunk's text")
            if sp.verbatim and src.text[sp.start : sp.end] != c.text[sp.out_start : sp.out_end]:
                raise InputError(f"{where} is verbatim but {sp.source_id!r}[{sp.start}:{sp.end}] differs from the text")
