"""The declared protocol (issue 14): titles settings, tuning vs reporting questions, bootstrap intervals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ctxcompress_eval import RunConfig, aggregate, load_dataset, render, run, write_all
from ctxcompress_eval._cli import build_parser
from ctxcompress_eval._data import Passage, Question
from ctxcompress_eval._methods import Method, MethodOutput, register_method
from ctxcompress_eval._metrics import MIN_QUESTIONS, bootstrap_ci
from ctxcompress_eval._protocol import TUNING, split_questions, tuning_ids, with_titles
from ctxcompress_eval._report import markdown_table, render_markdown, starred

pytestmark = pytest.mark.unit


def _q(qid: str, title: str = "Paris", text: str = "Paris is the capital of France.") -> Question:
    return Question(qid, "capital of France?", ("Paris",), (Passage("0", title, text, True),))


# --------------------------------------------------------------------------- titles
def test_with_titles_three_settings() -> None:
    qs = [_q("a"), _q("b", title="")]
    assert with_titles(qs, "metadata") == qs
    text = with_titles(qs, "text")
    assert text[0].contexts[0].text == "Paris\nParis is the capital of France." and text[0].contexts[0].title == ""
    assert text[1].contexts[0].text == "Paris is the capital of France."  # no title: nothing to write
    none = with_titles(qs, "none")
    assert none[0].contexts[0] == Passage("0", "", "Paris is the capital of France.", True)
    assert qs[0].contexts[0].title == "Paris"  # the input is not changed
    with pytest.raises(ValueError, match="titles"):
        with_titles(qs, "both")


def test_load_dataset_applies_titles_to_every_passage(data_dir: Path) -> None:
    meta = load_dataset("hotpotqa", data_dir=data_dir, limit=2)
    text = load_dataset("hotpotqa", data_dir=data_dir, limit=2, titles="text")
    none = load_dataset("hotpotqa", data_dir=data_dir, limit=2, titles="none")
    for qm, qt, qn in zip(meta, text, none, strict=True):
        for pm, pt, pn in zip(qm.contexts, qt.contexts, qn.contexts, strict=True):
            assert pm.title and pt.text == f"{pm.title}\n{pm.text}" and pt.title == ""
            assert pn.text == pm.text and pn.title == ""
        assert len(render(qt.contexts)) > len(render(qm.contexts))


class _Spy(Method):
    """Records the passages it is given; returns the whole rendered context."""

    seen: list[tuple[str, str]] = []  # noqa: RUF012 - shared on purpose, read by the test

    def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
        _Spy.seen.extend((p.title, p.text) for p in contexts)
        return MethodOutput(render(contexts), tuple(p.id for p in contexts), {})


def _cfg(data_dir: Path, out: Path, **kw: Any) -> RunConfig:
    base: dict[str, Any] = {
        "datasets": ["hotpotqa"],
        "methods": ["_spy"],
        "budgets": [0.5],
        "out": out,
        "records": out.parent / "records",
        "data_dir": str(data_dir),
        "limit": 2,
        "embedder": "fake",
        "counter": "whitespace",
        "progress": False,
        "memory": "off",
    }
    base.update(kw)
    return RunConfig(**base)


def test_run_titles_reach_every_method_count_in_tokens_and_keep_their_own_records(
    data_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("ctxcompress")
    register_method("_spy", _Spy)
    tokens: dict[str, float] = {}
    for titles in ("metadata", "text", "none"):
        _Spy.seen.clear()
        res = run(_cfg(data_dir, tmp_path / titles, titles=titles), log=lambda s: None)
        (row,) = res["results"]
        tokens[titles] = row["tokens_in"]
        assert res["harness"]["config"]["titles"] == titles
        if titles == "metadata":
            assert all(t for t, _ in _Spy.seen)
        else:
            assert not any(t for t, _ in _Spy.seen)  # no title in metadata
        if titles == "text":
            assert all("\n" in text for _, text in _Spy.seen)
        md = (tmp_path / titles / "report.md").read_text()
        assert f"--titles {titles}" in md
    assert tokens["text"] > tokens["metadata"] == tokens["none"]
    stores = sorted(p.name for p in (tmp_path / "records").iterdir() if not p.name.startswith("_"))
    assert stores == ["hotpotqa", "hotpotqa+titles=none", "hotpotqa+titles=text"]
    meta = json.loads((tmp_path / "records" / "hotpotqa+titles=text" / "_spy@0.5.meta.json").read_text())
    assert meta["titles"] == "text"
    with pytest.raises(ValueError, match="titles"):
        _cfg(data_dir, tmp_path / "x", titles="title")


# --------------------------------------------------------------------------- tuning vs reporting
def test_tuning_declaration() -> None:
    assert TUNING["hotpotqa-train"] == "all" and TUNING["musique"] == "half"
    qs = [_q(f"q{i}") for i in range(50)]
    tune = tuning_ids("musique", qs)
    assert len(tune) == 25 and tune == tuning_ids("musique", list(reversed(qs)))  # order-free, fixed
    report = split_questions("musique", qs, "report")
    assert len(report) == 25 and not {q.id for q in report} & tune
    assert [q.id for q in split_questions("musique", qs, "tune")] == [q.id for q in qs if q.id in tune]
    assert split_questions("musique", qs, "all") == qs
    assert tuning_ids("hotpotqa-train", qs) == {q.id for q in qs}
    assert tuning_ids("hotpotqa", qs) == frozenset()
    with pytest.raises(ValueError, match="split"):
        split_questions("musique", qs, "dev")


def test_load_dataset_split(data_dir: Path) -> None:
    every = load_dataset("musique", data_dir=data_dir, split="all")
    tune = load_dataset("musique", data_dir=data_dir, split="tune")
    report = load_dataset("musique", data_dir=data_dir, split="report")
    assert len(tune) + len(report) == len(every) == 2 and len(tune) == 1
    assert {q.id for q in tune}.isdisjoint(q.id for q in report)
    assert all(q.meta["tuning"] for q in tune) and not any(q.meta["tuning"] for q in report)
    assert sum(q.meta["tuning"] for q in every) == 1
    # the split is made on the whole file, then --limit: a limit never moves a question across
    assert load_dataset("musique", data_dir=data_dir, split="report", limit=1)[0].id == report[0].id
    assert len(load_dataset("hotpotqa-train", data_dir=data_dir, split="tune")) == 2
    with pytest.raises(ValueError, match="no report questions"):
        load_dataset("hotpotqa-train", data_dir=data_dir, split="report")
    with pytest.raises(ValueError, match="no tune questions"):
        load_dataset("hotpotqa", data_dir=data_dir, split="tune")
    assert len(load_dataset("hotpotqa", data_dir=data_dir, split="report")) == 5


def test_run_reports_on_reporting_questions_by_default(data_dir: Path, tmp_path: Path) -> None:
    register_method("_spy", _Spy)
    res = run(_cfg(data_dir, tmp_path / "r", datasets=["musique"], limit=None), log=lambda s: None)
    assert res["results"][0]["n"] == 1 and res["datasets"]["musique"]["n_tuning"] == 0
    res = run(_cfg(data_dir, tmp_path / "a", datasets=["musique"], limit=None, split="all"), log=lambda s: None)
    assert res["results"][0]["n"] == 2 and res["datasets"]["musique"]["n_tuning"] == 1
    assert "1 of them tuning questions" in (tmp_path / "a" / "report.md").read_text()
    with pytest.raises(ValueError, match="no report questions"):
        run(_cfg(data_dir, tmp_path / "t", datasets=["hotpotqa-train"]), log=lambda s: None)


def test_cli_flags() -> None:
    base = ["run", "--dataset", "musique", "--out", "x"]
    args = build_parser().parse_args(base)
    assert args.titles == "metadata" and args.split == "report"
    args = build_parser().parse_args([*base, "--titles", "none", "--split", "tune"])
    assert args.titles == "none" and args.split == "tune"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--titles", "both"])


# --------------------------------------------------------------------------- intervals
def test_bootstrap_ci() -> None:
    assert bootstrap_ci([]) is None and bootstrap_ci([None]) is None
    assert bootstrap_ci([1.0] * 10) == (1.0, 1.0)
    xs = [1.0] * 41 + [0.0] * 9  # 0.82 on 50 questions
    lo, hi = bootstrap_ci(xs)  # type: ignore[misc]
    assert lo < 0.82 < hi and 0.05 < 0.82 - lo < 0.2 and 0.05 < hi - 0.82 < 0.2
    assert bootstrap_ci(xs) == bootstrap_ci(xs, seed=0) != bootstrap_ci(xs, seed=1)
    lo4, hi4 = bootstrap_ci(xs * 4)  # type: ignore[misc]
    assert hi4 - lo4 < hi - lo  # more questions, a narrower interval


def _rec(qid: int, hit: bool) -> dict[str, Any]:
    return {
        "id": str(qid),
        "tokens_in": 100,
        "tokens_out": 25,
        "kept_fraction": 0.25,
        "over_budget": False,
        "yes_no": False,
        "answer_in_context": hit,
        "support_kept": int(hit),
        "support_total": 1,
        "verbatim_chars": 10,
        "total_chars": 10,
        "ms": 1.0,
        "mem_bytes": None,
    }


def test_aggregate_intervals_report_cells_warning_and_stars(tmp_path: Path) -> None:
    ours = aggregate([_rec(i, i < 37) for i in range(50)], dataset="d", method="ours", budget=0.25)
    peer = aggregate([_rec(i, i < 34) for i in range(50)], dataset="d", method="peer", budget=0.25)
    for row, value in ((ours, 0.74), (peer, 0.68)):
        assert row["answer_recall"] == pytest.approx(value)
        assert row["answer_recall_lo"] < value < row["answer_recall_hi"]
        assert row["support_recall_lo"] is not None and row["support_all_hi"] is not None
    assert ours["answer_recall_lo"] <= peer["answer_recall"]  # 3 questions of 50: inside the interval
    assert "0.740 [" in markdown_table([ours, peer])
    results = {"harness": {"config": {}}, "datasets": {}, "results": [ours, peer]}
    write_all(results, tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert not any(r["pareto"] for r in saved["results"])  # a tie: no ★
    assert "answer_recall_lo" in (tmp_path / "results.csv").read_text().splitlines()[0]
    assert "fewer than 50" not in (tmp_path / "report.md").read_text()
    # 20 questions: a warning; a clear lead (20 vs 8 of 20) earns the ★ even so
    a = aggregate([_rec(i, True) for i in range(20)], dataset="e", method="a", budget=0.25)
    b = aggregate([_rec(i, i < 8) for i in range(20)], dataset="e", method="b", budget=0.25)
    assert MIN_QUESTIONS == 50
    rows = [a, b]
    write_all({"harness": {"config": {}}, "datasets": {}, "results": rows}, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "only 20 questions scored (fewer than 50)" in md and "| a ★ |" in md and "| b |" in md
    assert "only 20 questions" in (tmp_path / "report.html").read_text()
    assert "--split all" in render_markdown({"harness": {"config": {"split": "all"}}, "results": []}, {})


def test_starred_rule() -> None:
    # (kept, quality, quality low): plain Pareto front without intervals, kept within 0.01 counts as equal
    assert starred([(1.0, 1.0, None), (0.5, 0.8, None), (0.55, 0.7, None)]) == [1, 0]
    assert starred([(0.481, 0.74, None), (0.482, 0.82, None)]) == [1]  # 0.001 cheaper earns nothing
    assert starred([(0.25, 0.74, 0.62), (0.25, 0.68, 0.55)]) == []  # inside the interval: a tie
    assert starred([(0.25, 0.90, 0.80), (0.25, 0.68, 0.55), (0.12, 0.38, 0.25)]) == [2, 0]
