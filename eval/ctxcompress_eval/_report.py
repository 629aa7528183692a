"""Reports: ``results.json``, ``results.csv``, ``report.md``, ``report.html`` and one plot per data set.

The plot shows quality (answer-in-context recall; supporting-passage recall where a data set has only
label answers) with its bootstrap 95% interval against the kept fraction each method actually achieved.
Every recall in the tables carries its interval (``[low–high]``). A row is marked ★ (drawn on the
front line) only when no other row keeps about as few tokens or fewer (at most :data:`KEPT_TOLERANCE`
more) while scoring within or above its interval: a lead inside the interval is a tie, not a win.
Without intervals (older results) this is the plain Pareto front with the same tolerance.

Reading order: a one-line headline per data set (:func:`headline`: how many questions ctxcompress
keeps the answer for at the budget nearest 25%, and the best peer), then per data set the plot, the
table and links to the HTML views of what was cut (``examples`` in the results), and the run details
last. The plot needs matplotlib (a dependency of ``ctxcompress-eval``); without it the report says so.
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

__all__ = [
    "HEADLINE_BUDGET",
    "KEPT_TOLERANCE",
    "headline",
    "load_results",
    "pareto_front",
    "plot_figure",
    "quality_key",
    "starred",
    "write_all",
]

HEADLINE_BUDGET = 0.25
"""The headline compares methods at the run's budget nearest this kept fraction."""
NO_PLOT = (
    "No plot: matplotlib is not installed in this environment. It is a dependency of ctxcompress-eval "
    "(pip install ctxcompress-eval, or pip install matplotlib), then `ctxcompress-eval report OUT` redraws it."
)

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


def _have_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _budget_label(r: dict[str, Any]) -> str:
    return "all" if r["method"] == "none" else f"{r['budget']:.0%}"


def plot_figure(dataset: str, rows: Sequence[dict[str, Any]]) -> Any:
    """The quality vs kept fraction figure of one data set (a matplotlib ``Figure``; None without rows).

    Each method is a line of markers, each marker labelled with its budget; a row with ★ gets a black
    ring *around* its marker (drawn under it, hollow), so every method stays visible on the front.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = quality_key(rows)
    usable = [r for r in rows if r.get(key) is not None and r.get("kept_fraction") is not None]
    if not usable:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=110)
    methods = sorted({r["method"] for r in usable})
    for m in methods:
        mine = sorted((r for r in usable if r["method"] == m), key=lambda r: r["kept_fraction"])
        xs = [r["kept_fraction"] for r in mine]
        ys = [r[key] for r in mine]
        line = ax.plot(xs, ys, marker="o", markersize=6, linewidth=1, label=m, zorder=4)[0]
        lows = [r.get(f"{key}_lo") for r in mine]
        highs = [r.get(f"{key}_hi") for r in mine]
        if all(lo is not None and hi is not None for lo, hi in zip(lows, highs, strict=True)):
            err = [[y - lo for y, lo in zip(ys, lows, strict=True)], [hi - y for y, hi in zip(ys, highs, strict=True)]]
            ax.errorbar(xs, ys, yerr=err, fmt="none", ecolor=line.get_color(), alpha=0.5, capsize=2, zorder=3)
        for r, x, y in zip(mine, xs, ys, strict=True):
            ax.annotate(
                _budget_label(r),
                (x, y),
                xytext=(4, 5),
                textcoords="offset points",
                fontsize=7,
                color=line.get_color(),
                zorder=6,
            )
    front = sorted((r["kept_fraction"], r[key]) for r in usable if r.get("pareto"))
    if front:
        fx, fy = zip(*front, strict=True)
        ax.step(fx, fy, where="post", color="black", linestyle="--", linewidth=0.8, alpha=0.6, zorder=2)
        ax.scatter(
            fx,
            fy,
            s=230,
            marker="o",
            facecolors="none",
            edgecolors="black",
            linewidths=1.4,
            zorder=2,
            label="★ (ring): best for its cost",
        )
    ax.set_xlabel("kept fraction of the context's tokens (achieved); labels: budget; bars: bootstrap 95% interval")
    ax.set_ylabel("answer-in-context recall" if key == "answer_recall" else "supporting-passage recall")
    ax.set_title(f"{dataset}: quality vs kept fraction")
    ax.set_xlim(0, 1.08)
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _plot_png(dataset: str, rows: Sequence[dict[str, Any]]) -> bytes | None:
    if not _have_matplotlib():
        return None
    import matplotlib.pyplot as plt

    fig = plot_figure(dataset, rows)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _family(method: str) -> bool:
    """ctxcompress's own methods: ``ctxcompress``, ``ctxcompress:<Class>``, ``config:<file>``."""
    return method == "ctxcompress" or method.startswith(("ctxcompress:", "config:"))


def _hits(r: dict[str, Any], key: str) -> tuple[int, int] | None:
    """(questions that kept the answer, questions scored) of a row; for support: all supporting kept."""
    if key == "answer_recall":
        value, n = r.get("answer_recall"), r.get("n_answer")
    else:
        value, n = r.get("support_all"), r.get("n_support")
    if value is None or not n:
        return None
    return round(float(value) * int(n)), int(n)


def headline(dataset: str, rows: Sequence[dict[str, Any]], target: float = HEADLINE_BUDGET) -> str | None:
    """One line: how many questions ctxcompress keeps the answer for at the budget nearest ``target``,
    and how many the best other method (not ``none``) keeps it for. None when there is nothing to say."""
    key = quality_key(rows)
    budgets = sorted({float(r["budget"]) for r in rows if r["method"] != "none"})
    if not budgets:
        return None
    budget = min(budgets, key=lambda b: (abs(b - target), b))
    at = [r for r in rows if r["method"] != "none" and float(r["budget"]) == budget and _hits(r, key) is not None]
    ours = [r for r in at if _family(r["method"])]
    if not ours:
        return None
    ours.sort(key=lambda r: (r["method"] != "ctxcompress", -_hits(r, key)[0]))  # type: ignore[index]
    best_ours = ours[0]
    x, n = _hits(best_ours, key)  # type: ignore[misc]
    what = "keeps the answer" if key == "answer_recall" else "keeps every supporting passage"
    line = f"{dataset}: at {budget:.0%} kept, {best_ours['method']} {what} for {x} of {n} questions"
    peers = [r for r in at if not _family(r["method"])]
    if peers:
        best = max(peers, key=lambda r: (_hits(r, key)[0], r["method"] != "random"))  # type: ignore[index]
        y, n2 = _hits(best, key)  # type: ignore[misc]
        label = "the random baseline" if best["method"] == "random" else f"the best peer ({best['method']})"
        line += f"; {label} for {y}" + (f" of {n2}" if n2 != n else "")
    return line + "."


def _examples(results: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    return [e for e in results.get("examples") or () if e.get("dataset") == dataset and e.get("path")]


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


def _headlines(results: dict[str, Any]) -> list[str]:
    out = []
    for ds, group in _by_dataset(results.get("results", [])).items():
        line = headline(ds, group)
        if line:
            out.append(line)
    return out


_STAR_NOTE = (
    "★ = no other row keeps about as few tokens or fewer and scores within or above this row's "
    "95% interval (a lead inside the interval is a tie); in the plot, a black ring around the marker. "
    "`kept` is the mean achieved kept fraction; `(n over)` counts questions over the cap "
    "(peers that cannot hit a budget exactly)."
)


def render_markdown(results: dict[str, Any], plots: dict[str, str]) -> str:
    lines = ["# ctxcompress-eval report", ""]
    heads = _headlines(results)
    if heads:
        lines += [f"**{h}**" if len(heads) == 1 else f"- **{h}**" for h in heads] + [""]
    rows = results.get("results", [])
    no_plot = not _have_matplotlib()
    for ds, group in _by_dataset(rows).items():
        info = results.get("datasets", {}).get(ds, {})
        lines += [f"## {ds}", "", _dataset_line(ds, info), ""]
        warning = _warning(group)
        if warning:
            lines += [f"**{warning}**", ""]
        if ds in plots:
            lines += [f"![{ds}: quality vs kept fraction]({plots[ds]})", ""]
        elif no_plot:
            lines += [f"_{NO_PLOT}_", ""]
        lines += [markdown_table(group), ""]
        examples = _examples(results, ds)
        if examples:
            lines += ["What was cut (HTML, one page per question): " + ", ".join(
                f"[{e['method']} @ {float(e['budget']):.0%} · {e['id']}]({e['path']})" for e in examples
            ), ""]  # fmt: skip
    notes = [v["notes"] for v in results.get("methods", {}).values() if v.get("notes")]
    lines += [_STAR_NOTE, ""]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    lines += ["## Run details", "", *_header_lines(results), ""]
    return "\n".join(lines)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}tr.front{background:#fff6d5}code{background:#f3f3f3}"
    ".headline{font-size:1.15em;font-weight:600;background:#eef4ff;border-left:4px solid #3d6fd1;padding:.4em .7em}"
    "img.plot{max-width:100%}.noplot{color:#8a4b00}"
)


# self-contained: nothing may load but the page's own styles and its inline (data:) plot images
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def render_html(results: dict[str, Any], pngs: dict[str, bytes]) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}"><title>ctxcompress-eval report</title>',
        f"<style>{_CSS}</style></head><body><h1>ctxcompress-eval report</h1>",
    ]
    for h in _headlines(results):
        parts.append(f"<p class='headline'>{html.escape(h)}</p>")
    no_plot = not _have_matplotlib()
    for ds, group in _by_dataset(results.get("results", [])).items():
        info = results.get("datasets", {}).get(ds, {})
        parts.append(f"<h2>{html.escape(ds)}</h2><p>{html.escape(_dataset_line(ds, info))}</p>")
        warning = _warning(group)
        if warning:
            parts.append(f"<p><strong>{html.escape(warning)}</strong></p>")
        if ds in pngs:
            b64 = base64.b64encode(pngs[ds]).decode("ascii")
            parts.append(
                f"<img class='plot' alt='{html.escape(ds, quote=True)}: quality vs kept fraction' "
                f"src='data:image/png;base64,{b64}'>"
            )
        elif no_plot:
            parts.append(f"<p class='noplot'>{html.escape(NO_PLOT)}</p>")
        head, body = _table_rows(group)
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
        for cells in body:
            cls = " class='front'" if cells[0].endswith("★") else ""
            parts.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
        examples = _examples(results, ds)
        if examples:
            parts.append("<p class='examples'>What was cut (one page per question): ")
            parts.append(
                ", ".join(
                    f"<a href='{html.escape(str(e['path']), quote=True)}' "
                    f"title='{html.escape(str(e.get('question', '')), quote=True)}'>"
                    f"{html.escape(str(e['method']))} @ {float(e['budget']):.0%} · {html.escape(str(e['id']))}</a>"
                    for e in examples
                )
                + "</p>"
            )
    parts.append(f"<p>{html.escape(_STAR_NOTE.replace('`', ''))}</p>")
    notes = [v["notes"] for v in results.get("methods", {}).values() if v.get("notes")]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("<h2>Run details</h2><ul>")
    for line in _header_lines(results):
        parts.append("<li>" + html.escape(line[2:]).replace("`", "") + "</li>")
    parts.append("</ul></body></html>")
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
