"""The method registry and the built-in adapters, with the fake embedder and the whitespace counter."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ctxcompress_eval import (
    CompressorMethod,
    Method,
    MethodContext,
    MethodOutput,
    Passage,
    build_methods,
    list_methods,
    load_dataset,
    register_method,
    verbatim_rate,
)
from ctxcompress_eval._methods import build_method, expand_method_names

pytestmark = pytest.mark.unit


def test_names_and_groups() -> None:
    names = list_methods()
    for n in ("none", "random", "ctxcompress", "langchain-embeddings-filter:docs", "longllmlingua"):
        assert n in names
    assert expand_method_names(["langchain-embeddings-filter", "none", "none"]) == [
        "langchain-embeddings-filter:docs",
        "langchain-embeddings-filter:chunks",
        "none",
    ]
    with pytest.raises(ValueError, match="unknown method"):
        build_method("nope", MethodContext(counter=None, embedder=None))


def test_ctxcompress_methods_hold_the_budget(fake_ctx: MethodContext, data_dir: Path) -> None:
    q = load_dataset("hotpotqa", data_dir=data_dir, limit=1)[0]
    methods = build_methods(
        ["ctxcompress", "ctxcompress:RelevanceFilter", "sentence-ranking", "random", "none"], fake_ctx
    )
    for m in methods:
        m.warm_up()
        for budget in (0.5, 0.25):
            out = m.compress(q.question, q.contexts, budget)
            assert isinstance(out, MethodOutput)
            if m.name != "none":
                assert fake_ctx.count(out.text) <= fake_ctx.cap(q.contexts, budget), (m.name, budget)
            assert out.kept is not None and set(out.kept) <= {p.id for p in q.contexts}
            v, t = verbatim_rate(out.text, [p.text for p in q.contexts])
            assert out.text and v == t  # extractive: every sentence is copied from a source


def test_embedder_is_injected_only_where_unset(fake_ctx: MethodContext) -> None:
    import ctxcompress

    m = build_method("ctxcompress", fake_ctx)
    assert isinstance(m, CompressorMethod)
    for _, step in m.compressor.steps:
        assert step.embedder is fake_ctx.embedder
    own = ctxcompress.testing.FakeEmbedder(dim=8)
    pinned = CompressorMethod(fake_ctx, "pinned", ctxcompress.RelevanceFilter(embedder=own))
    assert pinned.compressor.embedder is own
    assert pinned.describe()["config"]["type"] == "ctxcompress.RelevanceFilter"


def test_config_file(fake_ctx: MethodContext, tmp_path: Path, data_dir: Path) -> None:
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text(
        "steps:\n"
        "  - name: filter\n"
        "    type: RelevanceFilter\n"
        "    init_parameters: {granularity: sentence, scorer: bm25}\n"
    )
    m = build_method(f"config:{cfg}", fake_ctx)
    assert m.name == f"config:{cfg}"
    q = load_dataset("hotpotqa", data_dir=data_dir, limit=1)[0]
    out = m.compress(q.question, q.contexts, 0.3)
    assert 0 < fake_ctx.count(out.text) <= fake_ctx.cap(q.contexts, 0.3)
    with pytest.raises(ValueError, match="not a top-level"):
        build_method("ctxcompress:Budget", fake_ctx)


def test_register_your_own(fake_ctx: MethodContext) -> None:
    class FirstPassage(Method):
        def compress(self, question: str, contexts: Sequence[Passage], budget: float) -> MethodOutput:
            return MethodOutput(contexts[0].text, (contexts[0].id,), {"note": "first"})

    from ctxcompress_eval import _methods

    register_method("first-passage", FirstPassage, "keeps the first passage")
    try:
        (m,) = build_methods(["first-passage"], fake_ctx)
        assert m.name == "first-passage"
        out = m.compress("q", [Passage("a", "", "one two"), Passage("b", "", "three")], 0.5)
        assert out == ("one two", ("a",), {"note": "first"})
        assert "first-passage" in list_methods()
    finally:
        _methods._REGISTRY.pop("first-passage", None)


def test_fingerprint_holds_the_hybrid_weights(fake_ctx: MethodContext) -> None:
    import ctxcompress

    tuned = ctxcompress.RelevanceFilter(weights=ctxcompress.HybridWeights(lead=0.05))
    config = CompressorMethod(fake_ctx, "tuned", tuned).describe()["config"]
    assert config["init_parameters"]["weights"]["init_parameters"]["lead"] == 0.05
    default = CompressorMethod(fake_ctx, "default", ctxcompress.RelevanceFilter()).describe()["config"]
    assert default != config  # two weightings never share a record store


def test_extractive_is_read_from_the_compressor(fake_ctx: MethodContext) -> None:
    import ctxcompress
    from ctxcompress.testing import FakeLLM

    summary = ctxcompress.Summarizer(llm=FakeLLM(["short."]))
    assert CompressorMethod(fake_ctx, "s", summary).extractive is False
    assert CompressorMethod(fake_ctx, "p", ctxcompress.RelevanceFilter() | summary).extractive is False
    assert CompressorMethod(fake_ctx, "t", ctxcompress.Summarizer(mode="extractive")).extractive is True

    class Rewriter(ctxcompress.Compressor):  # a user's compressor: the attribute, not the class name
        abstractive = True

        def _compress(self, chunks, *, query, cap, ctx):  # type: ignore[no-untyped-def]
            return chunks

    assert CompressorMethod(fake_ctx, "r", Rewriter()).extractive is False
