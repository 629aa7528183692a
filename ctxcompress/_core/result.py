"""What ``compress`` returns: the result type and how chunks are joined into the prompt-ready text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .report import SavingsReport
from .types import Chunk

__all__ = ["SEPARATOR", "CompressionResult", "join_text"]

SEPARATOR = "\n\n"
"""How chunks are joined into the prompt-ready text (and counted)."""


def join_text(chunks: Sequence[Chunk]) -> str:
    return SEPARATOR.join(c.text for c in chunks)


@dataclass(frozen=True)
class CompressionResult:
    """The output of ``compress``: chunks traceable to ``sources``, the prompt-ready ``text``, a report,
    and the ``query`` they were compressed for."""

    chunks: tuple[Chunk, ...]
    report: SavingsReport
    text: str
    sources: tuple[Chunk, ...] = ()
    query: str = ""

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

    def to_html(self, *, title: str | None = None) -> str:
        """A self-contained HTML page of this compression (no script, no network): the query, the
        per-stage and per-chunk token counts, and every source chunk with the text kept highlighted,
        merged near-duplicates struck through and the dropped text greyed. Write it to a file and open
        it in a browser; see :mod:`ctxcompress._core.html`."""
        from .html import render_html

        return render_html(self.chunks, self.sources, self.report, text=self.text, query=self.query, title=title)

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
