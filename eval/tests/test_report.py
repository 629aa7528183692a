"""Report files from a hand-made results object; the reader resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctxcompress_eval import write_all
from ctxcompress_eval._reader import HFReader, make_reader
from ctxcompress_eval._report import markdown_table, quality_key

pytestmark = pytest.mark.unit


def _row(method: str, budget: float, kept: float, recall: float | None, support: float | None = 0.5) -> dict:
    return {
        "dataset": "toy",
        "method": method,
        "budget": budget,
        "n": 4,
        "n_errors": 0,
        "n_yes_no": 0,
        "n_answer": 4,
        "tokens_in": 100.0,
        "tokens_out": 100 * kept,
        "kept_fraction": kept,
        "kept_fraction_total": kept,
        "ratio": 1 / kept,
        "over_budget": 1 if method == "peer" else 0,
        "answer_recall": recall,
        "n_support": 4,
        "support_recall": support,
        "support_all": support,
        "verbatim_rate": 1.0,
        "latency_median_ms": 12.0,
        "latency_p90_ms": 20.0,
        "latency_mean_ms": 13.0,
        "mem_median_mb": 0.5,
        "mem_max_mb": 1.5,
        "gold_in_context": None,
    }


def test_write_all(tmp_path: Path) -> None:
    results = {
        "harness": {"command": "ctxcompress-eval run ...", "counter": "o200k_base", "embedder": "fake", "config": {}},
        "datasets": {"toy": {"description": "toy set", "n_questions": 4, "n_yes_no": 0}},
        "methods": {"peer": {"notes": "peer was patched"}},
        "results": [_row("none", 1.0, 1.0, 1.0), _row("ours", 0.5, 0.5, 0.8), _row("peer", 0.5, 0.55, 0.7)],
    }
    write_all(results, tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    front = {r["method"]: r["pareto"] for r in saved["results"]}
    assert front == {"none": True, "ours": True, "peer": False}
    md = (tmp_path / "report.md").read_text()
    assert "| ours ★ | 50% | 0.500 | 2.00x |" in md and "peer was patched" in md and "(1 over)" in md
    html = (tmp_path / "report.html").read_text()
    assert "<table>" in html and "class='front'" in html
    assert (tmp_path / "results.csv").read_text().count("\n") == 4
    pytest.importorskip("matplotlib")
    assert (tmp_path / "plot_toy.png").read_bytes()[:4] == b"\x89PNG" and "data:image/png;base64" in html


def test_quality_falls_back_to_support_recall() -> None:
    rows = [_row("a", 0.5, 0.5, None, 0.7), _row("b", 0.25, 0.25, None, 0.4)]
    assert quality_key(rows) == "support_recall"
    assert "—" in markdown_table(rows)


def test_make_reader() -> None:
    assert make_reader(None) is None and make_reader("") is None

    class Chat:
        def invoke(self, prompt: str) -> object:
            return type("Msg", (), {"content": f"echo {len(prompt)}"})()

    assert make_reader(Chat())("abc") == "echo 3"  # type: ignore[misc]
    assert make_reader(lambda p: p.upper())("x") == "X"  # type: ignore[misc]
    assert isinstance(make_reader("hf:/some/folder"), HFReader)
    assert make_reader("ctxcompress.testing:FakeLLM")("Q\n\nlast words") == "last words"  # type: ignore[misc]
    with pytest.raises(ValueError):
        make_reader("nonsense")


def test_headline_plot_first_and_run_details_last(tmp_path: Path) -> None:
    from ctxcompress_eval._report import headline

    rows = [_row("none", 1.0, 1.0, 1.0), _row("ctxcompress", 0.25, 0.25, 0.75), _row("peer", 0.25, 0.26, 0.5)]
    rows += [_row("random", 0.25, 0.25, 0.25), _row("ctxcompress", 0.5, 0.5, 1.0)]
    assert headline("toy", rows) == (
        "toy: at 25% kept, ctxcompress keeps the answer for 3 of 4 questions; the best peer (peer) for 2."
    )
    results = {
        "harness": {"command": "ctxcompress-eval run ...", "counter": "o200k_base", "embedder": "fake", "config": {}},
        "datasets": {"toy": {"description": "toy set", "n_questions": 4}},
        "methods": {},
        "results": rows,
        "examples": [
            {"dataset": "toy", "method": "ctxcompress", "budget": 0.25, "id": "q<1>", "path": "examples/a.html"}
        ],
    }
    write_all(results, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert page.index("class='headline'") < page.index("<img class='plot'") < page.index("<table>")
    assert page.index("<table>") < page.index("Run details") and "href='examples/a.html'" in page
    assert "q&lt;1&gt;" in page
    md = (tmp_path / "report.md").read_text()
    assert md.index("at 25% kept") < md.index("![toy") < md.index("| method") < md.index("## Run details")


def test_plot_rings_stars_under_visible_markers_and_labels_budgets() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    from ctxcompress_eval._report import _mark_front, plot_figure

    rows = [_row("none", 1.0, 1.0, 1.0), _row("ours", 0.5, 0.5, 0.8), _row("peer", 0.5, 0.55, 0.7)]
    _mark_front(rows)
    fig = plot_figure("toy", rows)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
    assert {"none", "ours", "peer"} <= set(lines)
    rings = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(rings) == 1 and len(rings[0].get_offsets()) == 2
    assert all(fc[3] == 0 for fc in rings[0].get_facecolors())  # hollow: the marker inside stays visible
    assert all(rings[0].get_zorder() < lines[m].get_zorder() for m in lines)
    assert sorted(t.get_text() for t in ax.texts) == ["50%", "50%", "all"]
    plt.close(fig)
