"""Savings reports: numbers as data, rendering in methods (text, Markdown, JSON, dict)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChunkReport", "SavingsReport", "StageReport"]


def _ratio(tokens_in: int, tokens_out: int) -> float:
    if tokens_out == 0:
        return float("inf") if tokens_in > 0 else 1.0
    return tokens_in / tokens_out


def _kept(tokens_in: int, tokens_out: int) -> float:
    return tokens_out / tokens_in if tokens_in > 0 else 1.0


def _json_float(x: float) -> float | None:
    return None if x != x or x in (float("inf"), float("-inf")) else x


class _TokenCounts:
    """What follows from ``tokens_in`` and ``tokens_out``, for the report classes."""

    __slots__ = ()
    tokens_in: int
    tokens_out: int

    @property
    def tokens_saved(self) -> int:
        return self.tokens_in - self.tokens_out

    @property
    def ratio(self) -> float:
        return _ratio(self.tokens_in, self.tokens_out)

    @property
    def kept_fraction(self) -> float:
        return _kept(self.tokens_in, self.tokens_out)

    def _counts(self) -> dict[str, Any]:
        return {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_saved": self.tokens_saved,
            "ratio": _json_float(self.ratio),
            "kept_fraction": self.kept_fraction,
        }


@dataclass(frozen=True, slots=True)
class ChunkReport(_TokenCounts):
    """Tokens of one source chunk before and after (0 after when it was dropped)."""

    id: str
    tokens_in: int
    tokens_out: int
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_saved": self.tokens_saved,
            "kept_fraction": self.kept_fraction,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class StageReport(_TokenCounts):
    """One compressor's share of the work in a call."""

    name: str
    compressor: str
    tokens_in: int
    tokens_out: int
    chunks_in: int
    chunks_out: int
    seconds: float
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "compressor": self.compressor,
            **self._counts(),
            "chunks_in": self.chunks_in,
            "chunks_out": self.chunks_out,
            "seconds": self.seconds,
            "warnings": list(self.warnings),
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class SavingsReport(_TokenCounts):
    """What one ``compress`` call saved.

    ``tokens_in`` / ``tokens_out`` count the joined prompt-ready context before and after, with the
    token counter named in ``counter``. ``ratio`` = in/out, ``kept_fraction`` = out/in.
    ``stages`` holds one :class:`StageReport` per compressor (one for a single compressor),
    ``chunks`` one :class:`ChunkReport` per source chunk.
    """

    tokens_in: int
    tokens_out: int
    counter: str
    seconds: float
    stages: tuple[StageReport, ...] = ()
    chunks: tuple[ChunkReport, ...] = ()
    warnings: tuple[str, ...] = ()
    budget_tokens: int | None = None
    price_per_million: float | None = None

    def cost_saved(self, price_per_million: float | None = None) -> float | None:
        """Money saved on input tokens at ``price_per_million`` (currency per 1M tokens)."""
        price = self.price_per_million if price_per_million is None else price_per_million
        if price is None:
            return None
        return self.tokens_saved * float(price) / 1_000_000

    def with_price(self, price_per_million: float | None) -> SavingsReport:
        """A copy that carries a price, so renderings include the cost saved."""
        return _replace(self, price_per_million=price_per_million)

    # ------------------------------------------------------------------ renderers
    def to_dict(self) -> dict[str, Any]:
        return {
            **self._counts(),
            "counter": self.counter,
            "seconds": self.seconds,
            "budget_tokens": self.budget_tokens,
            "price_per_million": self.price_per_million,
            "cost_saved": self.cost_saved(),
            "stages": [s.to_dict() for s in self.stages],
            "chunks": [c.to_dict() for c in self.chunks],
            "warnings": list(self.warnings),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_markdown(self, *, per_chunk: bool = False) -> str:
        lines = [
            f"**Token savings** (counter `{self.counter}`): "
            f"{self.tokens_in} → {self.tokens_out} tokens, {self.tokens_saved} saved, "
            f"{_fmt_ratio(self.ratio)} ratio, {self.kept_fraction:.1%} kept, {self.seconds * 1000:.1f} ms"
            + (f", budget {self.budget_tokens}" if self.budget_tokens is not None else ""),
        ]
        cost = self.cost_saved()
        if cost is not None:
            lines[0] += f", cost saved {cost:.6f} at {self.price_per_million}/1M tokens"
        lines += [
            "",
            "| stage | compressor | tokens in | tokens out | saved | kept | chunks in→out | ms |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for s in self.stages:
            lines.append(
                f"| {s.name} | {s.compressor.rsplit('.', 1)[-1]} | {s.tokens_in} | {s.tokens_out} | "
                f"{s.tokens_saved} | {s.kept_fraction:.1%} | {s.chunks_in}→{s.chunks_out} | {s.seconds * 1000:.1f} |"
            )
        if per_chunk and self.chunks:
            lines += ["", "| chunk | tokens in | tokens out | kept |", "|---|---:|---:|---:|"]
            for c in self.chunks:
                lines.append(f"| {c.id} | {c.tokens_in} | {c.tokens_out} | {c.kept_fraction:.1%} |")
        warnings = list(self.warnings) + [f"{s.name}: {w}" for s in self.stages for w in s.warnings]
        if warnings:
            lines += ["", "Warnings:"] + [f"- {w}" for w in warnings]
        return "\n".join(lines)

    def to_text(self) -> str:
        head = (
            f"tokens {self.tokens_in} -> {self.tokens_out} ({self.tokens_saved} saved, "
            f"{_fmt_ratio(self.ratio)}, {self.kept_fraction:.1%} kept) counter={self.counter} "
            f"time={self.seconds * 1000:.1f}ms"
        )
        cost = self.cost_saved()
        if cost is not None:
            head += f" cost_saved={cost:.6f}"
        rows = [
            f"  {s.name:<16} {s.tokens_in:>7} -> {s.tokens_out:<7} {s.kept_fraction:6.1%} {s.seconds * 1000:8.1f}ms"
            for s in self.stages
        ]
        warnings = [f"  warning: {w}" for w in self.warnings] + [
            f"  warning ({s.name}): {w}" for s in self.stages for w in s.warnings
        ]
        return "\n".join([head, *rows, *warnings])

    def __str__(self) -> str:
        return self.to_text()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SavingsReport:
        return cls(
            tokens_in=int(data["tokens_in"]),
            tokens_out=int(data["tokens_out"]),
            counter=str(data["counter"]),
            seconds=float(data.get("seconds", 0.0)),
            stages=tuple(
                StageReport(
                    name=s["name"],
                    compressor=s["compressor"],
                    tokens_in=int(s["tokens_in"]),
                    tokens_out=int(s["tokens_out"]),
                    chunks_in=int(s["chunks_in"]),
                    chunks_out=int(s["chunks_out"]),
                    seconds=float(s["seconds"]),
                    warnings=tuple(s.get("warnings", ())),
                    details=dict(s.get("details", {})),
                )
                for s in data.get("stages", ())
            ),
            chunks=tuple(
                ChunkReport(c["id"], int(c["tokens_in"]), int(c["tokens_out"]), c.get("score"))
                for c in data.get("chunks", ())
            ),
            warnings=tuple(data.get("warnings", ())),
            budget_tokens=data.get("budget_tokens"),
            price_per_million=data.get("price_per_million"),
        )


def _fmt_ratio(r: float) -> str:
    return "∞x" if r == float("inf") else f"{r:.2f}x"


def _replace(report: SavingsReport, **changes: Any) -> SavingsReport:
    import dataclasses

    return dataclasses.replace(report, **changes)


def chunk_reports(
    sources: Sequence[Any],
    outputs: Sequence[Any],
    count: Any,
    scores: Mapping[str, float] | None = None,
) -> tuple[ChunkReport, ...]:
    """Per-source token counts: each output token is attributed to the source its spans point to."""
    out_by_source: dict[str, int] = {}
    for ch in outputs:
        if not ch.spans:
            out_by_source[ch.id] = out_by_source.get(ch.id, 0) + count(ch.text)
            continue
        pieces: dict[str, list[str]] = {}
        for sp in ch.spans:
            pieces.setdefault(sp.source_id, []).append(ch.text[sp.out_start : sp.out_end])
        for sid, texts in pieces.items():
            out_by_source[sid] = out_by_source.get(sid, 0) + count(" ".join(texts))
    return tuple(
        ChunkReport(
            id=src.id,
            tokens_in=count(src.text),
            tokens_out=out_by_source.get(src.id, 0),
            score=(scores or {}).get(src.id),
        )
        for src in sources
    )
