"""The default pipeline with the real local MiniLM and exact o200k_base counts, and the demo."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from ctxcompress import Budget, Chunk, RelevanceFilter, TiktokenCounter, default_pipeline
from ctxcompress._core.answers import answer_in_context as answer_in
from ctxcompress._demo import load_demo_sample, run_demo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample() -> list[tuple[str, list[str], list[Chunk]]]:
    out = []
    for q in load_demo_sample():
        chunks = [Chunk(c["text"], id=c["title"], metadata={"title": c["title"]}) for c in q.contexts]
        out.append((q.question, q.answers, chunks))
    return out


def test_default_pipeline_keeps_answers_under_budget(real_embedder, sample) -> None:  # type: ignore[no-untyped-def]
    counter = TiktokenCounter("o200k_base")
    pipe = default_pipeline()
    kept = 0
    for question, answers, chunks in sample:
        res = pipe.compress(chunks, query=question, budget=Budget(fraction=0.25), counter=counter)
        assert res.report.counter == "o200k_base"
        assert res.report.tokens_out == counter.count(res.text)
        assert res.report.tokens_out <= int(0.25 * res.report.tokens_in)
        assert res.check_spans() == []
        assert [s.name for s in res.report.stages] == ["fuse", "filter"]
        kept += answer_in(res.text, answers)
    # all 8 answers are in the full context; random drop keeps about a quarter of them at 25%
    assert kept >= 6, kept


def test_hybrid_beats_plain_embedding_ranking(real_embedder, sample) -> None:  # type: ignore[no-untyped-def]
    counter = TiktokenCounter("o200k_base")

    def recall(f: RelevanceFilter) -> int:
        return sum(
            answer_in(f.compress(ch, query=q, budget=Budget(fraction=0.2), counter=counter).text, a)
            for q, a, ch in sample
        )

    assert recall(RelevanceFilter()) >= recall(RelevanceFilter(scorer="embedding", title_key=""))


def test_large_and_odd_input_is_safe(real_embedder) -> None:  # type: ignore[no-untyped-def]
    big = Chunk(("The quick brown fox jumps over the lazy dog. " * 23000)[:1_000_000], id="big")
    odd = [big, Chunk("東京は日本の首都です。🎉 <p>HTML</p>", id="cjk"), Chunk("   ", id="blank")]
    res = RelevanceFilter(scorer="bm25").compress(odd, query="fox", budget=Budget(max_tokens=200))
    assert 0 < res.report.tokens_out <= 200


def test_demo_runs_and_reports(real_embedder) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    figures = run_demo(budget=0.25, k=10, out=out)
    text = out.getvalue()
    assert "| question | retrieved | fuse | filter |" in text
    assert figures["tokens_out"] <= 0.25 * figures["tokens_in"]
    assert figures["answer_kept"] >= figures["answer_retrieved"] - 2
    assert re.search(r"Total: \d+ → \d+ tokens", text)


def test_cli_compress_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    q = load_demo_sample()[1]  # a single-hop answer: this test is about the command line
    lines = "\n".join(
        __import__("json").dumps({"id": c["title"], "text": c["text"], "metadata": {"title": c["title"]}})
        for c in q.contexts
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ctxcompress", "compress", "--query", q.question, "--budget", "300",
         "--model", "gpt-4o", "--compact"],
        input=lines, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    data = __import__("json").loads(proc.stdout)
    assert data["report"]["counter"] == "o200k_base" and data["report"]["tokens_out"] <= 300
    assert answer_in(data["text"], q.answers)
