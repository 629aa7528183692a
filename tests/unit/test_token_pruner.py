"""TokenPruner (LongLLMLingua-style) with a tiny random-weight Llama and a BPE tokenizer trained in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from _tiny_lm import make_tiny_lm  # noqa: E402

from ctxcompress import Budget, Chunk, Compressor, ConfigError  # noqa: E402
from ctxcompress._core.select import word_ranges  # noqa: E402
from ctxcompress._lm.causal_lm import load_causal_lm, token_nll  # noqa: E402
from ctxcompress._lm.token_pruner import TokenPruner  # noqa: E402
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
    return str(make_tiny_lm(layers=2, seed=1, folder=tmp_path_factory.mktemp("tiny-llama-pruner")))


class TestConformance(CompressorConformance):
    @pytest.fixture(autouse=True)
    def _model(self, tiny: str) -> None:
        self.folder = tiny

    def make_compressor(self) -> Compressor:
        return TokenPruner(model=self.folder, device="cpu")


class TestConformanceAllDocsWindows(TestConformance):
    def make_compressor(self) -> Compressor:
        return TokenPruner(
            model=self.folder, device="cpu", context_budget=None, window_tokens=128, protect=[r"Protocol of the \w+"]
        )


def test_token_nll_matches_model_loss(tiny: str) -> None:
    lm = load_causal_lm(tiny, device="cpu")
    seqs = [[5, 9, 30, 41, 7, 2], [11, 12, 13], [4, 5]]
    got = token_nll(lm, seqs, batch_size=2)
    for seq, nll in zip(seqs, got, strict=True):
        with torch.no_grad():
            loss = lm.model(torch.tensor([seq]), labels=torch.tensor([seq])).loss
        assert len(nll) == len(seq) - 1
        assert abs(sum(nll) / len(nll) - float(loss)) < 1e-4


@pytest.mark.parametrize("cap", [3, 10, 25, 50, 90])
def test_hard_budget_holds_and_is_filled(tiny: str, cap: int) -> None:
    counter = WhitespaceCounter()
    p = TokenPruner(model=tiny, device="cpu", context_budget=None)
    res = p.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=Budget(max_tokens=cap), counter=counter)
    assert res.report.tokens_out <= cap
    assert res.report.tokens_out >= cap - 3  # word selection fills the budget
    assert res.check_spans() == []


def test_whole_words_only(tiny: str) -> None:
    p = TokenPruner(model=tiny, device="cpu")
    res = p.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.3, counter=WhitespaceCounter())
    assert res.chunks
    for ch in res.chunks:
        src = next(c for c in SAMPLE_CHUNKS if c.id == ch.id)
        words = word_ranges(src.text)
        starts, ends = {s for s, _ in words}, {e for _, e in words}
        for sp in ch.spans:
            assert sp.start in starts and sp.end in ends, src.text[sp.start : sp.end]


def test_protected_spans_kept_first(tiny: str) -> None:
    chunks = [Chunk("the cat sat on a mat while the dog ran to the barn and back again code XK-42 today", id="a")]
    p = TokenPruner(model=tiny, device="cpu", protect=[r"code XK-\d+"])
    res = p.compress(chunks, query="What is the code?", budget=Budget(max_tokens=4), counter=WhitespaceCounter())
    assert "code XK-42" in res.text
    p = TokenPruner(model=tiny, device="cpu", protect_entities=False)
    names = [Chunk("the cat met Shirley Temple Black in 1928 and the dog ran to the barn and back", id="b")]
    res = p.compress(names, query="When?", budget=Budget(max_tokens=3), counter=WhitespaceCounter())
    assert "1928" in res.text
    p = TokenPruner(model=tiny, device="cpu", protect_numbers=False)
    res = p.compress(names, query="Who?", budget=Budget(max_tokens=4), counter=WhitespaceCounter())
    assert "Shirley Temple Black" in res.text  # a multi-word name is one unit


def test_document_filter_and_dynamic_ratio(tiny: str) -> None:
    p = TokenPruner(model=tiny, device="cpu", context_budget=1.0)
    segs, q_nll, scores = p.score_segments(SAMPLE_CHUNKS, SAMPLE_QUERY)
    assert len(segs) == len(SAMPLE_CHUNKS) and len(q_nll) == len(segs)
    assert all(len(s) == len(seg.ids) for s, seg in zip(scores, segs, strict=True))
    res = p.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.25, counter=WhitespaceCounter())
    details = res.report.stages[0].details
    assert details["kept_documents"] < details["documents"]
    best = min(range(len(segs)), key=lambda i: q_nll[i])
    assert SAMPLE_CHUNKS[best].id in {c.id for c in res.chunks}  # the best-ranked document keeps the most
    # without a question every document is kept (nothing to rank by) and the score is surprisal
    res = p.compress(SAMPLE_CHUNKS, query="", budget=0.25, counter=WhitespaceCounter())
    assert res.report.stages[0].details["kept_documents"] == len(SAMPLE_CHUNKS)


def test_long_chunk_in_windows(tiny: str) -> None:
    text = " ".join(f"item{i} is here." for i in range(300))
    p = TokenPruner(model=tiny, device="cpu", window_tokens=128)
    segs, _, _ = p.score_segments([Chunk(text, id="long")], "Where is item7?")
    assert len(segs) > 5
    assert segs[0].start == 0 and segs[-1].end == len(text)
    res = p.compress([Chunk(text, id="long")], query="Where is item7?", budget=Budget(max_tokens=40))
    assert 0 < res.report.tokens_out <= 40


def test_no_budget_uses_rate(tiny: str) -> None:
    counter = WhitespaceCounter()
    res = TokenPruner(model=tiny, device="cpu").compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=counter)
    assert res.report.tokens_out <= res.report.tokens_in // 2
    res = TokenPruner(model=tiny, device="cpu", rate=None).compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY)
    assert res.text == "\n\n".join(c.text for c in SAMPLE_CHUNKS)


def test_shares_the_model_with_attention_filter(tiny: str) -> None:
    from ctxcompress._lm.attention_filter import AttentionFilter

    assert TokenPruner(model=tiny, device="cpu")._lm() is AttentionFilter(model=tiny, device="cpu")._lm()


def test_bad_model_passthrough(tmp_path: Path) -> None:
    from ctxcompress import BackendError

    with pytest.raises(BackendError):
        TokenPruner(model=str(tmp_path), device="cpu").compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.5)
    res = TokenPruner(model=str(tmp_path), device="cpu", on_error="passthrough").compress(
        SAMPLE_CHUNKS, query=SAMPLE_QUERY, budget=0.5, counter=WhitespaceCounter()
    )
    assert res.report.stages[0].warnings


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": ""},
        {"device": None},
        {"condition_suffix": 3},
        {"context_budget": 0.5},
        {"dynamic_ratio": -0.1},
        {"protect_numbers": "yes"},
        {"protect": "\\d+"},
        {"protect": ["(unclosed"]},
        {"window_tokens": 8},
        {"batch_size": 0},
        {"rate": 2.0},
        {"on_error": "skip"},
    ],
)
def test_bad_parameters(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        TokenPruner(**kwargs)  # type: ignore[arg-type]


def test_serialises_and_pickles_without_loading() -> None:
    import pickle

    p = TokenPruner(model="/nonexistent", protect=[r"\bQ\d\b"], context_budget=2)
    data = p.to_dict()
    assert data["init_parameters"]["protect"] == [r"\bQ\d\b"]
    assert TokenPruner.from_dict(data) == p
    again = pickle.loads(pickle.dumps(p))
    assert again == p and again._patterns[0].pattern == r"\bQ\d\b"


def test_top_level_export() -> None:
    import ctxcompress

    assert ctxcompress.TokenPruner is TokenPruner
