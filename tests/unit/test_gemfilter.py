"""AttentionFilter (GemFilter) with a tiny random-weight Llama and a BPE tokenizer trained in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from _tiny_lm import make_tiny_lm  # noqa: E402

from ctxcompress import Budget, Chunk, Compressor, ConfigError  # noqa: E402
from ctxcompress._core.select import word_ranges  # noqa: E402
from ctxcompress._lm.attention_filter import AttentionFilter, default_layer  # noqa: E402
from ctxcompress._lm.causal_lm import last_query_logits, last_query_scores, load_causal_lm  # noqa: E402
from ctxcompress.testing import SAMPLE_CHUNKS, SAMPLE_QUERY, CompressorConformance, WhitespaceCounter  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> object:
    """One torch thread: a tiny model gains nothing from more, and spinning threads stall a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_tiny_lm(layers=4, seed=0, folder=tmp_path_factory.mktemp("tiny-llama")))


class TestConformanceSentence(CompressorConformance):
    @pytest.fixture(autouse=True)
    def _model(self, tiny: str) -> None:
        self.folder = tiny

    def make_compressor(self) -> Compressor:
        return AttentionFilter(model=self.folder, device="cpu")


class TestConformanceToken(TestConformanceSentence):
    def make_compressor(self) -> Compressor:
        return AttentionFilter(model=self.folder, device="cpu", granularity="token", window_tokens=256)


class TestConformanceWord(TestConformanceSentence):
    def make_compressor(self) -> Compressor:
        return AttentionFilter(model=self.folder, device="cpu", granularity="word", sentence_score="mean")


def test_scores_equal_eager_attention_logits(tiny: str) -> None:
    """q·k of the last token (rotary, repeated keys) equals eager attention's pre-softmax logits."""
    lm = load_causal_lm(tiny, device="cpu")
    eager = transformers.AutoModelForCausalLM.from_pretrained(tiny, attn_implementation="eager")
    ids = lm.tokenizer("Shirley Temple was an American actress and diplomat.", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        attentions = eager(torch.tensor([ids]), output_attentions=True).attentions
    for layer in range(lm.n_layers):
        mine = last_query_logits(lm, ids, layer)
        scale = eager.model.layers[layer].self_attn.scaling
        diff = scale * mine - torch.log(attentions[layer][0, :, -1, :])
        assert torch.allclose(diff, diff.mean(dim=1, keepdim=True), atol=1e-4)
        assert torch.allclose(last_query_scores(lm, ids, layer), mine.sum(dim=0))


def test_later_layers_never_run(tiny: str) -> None:
    lm = load_causal_lm(tiny, device="cpu")
    calls: list[int] = []
    layers = lm.model.model.layers
    handles = [layers[i].register_forward_hook(lambda *a, i=i: calls.append(i)) for i in range(len(layers))]
    head = lm.model.get_output_embeddings().register_forward_hook(lambda *a: calls.append(-1))
    try:
        last_query_scores(lm, [5, 6, 7, 8, 9], 2)
    finally:
        for h in [*handles, head]:
            h.remove()
    assert calls == [0, 1]  # layer 2 stops inside its attention; 3 and the LM head never run
    assert not lm.model.model.layers[2].self_attn._forward_pre_hooks  # the hook is removed


def test_default_layer_is_gemfilter_depth() -> None:
    assert default_layer(32) == 13
    assert default_layer(30) == 12
    assert default_layer(40) == 16  # GemFilter used 19 of 40 for Mistral-Nemo: 13/32 is the Llama fraction
    assert default_layer(1) == 0


@pytest.mark.parametrize("granularity", ["sentence", "word", "token"])
def test_budget_exact_and_verbatim(tiny: str, granularity: str) -> None:
    f = AttentionFilter(model=tiny, device="cpu", granularity=granularity)  # type: ignore[arg-type]
    counter = WhitespaceCounter()
    for cap in (5, 17, 40, 80):
        res = f.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=Budget(max_tokens=cap), counter=counter)
        assert res.report.tokens_out <= cap
        assert res.check_spans() == []
        if granularity != "sentence":  # token/word selection fills the budget up to the last unit
            assert res.report.tokens_out >= cap - 6
    details = res.report.stages[0].details
    assert details["layer"] == 2 and details["windows"] == 1


def test_word_granularity_keeps_whole_words(tiny: str) -> None:
    f = AttentionFilter(model=tiny, device="cpu", granularity="word")
    res = f.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.3, counter=WhitespaceCounter())
    for ch in res.chunks:
        src = next(c for c in SAMPLE_CHUNKS if c.id == ch.id)
        words = word_ranges(src.text)
        starts, ends = {s for s, _ in words}, {e for _, e in words}
        for sp in ch.spans:  # every kept piece starts and ends at a word boundary
            assert sp.start in starts and sp.end in ends, src.text[sp.start : sp.end]


def test_windows_cover_long_input(tiny: str) -> None:
    long = [Chunk(" ".join(f"word{i}" for i in range(400)), id="long"), Chunk("Shirley Temple was a diplomat.", id="x")]
    f = AttentionFilter(model=tiny, device="cpu", granularity="token", window_tokens=256)
    scores, n_windows = f.token_scores(long, "Who was a diplomat?")
    assert n_windows > 3
    assert scores[1], "the chunk after the long one is scored"
    assert scores[0][-1][1] == len(long[0].text)  # the long chunk is scored to its end
    res = f.compress(long, query="Who was a diplomat?", budget=Budget(max_tokens=50), counter=WhitespaceCounter())
    assert 0 < res.report.tokens_out <= 50


def test_sentence_scores_and_order(tiny: str) -> None:
    chunks = list(SAMPLE_CHUNKS[:3])
    for agg in ("max", "mean", "sum"):
        f = AttentionFilter(model=tiny, device="cpu", sentence_score=agg)  # type: ignore[arg-type]
        res = f.compress(chunks, query=SAMPLE_QUERY, budget=0.5, counter=WhitespaceCounter())
        ids = [c.id for c in res.chunks]
        assert ids == [c.id for c in chunks if c.id in ids]  # original order
        for ch in res.chunks:
            starts = [s.start for s in ch.spans]
            assert starts == sorted(starts)


def test_no_budget_uses_rate_and_none_keeps_all(tiny: str) -> None:
    counter = WhitespaceCounter()
    res = AttentionFilter(model=tiny, device="cpu", granularity="word").compress(
        SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=counter
    )
    assert res.report.tokens_out <= res.report.tokens_in // 2
    res = AttentionFilter(model=tiny, device="cpu", rate=None).compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY)
    assert res.text == "\n\n".join(c.text for c in SAMPLE_CHUNKS)


def test_baseline_removes_offset_and_trend(tiny: str) -> None:
    """Raw scores (GemFilter) vs scores relative to the local mean: same tokens, shifted by the local mean."""
    raw = AttentionFilter(model=tiny, device="cpu", baseline_window=None, kernel_size=1)
    rel = AttentionFilter(model=tiny, device="cpu", baseline_window=3, kernel_size=1)
    a, _ = raw.token_scores(SAMPLE_CHUNKS[:1], SAMPLE_QUERY)
    b, _ = rel.token_scores(SAMPLE_CHUNKS[:1], SAMPLE_QUERY)
    assert [t[:2] for t in a[0]] == [t[:2] for t in b[0]]
    x = [t[2] for t in a[0]]
    y = [t[2] for t in b[0]]
    # an interior token (no whitespace-only neighbours in this text): x[i] minus the mean of x[i-1..i+1]
    i = 5
    assert abs(y[i] - (x[i] - (x[i - 1] + x[i] + x[i + 1]) / 3)) < 1e-3
    shifted = AttentionFilter(model=tiny, device="cpu")
    assert shifted.to_dict()["init_parameters"]["baseline_window"] == 257


def test_plain_template_and_layer_parameter(tiny: str) -> None:
    f = AttentionFilter(model=tiny, device="cpu", layer=0, chat_template=False, template="{context}\nQ: {query}\nA:")
    res = f.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.4, counter=WhitespaceCounter())
    assert res.report.stages[0].details["layer"] == 0
    with pytest.raises(ConfigError):
        AttentionFilter(model=tiny, device="cpu", layer=9).compress(
            SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.4, counter=WhitespaceCounter()
        )


def test_model_loads_once_and_is_shared(tiny: str) -> None:
    a = AttentionFilter(model=tiny, device="cpu")
    b = AttentionFilter(model=tiny + "/", device="cpu")
    a.warm_up()
    assert a._lm() is b._lm()


def test_bad_model_is_backend_error_and_passthrough(tmp_path: Path) -> None:
    from ctxcompress import BackendError

    f = AttentionFilter(model=str(tmp_path), device="cpu")
    with pytest.raises(BackendError):
        f.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.5, counter=WhitespaceCounter())
    g = AttentionFilter(model=str(tmp_path), device="cpu", on_error="passthrough")
    res = g.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.5, counter=WhitespaceCounter())
    assert any("passed through" in w for w in res.report.stages[0].warnings)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": ""},
        {"model": 3},
        {"device": ""},
        {"layer": -1},
        {"layer": 1.5},
        {"granularity": "paragraph"},
        {"sentence_score": "median"},
        {"kernel_size": 4},
        {"kernel_size": 0},
        {"baseline_window": 256},
        {"baseline_window": 1},
        {"template": "{query} then {context}"},
        {"template": "no placeholders"},
        {"chat_template": "yes"},
        {"window_tokens": 10},
        {"rate": 0.0},
        {"rate": 1.5},
        {"on_error": "ignore"},
    ],
)
def test_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        AttentionFilter(**kwargs)  # type: ignore[arg-type]


def test_constructing_loads_nothing() -> None:
    f = AttentionFilter(model="/nonexistent/folder")
    assert f.to_dict()["init_parameters"]["model"] == "/nonexistent/folder"
    assert AttentionFilter.from_dict(f.to_dict()) == f


def test_top_level_export() -> None:
    import ctxcompress

    assert ctxcompress.AttentionFilter is AttentionFilter
