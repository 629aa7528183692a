"""No fused words, no fused lines (issue 12, section 4): how compressors join the pieces they keep.

Rule: the output never joins two source words that were separated by whitespace, and a gap of
left-out text that held a line break keeps one line break.

Property (checked on real HotpotQA paragraphs, the demo's sample in ``ctxcompress/data``, CC BY-SA,
see ``DEMO_SOURCE.md``; as plain text and with the title on a first line, plus hand-made paragraphs
with titles and quotes), for every compressor, with drawn budgets and queries:

1. **Tokens.** Every whitespace-delimited token of every output chunk is a whitespace-delimited
   token of the sources, with two exceptions ("a final punctuation mark aside", precisely):

   - *a final mark:* the token may be a source token followed by a *mark run* with which some
     source token ends; a mark run is a non-empty run of punctuation or symbol characters (Unicode
     categories ``P*`` and ``S*``). This is :class:`~ctxcompress.SemanticCompressor` keeping a
     unit's final punctuation when it drops the word that touched it (``"the film."`` → ``"the."``,
     ``"Azmi interview </ref>"`` → ``"Azmi>"``);
   - *the budget cut:* when the base class had to cut the output to hold the budget (its "output
     cut" warning), or a relevance filter kept only the head of a best unit that alone is over the
     budget (its "its head was kept" warning), the last token of the last chunk may be a prefix of
     a source token (the cut is
     at the end of a word, before the punctuation that touched it);
   - *CJK text:* CJK has no spaces and each CJK character is a word of its own, so a token may be
     a source token with some CJK characters (and marks) left out (``"(魍魎"`` → ``"魎"``).

2. **Lines.** Every line of every output chunk is, token by token (with the exceptions above), a
   subsequence of one line of one source: pieces from two source lines never share an output line.
   For the compressors that keep whole sentences, every output line's sentences
   (:func:`~ctxcompress.split_sentences`) also occur verbatim in one source.

Joining by a word-level compressor (``SemanticCompressor``, ``TokenPruner`` and
``AttentionFilter(granularity="word")``) is checked on the same paragraphs; the two LM compressors
with the tiny random-weight Llama of the other unit tests (when torch is installed), and their
joining (``build_chunks`` over word units) also model-free, for any drawn selection of units.
``AttentionFilter(granularity="token")`` keeps LM tokens, pieces of words by design, and is left out.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctxcompress
from ctxcompress import (
    Budget,
    Chunk,
    Compressor,
    RedundancyFusion,
    RelevanceFilter,
    SemanticCompressor,
    split_sentences,
)
from ctxcompress._compressors.summarizer import Summarizer
from ctxcompress._core.select import Unit, build_chunks, word_ranges
from ctxcompress._core.text import extract, gap_separator
from ctxcompress._kg.pruner import KGSchemaPruner
from ctxcompress._refiner.extract_restructure import ExtractRestructure
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

# --------------------------------------------------------------------------- the paragraphs
_HANDMADE = [
    # the three examples of the issue, rebuilt around the words that were fused
    (
        "Live ?! *@ Like Suicide",
        "Live ?! *@ Like Suicide is the debut EP by Guns N' Roses. The band released their EP \"Live ?! *@ "
        'Like Suicide" a year before their debut album. It was reissued in 1988.',
    ),
    (
        "Loggins and Messina",
        'Loggins and Messina were an American rock duo. Their hits included "Your Mama Don\'t Dance" and '
        '"Something to Believe In" in the early 1970s.',
    ),
    (
        "James P. Comer",
        "James Pierpont Comer (born September 25, 1934) is an American psychiatrist. He founded the Comer "
        "School Development Program in 1968. As one of the world's leading child psychiatrists, he taught "
        "at the Yale Child Study Center.",
    ),
    # titles, quotes, a paragraph break and a line that ends without a stop
    (
        "Kiss and Tell (1945 film)",
        'Kiss and Tell is a 1945 American comedy film starring "Shirley Temple" as Corliss Archer.\n\n'
        "In the film, two teenage girls cause their respective parents much concern when they start to "
        'take an interest in boys. The film was a "hit" with audiences.',
    ),
    ("Notes", 'Released: 1999\nLabel: "Geffen"\nProducer: (uncredited)\nThe album sold well "in Europe".'),
]


@cache
def _demo() -> tuple[list[tuple[str, str]], list[str]]:
    path = Path(ctxcompress.__file__).parent / "data" / "hotpotqa_demo.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    paragraphs = [(c["title"], c["text"]) for r in rows for c in r["contexts"]]
    return paragraphs + _HANDMADE, [r["question"] for r in rows]


def _chunk(title: str, text: str, titled: bool, i: int) -> Chunk:
    """The paragraph as a chunk: plain text with the title in metadata, or the title on a first line."""
    if titled:
        return Chunk(f"{title}\n{text}", id=f"p{i}")
    return Chunk(text, id=f"p{i}", metadata={"title": title})


@st.composite
def _inputs(draw: st.DrawFn, max_paragraphs: int = 4) -> tuple[list[Chunk], str, Budget | None]:
    paragraphs, questions = _demo()
    picked = draw(st.lists(st.integers(0, len(paragraphs) - 1), min_size=1, max_size=max_paragraphs, unique=True))
    chunks = [_chunk(*paragraphs[k], draw(st.booleans()), k) for k in picked]
    words = [w for c in chunks for w in c.text.split()]
    query = draw(
        st.one_of(
            st.sampled_from(questions),
            st.lists(st.sampled_from(words), min_size=1, max_size=6).map(" ".join),
        )
    )
    budget = draw(
        st.one_of(
            st.none(),
            st.integers(0, 300).map(lambda n: Budget(max_tokens=n)),
            st.floats(0.05, 1.0).map(lambda f: Budget(fraction=f)),
        )
    )
    return chunks, query, budget


# --------------------------------------------------------------------------- the checks
def _is_mark_run(s: str) -> bool:
    return bool(s) and all(unicodedata.category(c)[0] in "PS" for c in s)


def _is_cjk(c: str) -> bool:
    return unicodedata.name(c, "").startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL"))


def _cjk_fragment(out: str, src: str) -> bool:
    """CJK text has no spaces: each CJK character is a word of its own, so dropping one inside a
    whitespace token is a word drop, not a fusion. ``out`` is ``src`` with only CJK characters and
    marks taken out, and it still holds a CJK character."""
    if not any(_is_cjk(c) for c in out):
        return False
    j = 0
    for c in src:
        if j < len(out) and out[j] == c:
            j += 1
        elif not (_is_cjk(c) or _is_mark_run(c)):
            return False
    return j == len(out)


class _Source:
    """The whitespace tokens of the sources, the mark runs that end them, and their lines."""

    def __init__(self, sources: Sequence[Chunk]) -> None:
        self.texts = [c.text for c in sources]
        self.tokens = {t for c in sources for t in c.text.split()}
        self.marks = {t[i:] for t in self.tokens for i in range(len(t)) if _is_mark_run(t[i:])}
        self.lines = [line.split() for c in sources for line in c.text.splitlines()]

    def matches(self, out: str, src: str, *, cut: bool = False) -> bool:
        """Output token ``out`` stands for source token ``src`` (see the module docstring)."""
        if out == src:
            return True
        if cut and src.startswith(out):
            return True
        if _cjk_fragment(out, src):
            return True
        return out.startswith(src) and out[len(src) :] in self.marks

    def token_ok(self, out: str, *, cut: bool = False) -> bool:
        if out in self.tokens:
            return True
        if cut and any(t.startswith(out) for t in self.tokens):
            return True
        if any(_cjk_fragment(out, t) for t in self.tokens):
            return True
        return any(out[:i] in self.tokens and out[i:] in self.marks for i in range(1, len(out)))

    def line_ok(self, line: list[str], *, cut_last: bool) -> bool:
        """``line`` (tokens) is a subsequence of one source line (greedy leftmost matching)."""
        for src in self.lines:
            j = 0
            for k, tok in enumerate(line):
                cut = cut_last and k == len(line) - 1
                while j < len(src) and not self.matches(tok, src[j], cut=cut):
                    j += 1
                if j == len(src):
                    break
                if tok == src[j] or not _cjk_fragment(tok, src[j]):
                    j += 1  # a CJK fragment may be followed by another fragment of the same token
            else:
                return True
        return False


def _check(result: ctxcompress.CompressionResult, *, sentences: bool) -> None:
    assert result.check_spans() == []
    if result.report.budget_tokens is not None:
        assert result.report.tokens_out <= result.report.budget_tokens
    warnings = [*result.report.warnings, *(w for st in result.report.stages for w in st.warnings)]
    cut = any("output cut" in w or "its head was kept" in w for w in warnings)
    src = _Source(result.sources)
    for ci, chunk in enumerate(result.chunks):
        if any(not sp.verbatim for sp in chunk.spans):
            continue  # an abstractive chunk: new text by design
        last_chunk = cut and ci == len(result.chunks) - 1
        lines = [ln for ln in chunk.text.splitlines() if ln.strip()]
        for li, line in enumerate(lines):
            toks = line.split()
            last_line = last_chunk and li == len(lines) - 1
            for k, tok in enumerate(toks):
                assert src.token_ok(tok, cut=last_line and k == len(toks) - 1), (
                    f"token {tok!r} of {line!r} is not a source token"
                )
            assert src.line_ok(toks, cut_last=last_line), f"line {line!r} joins pieces of different source lines"
            if sentences:
                segs = [s.text for s in split_sentences(line)]
                assert any(all(s in text for s in segs) for text in src.texts), (
                    f"the sentences of line {line!r} do not occur verbatim in one source"
                )


# --------------------------------------------------------------------------- the compressors
_SENTENCE_LEVEL: dict[str, Callable[[], Compressor]] = {
    "relevance-bm25": lambda: RelevanceFilter(scorer="bm25"),
    "relevance-hybrid": lambda: RelevanceFilter(embedder=FakeEmbedder(), context_window=1),
    "relevance-topk": lambda: RelevanceFilter(scorer="bm25", top_k=2, context_window=0),
    "summarize-extractive": lambda: Summarizer(mode="extractive", embedder=FakeEmbedder(), target_fraction=0.4),
    "refiner": lambda: ExtractRestructure(scorer="bm25"),
    "refiner-hybrid": lambda: ExtractRestructure(embedder=FakeEmbedder()),
    "fusion": lambda: RedundancyFusion(embedder=FakeEmbedder(), similarity_threshold=0.3),
    "kg-plain": lambda: KGSchemaPruner(embedder=FakeEmbedder(), percentile=None, min_similarity=None),
}

_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(_SENTENCE_LEVEL))
@_SETTINGS
@given(data=_inputs())
def test_sentence_level_compressors_join_without_fusing(
    name: str, data: tuple[list[Chunk], str, Budget | None]
) -> None:
    chunks, query, budget = data
    result = _SENTENCE_LEVEL[name]().compress(chunks, query=query, budget=budget, counter=WhitespaceCounter())
    _check(result, sentences=True)


@_SETTINGS
@given(data=_inputs(max_paragraphs=2), drop=st.floats(0.0, 100.0), granularity=st.sampled_from(["sentence", "chunk"]))
def test_semantic_compressor_joins_without_fusing(
    data: tuple[list[Chunk], str, Budget | None], drop: float, granularity: str
) -> None:
    chunks, query, budget = data
    comp = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=drop, granularity=granularity)  # type: ignore[arg-type]
    _check(comp.compress(chunks, query=query, budget=budget, counter=WhitespaceCounter()), sentences=False)


@_SETTINGS
@given(data=_inputs(), keep=st.lists(st.booleans(), min_size=1, max_size=400), sentence_units=st.booleans())
def test_word_unit_joining_never_fuses(
    data: tuple[list[Chunk], str, Budget | None], keep: list[bool], sentence_units: bool
) -> None:
    """TokenPruner's and AttentionFilter's joining (``build_chunks`` over word or sentence units) for
    any selection of units: model-free."""
    chunks, _, _ = data
    units = [
        Unit(ci, s, e, ch.text[s:e])
        for ci, ch in enumerate(chunks)
        for s, e in ([(g.start, g.end) for g in split_sentences(ch.text)] if sentence_units else word_ranges(ch.text))
    ]
    chosen = [i for i in range(len(units)) if keep[i % len(keep)]]
    out = build_chunks(chunks, units, chosen)
    text = "\n\n".join(c.text for c in out)
    result = ctxcompress.CompressionResult(chunks=tuple(out), report=_empty_report(), text=text, sources=tuple(chunks))
    _check(result, sentences=sentence_units)


def _empty_report() -> ctxcompress.SavingsReport:
    return ctxcompress.SavingsReport(tokens_in=0, tokens_out=0, counter="whitespace", seconds=0.0)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The tiny random-weight Llama of the LM unit tests (skipped without torch), on one thread."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    from _tiny_lm import make_tiny_lm

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield str(make_tiny_lm(layers=2, seed=3, folder=tmp_path_factory.mktemp("tiny-llama-joins")))
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", ["token-pruner", "attention-word", "attention-sentence"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_inputs(max_paragraphs=2))
def test_lm_compressors_join_without_fusing(
    name: str, tiny_lm: str, data: tuple[list[Chunk], str, Budget | None]
) -> None:
    from ctxcompress._lm.attention_filter import AttentionFilter
    from ctxcompress._lm.token_pruner import TokenPruner

    chunks, query, budget = data
    comp: Compressor
    if name == "token-pruner":
        comp = TokenPruner(model=tiny_lm, device="cpu", rate=0.5)
    else:
        comp = AttentionFilter(model=tiny_lm, device="cpu", granularity=name.split("-")[1], rate=0.5)  # type: ignore[arg-type]
    _check(
        comp.compress(chunks, query=query, budget=budget, counter=WhitespaceCounter()),
        sentences=name.endswith("sentence"),
    )


# --------------------------------------------------------------------------- regressions
def test_semantic_keeps_the_space_after_a_closing_quote() -> None:
    """Dropping the word after a closing quote glued the next word to it (``Suicide"year``)."""
    text = 'The band released their EP "Live ?! *@ Like Suicide" a year before their debut album.'
    comp = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100, protect_patterns=[r"\byear\b", "before"])
    res = comp.compress([text], counter=WhitespaceCounter())
    assert '"Live ?! *@ Like Suicide" year before' in res.text
    assert res.check_spans() == []


def test_semantic_keeps_the_space_between_two_quotes() -> None:
    """Dropping ``and`` between two quoted titles glued them (``Dance""Something``)."""
    text = 'Their hits included "Your Mama Don\'t Dance" and "Something to Believe In" in 1972.'
    res = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100).compress([text], counter=WhitespaceCounter())
    assert '"Your Mama Don\'t Dance" "Something Believe In" 1972.' in res.text
    assert res.check_spans() == []


def test_relevance_keeps_the_title_on_its_own_line() -> None:
    """A title line and a non-adjacent body sentence became one line (``James P. Comer As one of``)."""
    text = (
        "James P. Comer\nJames Pierpont Comer (born September 25, 1934) is a professor. He founded a program. "
        "As one of the world's leading child psychiatrists, he worked at Yale."
    )
    comp = RelevanceFilter(scorer="bm25", top_k=2, context_window=0)
    res = comp.compress([text], query="James P. Comer child psychiatrists", counter=WhitespaceCounter())
    assert res.text == "James P. Comer\nAs one of the world's leading child psychiatrists, he worked at Yale."
    assert res.check_spans() == []


def test_semantic_attaches_final_punctuation_and_keeps_line_breaks() -> None:
    text = "Alpha beta gamma delta film.\nEpsilon zeta eta theta iota."
    comp = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100, protect_patterns=["Alpha", "Epsilon"])
    res = comp.compress([text], counter=WhitespaceCounter())
    assert res.text == "Alpha.\nEpsilon."
    assert res.check_spans() == []


def test_semantic_never_drops_a_fragment_of_a_token() -> None:
    """``pop/rock``: dropping ``rock`` alone would leave ``pop/``."""
    text = "they played loud pop/rock music for years in small clubs"
    res = SemanticCompressor(embedder=FakeEmbedder(), drop_percentile=100).compress([text], counter=WhitespaceCounter())
    assert "pop/rock" in res.text.split()


def test_word_ranges_keep_a_token_whole_but_cjk_characters_apart() -> None:
    text = "He likes pop/rock (1961–1965), 中文字 ok."
    assert [text[a:b] for a, b in word_ranges(text)] == [
        "He",
        "likes",
        "pop/rock",
        "(1961–1965),",
        "中",
        "文",
        "字",
        "ok.",
    ]


def test_extract_keeps_one_line_break_and_counts_it_in_spans() -> None:
    src = Chunk("Title line\nFirst sentence. Second sentence.\n\nThird sentence.", id="a")
    t = src.text
    ranges = [(0, 10), (t.index("Second"), t.index("Second") + 16), (t.index("Third"), len(t))]
    piece = extract(src, ranges)
    assert piece is not None
    assert piece.text == "Title line\nSecond sentence.\n\nThird sentence."  # whitespace-only gaps stay as they are
    for sp in piece.spans:
        assert t[sp.start : sp.end] == piece.text[sp.out_start : sp.out_end]
    quoted = extract(src, ranges, sep=" … ")
    assert quoted is not None and quoted.text == "Title line …\nSecond sentence.\n\nThird sentence."
    same_line = extract(src, [(t.index("First"), t.index("First") + 5), (t.index("Second"), t.index("Second") + 6)])
    assert same_line is not None and same_line.text == "First Second"


def test_gap_separator() -> None:
    assert gap_separator("a b c", 1, 4) == " "
    assert gap_separator("a\r\nb", 1, 3) == "\n"
    assert gap_separator("a b\u2028c d", 1, 6, " … ") == " …\n"


def test_budget_counts_the_line_break() -> None:
    """A counter that charges for line breaks: the budget still holds with "\\n" separators."""

    class LineBreakCounter(WhitespaceCounter):
        def count(self, text: str) -> int:
            return super().count(text) + 3 * text.count("\n")

    paragraphs, _ = _demo()
    chunks = [_chunk(*paragraphs[k], True, k) for k in range(6)]
    for cap in (5, 20, 40, 80):
        res = RelevanceFilter(scorer="bm25", context_window=0).compress(
            chunks, query="film director", budget=cap, counter=LineBreakCounter()
        )
        assert res.report.tokens_out <= cap
        assert LineBreakCounter().count(res.text) == res.report.tokens_out
