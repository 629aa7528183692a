"""Reports: ``results.json``, ``results.csv``, ``report.md``, ``report.html`` and one plot per data set.

The plot shows quality (answer-in-context recall; supporting-passage recall where a data set has only
label answers) with its bootstrap 95% interval against the kept fraction each method actually achieved.
Every recall in the tables carries its interval (``[low–high]``). A row is marked ★ (drawn on the
front line) only when no other row keeps about as few tokens or fewer (at most :data:`KEPT_TOLERANCE`
more) while scoring within or above its interval: a lead inside the interval is a tie, not a win.
Without intervals (older results) this is the plain Pareto front with the same tolerance.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._metrics import MIN_QUESTIONS

__all__ = ["KEPT_TOLERANCE", "load_results", "pareto_front", "quality_key", "starred", "write_all"]

KEPT_TOLERANCE = 0.01
"""Kept fractions this close count as the same cost when marking ★ (peers miss a budget by ~0.01)."""

CSV_FIELDS = [
    "dataset",
    "method",
    "budget",
    "n",
    "n_errors",
    "n_yes_no",
    "n_answer",
    "tokens_in",
    "tokens_out",
    "kept_fraction",
    "kept_fraction_total",
    "ratio",
    "over_budget",
    "answer_recall",
    "answer_recall_lo",
    "answer_recall_hi",
    "n_support",
    "support_recall",
    "support_recall_lo",
    "support_recall_hi",
    "support_all",
    "support_all_lo",
    "support_all_hi",
    "verbatim_rate",
    "latency_median_ms",
    "latency_p90_ms",
    "latency_mean_ms",
    "mem_median_mb",
    "mem_max_mb",
    "gold_in_context",
    "reader_em",
    "reader_f1",
    "reader_substring",
    "pareto",
]


def quality_key(rows: Sequence[dict[str, Any]]) -> str:
    """``answer_recall`` when the rows have it, else ``support_recall``."""
    return "answer_recall" if any(r.get("answer_recall") is not None for r in rows) else "support_recall"


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points not dominated by another (lower or equal x and higher or equal y, one strict)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def starred(points: Sequence[tuple[float, float, float | None]], tolerance: float = KEPT_TOLERANCE) -> list[int]:
    """Indices of the ``(kept, quality, quality_low)`` points that earn a ★ (see the module doc).

    Point ``i`` is starred unless another point keeps at most ``kept_i + tolerance`` and scores at
    least ``quality_low_i`` (the low end of ``i``'s interval; ``quality_i`` when there is none). Two
    points tied within an interval at the same cost are both left unstarred.
    """
    out = []
    for i, (x, y, lo) in enumerate(points):
        low = y if lo is None else lo
        if not any(x2 <= x + tolerance and y2 >= low for j, (x2, y2, _) in enumerate(points) if j != i):
            out.append(i)
    return sorted(out, key=lambda i: points[i][0])


def _mark_front(rows: list[dict[str, Any]]) -> None:
    by_ds: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_ds.setdefault(r["dataset"], []).append(r)
    for group in by_ds.values():
        key = quality_key(group)
        usable = [r for r in group if r.get(key) is not None and r.get("kept_fraction") is not None]
        front = starred([(r["kept_fraction"], r[key], r.get(f"{key}_lo")) for r in usable])
        for r in group:
            r["pareto"] = False
        for i in front:
            usable[i]["pareto"] = True


def _recall(r: dict[str, Any], key: str) -> str:
    """``<recall> [<low>–<high>]``: the recall and its bootstrap interval when the row has one."""
    if r.get(key) is None:
        return "—"
    lo, hi = r.get(f"{key}_lo"), r.get(f"{key}_hi")
    return _f(r[key]) + (f" [{_f(lo)}–{_f(hi)}]" if lo is not None and hi is not None else "")


def _few_questions(rows: Sequence[dict[str, Any]]) -> int | None:
    """The smallest number of scored questions of the quality key when below ``MIN_QUESTIONS``."""
    key = quality_key(rows)
    n_key = "n_answer" if key == "answer_recall" else "n_support"
    counts = [int(r[n_key]) for r in rows if r.get(key) is not None and r.get(n_key) is not None]
    least = min(counts, default=None)
    return least if least is not None and least < MIN_QUESTIONS else None


def _warning(rows: Sequence[dict[str, Any]]) -> str | None:
    n = _few_questions(rows)
    if n is None:
        return None
    return (
        f"⚠ only {n} questions scored (fewer than {MIN_QUESTIONS}): the intervals are wide, and a difference "
        "of a few questions is noise"
    )


def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def _ms(x: Any) -> str:
    if x is None:
        return "—"
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def _table_rows(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    has_reader = any(r.get("reader_em") is not None for r in rows)
    head = [
        "method",
        "budget",
        "kept",
        "ratio",
        "tokens in → out",
        "answer recall",
        "support recall",
        "all support",
        "verbatim",
        "median ms",
        "p90 ms",
        "peak MB med/max",
        "errors",
    ]
    if has_reader:
        head += ["reader EM", "reader F1", "reader substr"]
    body = []
    for r in sorted(rows, key=lambda r: (-r["budget"], r["method"])):
        cells = [
            r["method"] + (" ★" if r.get("pareto") else ""),
            "—" if r["method"] == "none" else f"{r['budget']:.0%}",
            _f(r["kept_fraction"]),
            _f(r["ratio"], 2) + "x" if r.get("ratio") else "—",
            f"{_f(r['tokens_in'], 0)} → {_f(r['tokens_out'], 0)}",
            _recall(r, "answer_recall"),
            _recall(r, "support_recall"),
            _recall(r, "support_all"),
            _f(r["verbatim_rate"]),
            _ms(r["latency_median_ms"]),
            _ms(r["latency_p90_ms"]),
            f"{_f(r['mem_median_mb'], 1)}/{_f(r['mem_max_mb'], 1)}",
            str(r["n_errors"]) + (f" ({r['over_budget']} over)" if r.get("over_budget") else ""),
        ]
        if has_reader:
            cells += [_f(r.get("reader_em")), _f(r.get("reader_f1")), _f(r.get("reader_substring"))]
        body.append(cells)
    return head, body


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    head, body = _table_rows(rows)
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def _plot_png(dataset: str, rows: Sequence[dict[str, Any]]) -> bytes | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    key = quality_key(rows)
    usable = [r for r in rows if r.get(key) is not None]
    if not usable:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=110)
    methods = sorted({r["method"] for r in usable})
    for m in methods:
        pts = sorted(
            (r["kept_fraction"], r[key], r.get(f"{key}_lo"), r.get(f"{key}_hi")) for r in usable if r["method"] == m
        )
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        line = ax.plot(xs, ys, marker="o", linewidth=1, label=m)[0]
        if all(p[2] is not None and p[3] is not None for p in pts):
            err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
            ax.errorbar(xs, ys, yerr=err, fmt="none", ecolor=line.get_color(), alpha=0.5, capsize=2)
    front = [r for r in usable if r.get("pareto")]
    if front:
        fpts = sorted((r["kept_fraction"], r[key]) for r in front)
        fx, fy = zip(*fpts, strict=True)
        ax.step(fx, fy, where="post", color="black", linestyle="--", linewidth=1, label="Pareto front")
        ax.scatter(fx, fy, marker="*", s=160, color="black", zorder=5)
    ax.set_xlabel("kept fraction of the context's tokens (achieved); bars: bootstrap 95% interval")
    ax.set_ylabel("answer-in-context recall" if key == "answer_recall" else "supporting-passage recall")
    ax.set_title(f"{dataset}: quality vs kept fraction")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _by_dataset(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["dataset"], []).append(r)
    return out


def _header_lines(results: dict[str, Any]) -> list[str]:
    h = results.get("harness", {})
    m = h.get("machine", {})
    lines = [
        f"- command: `{h.get('command') or '(API)'}`",
        f"- date: {h.get('date', '')}; machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs, "
        f"{m.get('memory_gb', '?')} GB, {m.get('platform', '')}, Python {m.get('python', '')}"
        + (f"; load average at the end {m['load_average']}" if m.get("load_average") else ""),
        f"- token counter: `{h.get('counter', '')}`; "
        f"embedder for every method that takes one: `{h.get('embedder', '')}`",
        f"- memory: {h.get('memory', '')}; latency: per question, after one untimed warm-up call per method",
    ]
    cfg = h.get("config", {})
    titles = cfg.get("titles", "metadata")
    lines.append(
        "- context: passage texts joined by a blank line; "
        + {
            "metadata": "titles not rendered (`--titles metadata`: titles are chunk metadata, which only "
            "methods that read metadata use)",
            "text": "each passage's title written on its first line for every method "
            "(`--titles text`), counted in the budget and in tokens in",
            "none": "no titles anywhere, not in metadata either (`--titles none`)",
        }.get(titles, f"titles: {titles}")
        + "; budget = kept fraction of that context's tokens, cap = floor(fraction x tokens in)"
    )
    split = cfg.get("split", "all")
    lines.append(
        f"- questions: `--split {split}`: "
        + {
            "report": "reporting questions only (the declared tuning questions are left out, "
            "see `ctxcompress_eval._protocol.TUNING`)",
            "tune": "**the declared tuning questions only: not for reporting**",
            "all": "tuning and reporting questions together",
        }.get(split, split)
    )
    lines.append(
        "- intervals: bootstrap 95% over questions (2,000 seeded resamples); ★ only where no row of "
        f"about the same or lower kept fraction (+{KEPT_TOLERANCE}) scores within the row's interval"
    )
    lines.append(f"- threads per process (torch, ONNX Runtime): {cfg.get('threads', 1)}")
    if cfg.get("embed_cache"):
        lines.append(
            "- **embedding cache shared across methods and budgets** (`--embed-cache`): quality figures are "
            "unaffected, but latency leaves out embeddings another method or budget already computed: "
            "do not compare latencies from this run"
        )
    if cfg.get("workers", 1) > 1 or cfg.get("engine") == "ray":
        lines.append(f"- engine {cfg.get('engine')} with {cfg.get('workers')} workers: latency includes contention")
    pk = h.get("packages", {})
    if pk:
        lines.append("- packages: " + ", ".join(f"{k} {v}" for k, v in sorted(pk.items())))
    return lines


def _dataset_line(key: str, info: dict[str, Any]) -> str:
    parts = [f"{info.get('description', '')}", f"{info.get('n_questions')} questions"]
    if info.get("split") == "tune" or info.get("n_tuning"):
        parts.append(f"**{info.get('n_tuning')} of them tuning questions**")
    if info.get("n_yes_no"):
        parts.append(f"{info['n_yes_no']} with yes/no (label) answers, counted apart from answer recall")
    if info.get("mean_passages") is not None:
        parts.append(f"{info['mean_passages']:.1f} passages per question")
    if info.get("gold_in_context") is not None:
        parts.append(f"gold passage retrieved for {info['gold_in_context']:.1%}")
    return "; ".join(parts)


def render_markdown(results: dict[str, Any], plots: dict[str, str]) -> str:
    lines = ["# ctxcompress-eval report", "", *_header_lines(results), ""]
    rows = results.get("results", [])
    for ds, group in _by_dataset(rows).items():
        info = results.get("datasets", {}).get(ds, {})
        lines += [f"## {ds}", "", _dataset_line(ds, info), ""]
        warning = _warning(group)
        if warning:
            lines += [f"**{warning}**", ""]
        lines += [markdown_table(group), ""]
        if ds in plots:
            lines += [f"![{ds}: quality vs kept fraction]({plots[ds]})", ""]
    notes = [v["notes"] for v in results.get("methods", {}).values() if v.get("notes")]
    lines += [
        "★ = no other row keeps about as few tokens or fewer and scores within or above this row's "
        "95% interval (a lead inside the interval is a tie). "
        "`kept` is the mean achieved kept fraction; `(n over)` counts questions over the cap "
        "(peers that cannot hit a budget exactly).",
        "",
    ]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}tr.front{background:#fff6d5}code{background:#f3f3f3}"
)


def render_html(results: dict[str, Any], pngs: dict[str, bytes]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ctxcompress-eval report</title>",
        f"<style>{_CSS}</style></head><body><h1>ctxcompress-eval report</h1><ul>",
    ]
    for line in _header_lines(results):
        text = html.escape(line[2:])
        parts.append("<li>" + text.replace("`", "") + "</li>")
    parts.append("</ul>")
    for ds, group in _by_dataset(results.get("results", [])).items():
        info = results.get("datasets", {}).get(ds, {})
        parts.append(f"<h2>{html.escape(ds)}</h2><p>{html.escape(_dataset_line(ds, info))}</p>")
        warning = _warning(group)
        if warning:
            parts.append(f"<p><strong>{html.escape(warning)}</strong></p>")
        head, body = _table_rows(group)
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
        for cells in body:
            cls = " class='front'" if cells[0].endswith("★") else ""
            parts.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
        if ds in pngs:
            b64 = base64.b64encode(pngs[ds]).decode("ascii")
            parts.append(f"<img alt='{html.escape(ds)} plot' src='data:image/png;base64,{b64}'>")
    parts.append(
        "<p>★ = no other row keeps about as few tokens or fewer and scores within or above this row's 95% "
        "interval. kept = mean achieved kept fraction.</p>"
    )
    notes = [v["notes"] for v in results.get("methods", {}).values() if v.get("notes")]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_all(results: dict[str, Any], out: Path) -> None:
    """Write every report file into ``out`` (created if needed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = results.get("results", [])
    _mark_front(rows)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    with (out / "results.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in CSV_FIELDS})
    pngs: dict[str, bytes] = {}
    plots: dict[str, str] = {}
    for ds, group in _by_dataset(rows).items():
        png = _plot_png(ds, group)
        if png is not None:
            name = "plot_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in ds) + ".png"
            (out / name).write_bytes(png)
            pngs[ds], plots[ds] = png, name
    (out / "report.md").write_text(render_markdown(results, plots), encoding="utf-8")
    (out / "report.html").write_text(render_html(results, pngs), encoding="utf-8")


def load_results(path: Path) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return data
