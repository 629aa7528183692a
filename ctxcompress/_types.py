"""Core immutable data types: :class:`Span`, :class:`Chunk`, :class:`Budget`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._errors import ConfigError, InputError

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
        return cls(
            source_id=str(data["source_id"]),
            start=int(data["start"]),
            end=int(data["end"]),
            out_start=int(data["out_start"]),
            out_end=int(data["out_end"]),
            verbatim=bool(data.get("verbatim", True)),
        )


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
        object.__setattr__(self, "spans", tuple(self.spans))

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
        return cls(
            text=data["text"],
            id=None if data.get("id") is None else str(data["id"]),
            metadata=data.get("metadata") or {},
            score=data.get("score"),
            spans=tuple(Span.from_dict(s) for s in data.get("spans") or ()),
        )


def coerce_chunks(chunks: Iterable[Chunk | str | Mapping[str, Any]] | None) -> list[Chunk]:
    """Normalise user input into a list of chunks with unique ids.

    Accepts :class:`Chunk`, plain strings and ``{"text", "id", "metadata", "score"}`` mappings.
    Chunks without an id get their position (``"0"``, ``"1"``, ...). Duplicate ids raise
    :class:`InputError`. The caller's objects are never modified (chunks are immutable).
    """
    if chunks is None:
        return []
    if isinstance(chunks, (str, Chunk)):
        raise InputError("compress() takes a list of chunks, not a single chunk or string")
    out: list[Chunk] = []
    for i, item in enumerate(chunks):
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
