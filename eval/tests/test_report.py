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
