"""The compact rendering of kept facts: one line per subject and relation instead of one sentence per edge.

``Disease psoriasis — associates Gene: IL23R, TNIP1 (DISEASES, DisGeNET); CARM1 (TIGA)`` carries the
content of the three KG-RAG sentences it replaces (the edges, their ends' types and each edge's
provenance) in fewer tokens. Rules, applied to facts already selected and ordered by the pruner:

- An edge *from* the pivot node (the linked entity) or any edge when there is no pivot: grouped by
  (source, predicate, target type): ``{SourceType} {source} — {predicate} {TargetType}: items``.
- An edge *into* the pivot: grouped by (predicate, source type, target): ``{SourceType} {predicate}
  {TargetType} {target}: items`` (``Compound treats Disease psoriasis: Methotrexate (PharmacotherapyDB)``).
- Items are the other ends' names (with the edge's properties as JSON when asked for); the same name
  reached by several edges (a merged graph's Hetionet and DISEASES edges) is one item whose provenance
  is the union. Items sharing a provenance form a run: ``A, B (P1); C (P2)``.
- A fact without named ends (a node's identifier sentence, a sentence of plain text) stays its sentence.

Lines come in the order of their best fact, items in the order of their facts (by similarity).
:func:`render_compact` also says where each fact's item sits in the text, for the output spans.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from .facts import Fact, plain
from .verbalise import provenance_text

__all__ = ["Placed", "render_compact"]

DASH = " — "


@dataclass(frozen=True)
class Placed:
    """Where fact ``fact`` ended up: its item at ``[start, end)`` of the text, on line ``line``.

    ``name_at`` is the item's name inside the fact's own sentence (``(start, end)`` in ``fact.text``)
    when it is there verbatim, else ``None``; ``header`` is the line's header range for the first
    fact of a line (``None`` for the others)."""

    fact: int
    line: int
    start: int
    end: int
    name_at: tuple[int, int] | None
    header: tuple[int, int] | None


def _groupable(f: Fact) -> bool:
    return f.target is not None and bool(f.source_name) and bool(f.target_name) and bool(f.predicate)


def _item_text(name: str, f: Fact) -> str:
    if not f.properties:
        return name
    return name + " " + json.dumps({k: plain(v) for k, v in f.properties.items()}, sort_keys=True, ensure_ascii=False)


def _name_in(text: str, name: str, last: bool) -> tuple[int, int] | None:
    at = text.rfind(name) if last else text.find(name)
    return None if at < 0 or not name else (at, at + len(name))


def render_compact(facts: Sequence[Fact], pivot: str | None = None) -> tuple[str, list[Placed]]:
    """``facts`` (already selected and ordered) as compact lines (``"\\n"``-joined), and where each went."""
    # line key -> (header, items: item text -> (provenance parts, fact indices, name positions))
    lines: dict[tuple[str, ...], tuple[str, dict[str, tuple[list[str], list[tuple[int, tuple[int, int] | None]]]]]] = {}
    for i, f in enumerate(facts):
        if not _groupable(f):
            lines[("single", str(i))] = (f.text, {})
            continue
        incoming = pivot is not None and f.target == pivot and f.source != pivot
        if incoming:
            key: tuple[str, ...] = ("in", f.predicate, f.source_type, str(f.target), f.target_type, f.target_name)
            head = " ".join(p for p in (f.source_type, f.predicate, f.target_type, f.target_name) if p)
            name, last = f.source_name, False
        else:
            key = ("out", str(f.source), f.source_type, f.source_name, f.predicate, f.target_type)
            subject = " ".join(p for p in (f.source_type, f.source_name) if p)
            head = subject + DASH + " ".join(p for p in (f.predicate, f.target_type) if p)
            name, last = f.target_name, True
        _, items = lines.setdefault(key, (head, {}))
        provs, members = items.setdefault(_item_text(name, f), ([], []))
        for part in provenance_text(f.provenance).split(", "):
            if part and part not in provs:
                provs.append(part)
        members.append((i, _name_in(f.text, name, last)))

    out: list[str] = []
    placed: list[Placed] = []
    pos = 0
    for n, (key, (head, items)) in enumerate(lines.items()):
        if n:
            pos += 1  # the "\n" between lines
        line_start = pos
        if key[0] == "single":
            i = int(key[1])
            out.append(head)
            placed.append(Placed(i, n, pos, pos + len(head), (0, len(head)), None))
            pos += len(head)
            continue
        runs: dict[str, list[str]] = {}
        for item, (provs, _) in items.items():
            runs.setdefault(", ".join(provs), []).append(item)
        text = head + ": "
        first = True
        for r, (prov, names) in enumerate(runs.items()):
            if r:
                text += "; "
            for k, item in enumerate(names):
                if k:
                    text += ", "
                start = line_start + len(text)
                text += item
                for fi, at in items[item][1]:
                    hdr = (line_start, line_start + len(head)) if first else None
                    first = False
                    placed.append(Placed(fi, n, start, start + len(item), at, hdr))
            if prov:
                text += f" ({prov})"
        out.append(text)
        pos += len(text)
    placed.sort(key=lambda p: p.fact)
    return "\n".join(out), placed
