"""An HTML view of one compression: what survived, what was dropped, what was merged.

:func:`render_html` (``CompressionResult.to_html()``) writes one self-contained page (inline CSS, no
script, no network): the query on top, the totals and the per-stage token counts, then every source
chunk with its per-chunk token counts, the text kept verbatim highlighted (``<mark class="kept">``),
text an abstractive stage summarised underlined (``<span class="summarised">``), near-duplicates a
fusion stage merged into a kept sentence struck through (``<span class="merged">``) and the dropped
text greyed (``<span class="dropped">``). Every piece of text is HTML-escaped, carriage returns as
character references (an HTML parser turns a raw CR LF into LF, so the page would no longer hold the
source text; a CR without LF also gets a ``<br>`` to break the line) and a NUL, which HTML cannot
carry, as U+FFFD (one character for one, so offsets hold). Each mark carries ``data-source``,
``data-start`` and ``data-end`` (offsets into the source text), so the page can be checked against the
spans. A Content-Security-Policy forbids loading anything.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .report import SavingsReport
from .types import Chunk

__all__ = ["MERGED_KEY", "render_html"]

MERGED_KEY = "ctxcompress.merged"
"""Metadata key under which ``RedundancyFusion`` lists the source ranges merged into a chunk."""

# the kinds of a character of a source, weakest first: a stronger kind wins where two overlap
_DROPPED, _MERGED, _SUMMARISED, _KEPT = 0, 1, 2, 3
_CLASS = {_DROPPED: "dropped", _MERGED: "merged", _SUMMARISED: "summarised", _KEPT: "kept"}

_CSS = """\
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;
color:#1a1a1a;line-height:1.45}
h1{font-size:1.4em;margin-bottom:.2em}h2{font-size:1.1em;margin-top:1.6em}
.query{font-size:1.15em;background:#eef4ff;border-left:4px solid #3d6fd1;padding:.5em .8em;margin:.6em 0}
.totals{margin:.4em 0 1em}
table{border-collapse:collapse;font-size:.9em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.legend span,.legend mark{padding:0 .3em;margin-right:.6em}
.chunk{border:1px solid #ddd;border-radius:6px;margin:.8em 0;padding:.5em .8em}
.chunk.gone{background:#fafafa}
.chunk header{font-size:.85em;color:#555;margin-bottom:.3em}
.chunk header b{color:#1a1a1a}
.text{white-space:pre-wrap;word-wrap:break-word}
mark.kept{background:#fff0a8;color:#000}
.dropped{color:#9a9a9a}
.merged{color:#8a6d3b;text-decoration:line-through;background:#f6efe2}
.summarised{text-decoration:underline dotted #3d6fd1;color:#234}
.warn{color:#8a4b00}
details{margin:1em 0}pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;border-radius:4px}
"""


# what an HTML parser would not put into the DOM as written: CR (CR LF becomes LF) and NUL (dropped)
_UNCARRIED = str.maketrans({"\r": "&#13;", "\x00": "\ufffd"})

# nothing may load: no script, no network, styles only from the page's own <style>
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True).translate(_UNCARRIED)


def _text(text: str, start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` escaped for element content; a CR that ends a line on its own (no LF after it in
    ``text``) also gets a ``<br>``, which adds no text, so that the line still breaks on the page."""
    end = len(text) if end is None else end
    out: list[str] = []
    last = start
    for i in range(start, end):
        if text[i] == "\r" and text[i + 1 : i + 2] != "\n":
            out += [_e(text[last : i + 1]), "<br>"]
            last = i + 1
    out.append(_e(text[last:end]))
    return "".join(out)


def _pct(x: float) -> str:
    return f"{x:.0%}" if x == x else "—"


def _paint(length: int, ranges: Iterable[tuple[int, int, int]]) -> list[int]:
    kinds = [_DROPPED] * length
    for start, end, kind in ranges:
        for i in range(max(0, start), min(length, end)):
            if kinds[i] < kind:
                kinds[i] = kind
    return kinds


def _runs(kinds: Sequence[int]) -> list[tuple[int, int, int]]:
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(kinds) + 1):
        if i == len(kinds) or kinds[i] != kinds[start]:
            runs.append((start, i, kinds[start]))
            start = i
    return runs


def _source_ranges(
    chunks: Sequence[Chunk], source_ids: set[str]
) -> tuple[dict[str, list[tuple[int, int, int]]], dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
    """Per source id: the painted ranges, the merge records, and the output chunks that hold its text."""
    ranges: dict[str, list[tuple[int, int, int]]] = {}
    merges: dict[str, list[dict[str, Any]]] = {}
    holders: dict[str, list[str]] = {}
    for out in chunks:
        if not out.spans and out.id in source_ids:  # passed through whole
            ranges.setdefault(str(out.id), []).append((0, len(out.text), _KEPT))
            holders.setdefault(str(out.id), []).append(str(out.id))
        for sp in out.spans:
            if sp.source_id not in source_ids:
                continue
            ranges.setdefault(sp.source_id, []).append((sp.start, sp.end, _KEPT if sp.verbatim else _SUMMARISED))
            if str(out.id) not in holders.setdefault(sp.source_id, []):
                holders[sp.source_id].append(str(out.id))
        raw = out.metadata.get(MERGED_KEY) or ()
        if isinstance(raw, (list, tuple)):
            for item in raw:
                if not isinstance(item, Mapping) or str(item.get("source_id")) not in source_ids:
                    continue
                try:
                    start, end = int(item["start"]), int(item["end"])
                except (KeyError, TypeError, ValueError):
                    continue
                sid = str(item["source_id"])
                ranges.setdefault(sid, []).append((start, end, _MERGED))
                merges.setdefault(sid, []).append({**item, "into": out.id})
    return ranges, merges, holders


def _merge_title(start: int, end: int, merges: Sequence[Mapping[str, Any]]) -> str:
    for m in merges:
        if int(m["start"]) < end and start < int(m["end"]):
            sim = m.get("similarity")
            return f"near-duplicate merged into output chunk {m['into']}" + (
                f" (similarity {float(sim):.2f})" if isinstance(sim, (int, float)) else ""
            )
    return "near-duplicate merged into a kept sentence"


def _render_source(
    src: Chunk,
    ranges: Sequence[tuple[int, int, int]],
    merges: Sequence[Mapping[str, Any]],
    holders: Sequence[str],
    counts: Any,
) -> str:
    sid = str(src.id)
    text = src.text
    pieces: list[str] = []
    for start, end, kind in _runs(_paint(len(text), ranges)) if text else []:
        piece = _text(text, start, end)
        attrs = f'class="{_CLASS[kind]}" data-source="{_e(sid)}" data-start="{start}" data-end="{end}"'
        if kind == _KEPT:
            pieces.append(f"<mark {attrs}>{piece}</mark>")
        elif kind == _MERGED:
            pieces.append(f'<span {attrs} title="{_e(_merge_title(start, end, merges))}">{piece}</span>')
        elif kind == _SUMMARISED:
            pieces.append(f'<span {attrs} title="summarised in the output">{piece}</span>')
        else:
            pieces.append(f'<span {attrs} title="dropped">{piece}</span>')
    head = [f"<b>chunk {_e(sid)}</b>"]
    title = src.metadata.get("title")
    if isinstance(title, str) and title:
        head.append(f"“{_e(title)}”")
    if counts is not None:
        head.append(
            f'<span class="counts">{counts.tokens_in} → {counts.tokens_out} tokens '
            f"({_pct(counts.kept_fraction)} kept)</span>"
        )
        if counts.score is not None:
            head.append(f"score {counts.score:.3f}")
    elif src.score is not None:
        head.append(f"retriever score {src.score:.3f}")
    n_merged = len(merges)
    if n_merged:
        head.append(f'<span class="merged-count">{n_merged} merged duplicate{"s" if n_merged > 1 else ""}</span>')
    if holders:
        head.append("in output chunk " + ", ".join(_e(h) for h in holders))
    else:
        head.append("dropped")
    cls = "chunk" if holders else "chunk gone"
    return (
        f'<section class="{cls}" id="source-{_e(sid)}" data-source="{_e(sid)}">'
        f"<header>{' · '.join(head)}</header>"
        f'<div class="text">{"".join(pieces)}</div></section>'
    )


def _stage_table(report: SavingsReport) -> str:
    if not report.stages:
        return ""
    rows = [
        "<table class='stages'><tr><th>stage</th><th>compressor</th><th>tokens in</th><th>tokens out</th>"
        "<th>kept</th><th>chunks in → out</th><th>ms</th></tr>"
    ]
    for s in report.stages:
        rows.append(
            f"<tr><td>{_e(s.name)}</td><td>{_e(s.compressor.rsplit('.', 1)[-1])}</td><td>{s.tokens_in}</td>"
            f"<td>{s.tokens_out}</td><td>{_pct(s.kept_fraction)}</td><td>{s.chunks_in} → {s.chunks_out}</td>"
            f"<td>{s.seconds * 1000:.1f}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def render_html(
    chunks: Sequence[Chunk],
    sources: Sequence[Chunk],
    report: SavingsReport,
    *,
    text: str = "",
    query: str = "",
    title: str | None = None,
) -> str:
    """A self-contained HTML page showing which parts of ``sources`` the output ``chunks`` kept."""
    source_ids = {str(s.id) for s in sources}
    ranges, merges, holders = _source_ranges(chunks, source_ids)
    counts = {c.id: c for c in report.chunks}
    page_title = title or "ctxcompress: what was kept"
    budget = f", budget {report.budget_tokens} tokens" if report.budget_tokens is not None else ""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(page_title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(page_title)}</h1>",
        f'<div class="query"><b>Query:</b> {_e(query) if query else "<i>(none)</i>"}</div>',
        f'<p class="totals"><b>{report.tokens_in} → {report.tokens_out} tokens</b> '
        f"({_pct(report.kept_fraction)} kept, {report.tokens_saved} saved{budget}; "
        f"counter <code>{_e(report.counter)}</code>, {report.seconds * 1000:.1f} ms); "
        f"{len(chunks)} output chunk{'s' if len(chunks) != 1 else ''} from {len(sources)} source"
        f"{'s' if len(sources) != 1 else ''}.</p>",
        _stage_table(report),
    ]
    warnings = list(report.warnings) + [f"{s.name}: {w}" for s in report.stages for w in s.warnings]
    if warnings:
        parts.append("<ul class='warn'>" + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul>")
    parts.append(
        '<p class="legend"><mark class="kept">kept verbatim</mark><span class="summarised">summarised</span>'
        '<span class="merged">merged near-duplicate</span><span class="dropped">dropped</span></p>'
    )
    if not sources:
        parts.append("<p><i>The result holds no sources: nothing to compare the output with.</i></p>")
    for src in sources:
        sid = str(src.id)
        parts.append(
            _render_source(src, ranges.get(sid, ()), merges.get(sid, ()), holders.get(sid, ()), counts.get(sid))
        )
    parts.append(
        f"<details><summary>The compressed text ({report.tokens_out} tokens)</summary>"
        f"<pre>{_text(text)}</pre></details>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
