"""Metrics on hand-made cases: normalisation, yes/no, supporting passages, verbatim rate, budgets."""

from __future__ import annotations

import math

import pytest

from ctxcompress_eval import (
    MethodContext,
    Passage,
    Question,
    aggregate,
    answer_in_context,
    exact_match,
    f1_score,
    normalize_answer,
    pareto_front,
    render,
    substring_match,
    supporting_kept,
    verbatim_rate,
)
from ctxcompress_eval._methods import NoCompression, RandomDrop
from ctxcompress_eval._metrics import percentile
from ctxcompress_eval._store import make_record

pytestmark = pytest.mark.unit


def test_normalisation_is_squad() -> None:
    assert normalize_answer("The  Chief of Protocol.") == "chief of protocol"
    assert normalize_answer("an Apple, a day!") == "apple day"
    assert normalize_answer("  ") == ""
    assert normalize_answer("U.S.") == "us"


def test_answer_in_context_whole_tokens() -> None:
    ctx = "She served as Chief of Protocol of the United States."
    assert answer_in_context(ctx, ["chief of protocol"])
    assert answer_in_context(ctx, ["nothing", "The United States"])
    assert not answer_in_context(ctx, ["Protocols"])  # not a token sequence
    assert not answer_in_context("Sam was born in 1945.", ["945"])
    assert not answer_in_context(ctx, [""])  # an empty answer never counts
    assert not answer_in_context("", ["Chief"])


def test_yes_no_questions_are_counted_apart() -> None:
    p = (Passage("0", "t", "Yes, it is.", True),)
    assert Question("a", "Is it?", ("yes",), p).yes_no
    assert Question("b", "Is it?", ("No",), p).yes_no
    assert not Question("c", "Who?", ("Yes Man",), p).yes_no
    assert Question("d", "Does it?", ("maybe",), p, label_answer=True).yes_no


def test_supporting_kept_sentence_survival() -> None:
    gold = Passage("g", "Gold", "Alpha beta gamma delta is here.  The second sentence has five words.", True)
    gold2 = Passage("h", "Gold 2", "Tiny. Short one.", True)  # no sentence of four words: the whole text counts
    other = Passage("x", "Other", "Unrelated words about something else entirely.", False)
    ctx = [gold, gold2, other]
    assert supporting_kept("The second sentence has five words", ctx) == (1, 2)  # end punctuation stripped
    assert supporting_kept("the second sentence has five words", ctx) == (0, 2)  # case matters (verbatim)
    assert supporting_kept("Alpha  beta gamma\ndelta is here. Tiny. Short one.", ctx) == (2, 2)  # whitespace-free
    assert supporting_kept("Tiny.", ctx) == (0, 2)  # a short sentence alone does not count
    assert supporting_kept("anything", [other]) == (0, 0)


def test_verbatim_rate() -> None:
    srcs = ["The cat sat on the mat.  It was warm.", "Dogs bark at night."]
    v, t = verbatim_rate("The cat sat on the mat. Dogs bark at night.", srcs)
    assert v == t > 0
    v, t = verbatim_rate("The cat sat on the mat. Dogs bark loudly.", srcs)
    assert v == len("The cat sat on the mat.") and t == v + len("Dogs bark loudly.")
    v, t = verbatim_rate("It was warm Dogs bark", srcs)  # runs of fewer than four words do not count
    assert (v, t) == (0, len("It was warm Dogs bark"))
    # a reordered, merged "sentence": each run of four or more source words counts
    v, t = verbatim_rate("Dogs bark at night and The cat sat on the mat", srcs)
    assert v == len("Dogs bark at night") + len("The cat sat on the mat") and t == v + len(" and ")
    # words deleted inside a sentence (token pruning): only the surviving runs count
    v, t = verbatim_rate("The cat on the mat.  It was warm.", srcs)
    assert v == len("It was warm.") and t == v + len("The cat on the mat.")
    assert verbatim_rate("", srcs) == (0, 0)


def test_reader_scores() -> None:
    assert exact_match("the Chief of Protocol", ["Chief of Protocol"])
    assert not exact_match("Chief", ["Chief of Protocol"])
    assert f1_score("Chief of Protocol", ["chief protocol office"]) == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
    assert f1_score("", ["x"]) == 0.0
    assert substring_match("She was Chief of Protocol.", ["chief of protocol"])
    assert not substring_match("She was chief.", ["chief of protocol"])


def test_percentile_matches_numpy_linear() -> None:
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 90) == pytest.approx(4.6)
    assert percentile([], 50) is None


def _question() -> Question:
    texts = [
        "Kiss and Tell is a 1945 American comedy film. It stars Shirley Temple as Corliss Archer.",
        "Shirley Temple was an American actress. She served as Chief of Protocol of the United States.",
        "Meet Corliss Archer was a radio program. It ran from 1943 to 1956 on CBS.",
    ]
    ps = tuple(Passage(str(i), f"T{i}", t, i < 2) for i, t in enumerate(texts))
    return Question("q1", "What position did the star of Kiss and Tell hold?", ("Chief of Protocol",), ps)


@pytest.mark.parametrize("budget", [1.0, 0.5, 0.25, 0.1, 0.01])
def test_budget_accounting_random_drop(fake_ctx: MethodContext, budget: float) -> None:
    q = _question()
    cap = fake_ctx.cap(q.contexts, budget)
    tokens_in = fake_ctx.count(render(q.contexts))
    assert cap == math.floor(budget * tokens_in)
    from ctxcompress import Budget

    assert cap == Budget(fraction=budget).resolve(tokens_in)
    out = RandomDrop(fake_ctx).compress(q.question, q.contexts, budget)
    assert fake_ctx.count(out.text) <= cap
    again = RandomDrop(fake_ctx).compress(q.question, q.contexts, budget)
    assert out == again  # seeded: deterministic
    rec = make_record(
        q, {"text": out.text, "kept": out.kept, "meta": {}, "ms": 1.0, "mem_bytes": 0, "error": None}, fake_ctx, budget
    )
    assert rec["tokens_out"] == fake_ctx.count(out.text)
    assert rec["cap"] == cap and not rec["over_budget"]
    assert rec["kept_fraction"] == pytest.approx(rec["tokens_out"] / rec["tokens_in"])
    assert rec["verbatim_chars"] == rec["total_chars"]


def test_record_and_aggregate(fake_ctx: MethodContext) -> None:
    q = _question()
    full = NoCompression(fake_ctx).compress(q.question, q.contexts, 1.0)
    raw = {"text": full.text, "kept": full.kept, "meta": {}, "ms": 2.0, "mem_bytes": 2**20, "error": None}
    r_full = make_record(q, raw, fake_ctx, 1.0)
    assert r_full["answer_in_context"] is True and r_full["support_kept"] == 2 == r_full["support_total"]
    over = dict(raw, text=full.text, ms=4.0)
    r_over = make_record(q, over, fake_ctx, 0.5)
    assert r_over["over_budget"]
    empty = make_record(q, dict(raw, text="", error="Boom: failed", ms=6.0), fake_ctx, 0.5)
    assert empty["answer_in_context"] is False and empty["tokens_out"] == 0 and empty["error"]
    yn = Question("q2", "Is it?", ("yes",), q.contexts)
    r_yn = make_record(yn, raw, fake_ctx, 1.0)
    assert r_yn["answer_in_context"] is None
    row = aggregate([r_full, r_over, empty, r_yn], dataset="d", method="m", budget=0.5)
    assert row["n"] == 4 and row["n_yes_no"] == 1 and row["n_answer"] == 3 and row["n_errors"] == 1
    assert row["answer_recall"] == pytest.approx(2 / 3)
    assert row["over_budget"] == 1  # over_budget is judged per record, against its own budget
    assert row["latency_median_ms"] == pytest.approx(3.0)
    assert row["mem_max_mb"] == pytest.approx(1.0)
    total_in = 4 * r_full["tokens_in"]
    assert row["kept_fraction_total"] == pytest.approx((3 * r_full["tokens_in"]) / total_in)
    assert row["support_all"] == pytest.approx(3 / 4)


def test_pareto_front() -> None:
    pts = [(1.0, 0.99), (0.5, 0.8), (0.5, 0.7), (0.25, 0.6), (0.3, 0.5), (0.25, 0.6)]
    front = pareto_front(pts)
    assert 0 in front and 1 in front and 3 in front and 5 in front
    assert 2 not in front and 4 not in front


def test_one_answer_metric_shared_with_the_library() -> None:
    """The harness, the benchmarks and the demo score answers with the library's one function."""
    import ctxcompress._core.answers as answers
    import ctxcompress._demo as demo

    assert answer_in_context is answers.answer_in_context
    assert normalize_answer is answers.normalize_answer
    assert demo.answer_in_context is answers.answer_in_context


def test_one_random_baseline(fake_ctx: MethodContext) -> None:
    """``bench_foundation.py`` calls the function behind the harness's ``random`` method, with its seed."""
    from ctxcompress_eval._methods import random_seed, random_sentence_drop

    q = _question()
    for budget in (0.5, 0.25):
        out = RandomDrop(fake_ctx).compress(q.question, q.contexts, budget)
        cap = fake_ctx.cap(q.contexts, budget)
        assert (out.text, out.kept) == random_sentence_drop(
            q.contexts, cap, fake_ctx.count, random_seed(fake_ctx.seed, q.question)
        )
