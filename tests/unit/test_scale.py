"""Near-linear cost on large inputs: pairs generated, characters counted and memory grow linearly.

No wall-clock asserts: the work is measured by what it touches (candidate pairs, characters given to the
counter, peak allocated memory). Figures for real sizes are in ``eval/RESULTS_scale.md``.
"""

from __future__ import annotations

import random
import re
import tracemalloc

import numpy as np
import pytest

from ctxcompress import Chunk, LongContextReorder, RedundancyFusion, RelevanceFilter
from ctxcompress._core.select import make_units
from ctxcompress._core.text import fewest_drops, greedy_fill
from ctxcompress.testing import SAMPLE_CHUNKS, FakeEmbedder, WhitespaceCounter

_WORD = re.compile(r"\w+")


class CountingCounter(WhitespaceCounter):
    """A whitespace counter that records how many calls and characters it was given."""

    def __init__(self, separator_cost: int = 0) -> None:
        self.calls = 0
        self.chars = 0
        self.separator_cost = separator_cost

    def count(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return len(text.split()) + self.separator_cost * text.count("\n\n")


def _old_candidates(units: list, chunk_of: list[int], t: float, cross: bool) -> set[tuple[int, int]]:
    """The candidate pairs of the former all-pairs-sharing-a-word algorithm (the reference)."""
    words = [set(_WORD.findall(u.text.lower())) for u in units]
    out = set()
    for a in range(len(units)):
        for b in range(a + 1, len(units)):
            if cross and chunk_of[a] == chunk_of[b]:
                continue
            k = len(words[a] & words[b])
            if k and k / (len(words[a]) + len(words[b]) - k) >= t:
                out.add((a, b))
    return out


def _corpus(seed: int, n_chunks: int) -> list[Chunk]:
    """Chunks of sentences drawn from the sample, some repeated, some edited (near-duplicates)."""
    rng = random.Random(seed)
    sentences = [s for c in SAMPLE_CHUNKS for s in re.split(r"(?<=[.!?])\s+", c.text) if s.strip()]
    chunks = []
    for i in range(n_chunks):
        picked = rng.sample(sentences, k=min(len(sentences), rng.randint(1, 5)))
        edited = [" ".join(w for w in s.split() if rng.random() > 0.15) or s for s in picked]
        chunks.append(Chunk(text=" ".join(edited), id=f"c{i}"))
    return chunks


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
@pytest.mark.parametrize("cross", [True, False])
def test_fusion_candidates_equal_the_all_pairs_reference(seed: int, threshold: float, cross: bool) -> None:
    chunks = _corpus(seed, 12)
    units = make_units(chunks, "sentence")
    chunk_of = [u.chunk for u in units]
    fusion = RedundancyFusion(lexical_prefilter=threshold, cross_chunk_only=cross)
    iu, ju = fusion._candidate_pairs(units, chunk_of)
    got = list(zip(iu.tolist(), ju.tolist(), strict=True))
    assert set(got) == _old_candidates(units, chunk_of, threshold, cross)
    assert got == sorted(got)  # a fixed order (the former one followed string hashing)


def test_fusion_never_generates_same_chunk_pairs() -> None:
    text = " ".join(f"The committee met on day {i % 7} of the session." for i in range(1500))
    chunks = [Chunk(text=text, id="one"), Chunk(text="The committee met on day 3 of the session.", id="two")]
    units = make_units(chunks, "sentence")
    chunk_of = [u.chunk for u in units]
    fusion = RedundancyFusion()
    tracemalloc.start()
    iu, ju = fusion._candidate_pairs(units, chunk_of)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert iu.size > 0
    assert all(chunk_of[a] != chunk_of[b] for a, b in zip(iu.tolist(), ju.tolist(), strict=True))
    # the former algorithm built a dict of every same-chunk pair sharing a word (~1.1 M pairs here)
    assert peak < 20_000_000


def test_fusion_pairs_grow_linearly_with_repeated_sentences() -> None:
    n = 600
    chunks = [Chunk(text="The cat sat on the mat near the door.", id=f"c{i}") for i in range(n)]
    units = make_units(chunks, "sentence")
    fusion = RedundancyFusion(embedder=FakeEmbedder(), max_candidates=16)
    iu, _ = fusion._candidate_pairs(units, [u.chunk for u in units])
    assert iu.size <= 16 * n  # all pairs would be n (n - 1) / 2 = 179,700
    res = fusion.compress(chunks, query="cat", counter=WhitespaceCounter())
    details = res.report.stages[0].details
    assert details["merged_sentences"] == n - details["groups"]  # groups of at most max_group_size
    assert details["groups"] == -(-n // fusion.max_group_size)


def test_fusion_output_equals_before_on_duplicates() -> None:
    """Near-duplicates across chunks still merge, provenance recorded."""
    a = Chunk(text="Shirley Temple was an American actress. She served as ambassador to Ghana.", id="a")
    b = Chunk(text="Shirley Temple was an American actress and diplomat. Kiss and Tell is a film.", id="b")
    res = RedundancyFusion(embedder=FakeEmbedder(), similarity_threshold=0.7).compress([a, b], query="Ghana")
    assert res.report.stages[0].details["merged_sentences"] == 1
    assert any("ctxcompress.merged" in c.metadata for c in res.chunks)


def test_reorder_under_budget_counts_each_chunk_once() -> None:
    n = 400
    chunks = [Chunk(text=" ".join(f"w{i}x{j}" for j in range(10)), id=f"c{i}", score=float(i % 37)) for i in range(n)]
    chars_in = sum(len(c.text) for c in chunks)
    counter = CountingCounter()
    res = LongContextReorder(use_scores=True).compress(chunks, budget=2000, counter=counter)
    assert res.report.tokens_out <= 2000
    assert len(res.chunks) == 200
    # linear: each chunk counted a handful of times (the former loop counted the joined text per chunk)
    assert counter.chars < 12 * chars_in


def test_reorder_corrects_a_non_additive_counter() -> None:
    chunks = [Chunk(text=f"alpha beta gamma {i}", id=f"c{i}", score=float(-i)) for i in range(50)]
    counter = CountingCounter(separator_cost=2)  # the joined text costs 2 more per separator than its parts
    res = LongContextReorder(use_scores=True).compress(chunks, budget=60, counter=counter)
    assert counter.count(res.text) <= 60
    assert not any("cut" in w for w in res.report.warnings)


def test_relevance_drop_loop_counts_logarithmically() -> None:
    n = 1000
    chunks = [
        Chunk(text=f"Fact number {i} about apples and pears. Another line {i} here.", id=f"c{i}") for i in range(n)
    ]
    counter = CountingCounter(separator_cost=3)  # unit costs underestimate: many units must be dropped
    res = RelevanceFilter(scorer="bm25").compress(chunks, query="apples", budget=3000, counter=counter)
    assert counter.count(res.text) == 2997  # what dropping the weakest one at a time gives
    assert len(res.chunks) == 300
    chars_in = sum(len(c.text) for c in chunks)
    # the former loop re-counted the whole text once per dropped unit (22x the input here; now 8.5x)
    assert counter.chars < 14 * chars_in


def test_fewest_drops_equals_the_linear_loop() -> None:
    rng = random.Random(0)
    for _ in range(500):
        limit = rng.randint(0, 60)
        first = rng.randint(0, limit + 3)
        calls: list[int] = []

        def fits(k: int, first: int = first, calls: list[int] = calls) -> bool:
            calls.append(k)
            return k >= first

        linear = next((k for k in range(limit) if fits(k)), limit)
        calls.clear()
        assert fewest_drops(fits, limit) == linear
        assert len(calls) <= 2 * max(1, limit).bit_length() + 2


def test_greedy_fill_matches_counting_the_joined_text() -> None:
    rng = random.Random(1)
    counter = CountingCounter(separator_cost=2)  # joins cost tokens, as ".\n\n" merges do in tiktoken
    for _ in range(100):
        texts = [" ".join("w" for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(1, 20))]
        cap = rng.randint(0, 60)
        kept: list[str] = []
        for t in texts:  # the former loop: count the whole joined text per item
            if counter.count("\n\n".join([*kept, t])) <= cap:
                kept.append(t)
        taken = greedy_fill(texts, cap, counter.count)
        assert [texts[i] for i in taken] == kept


def test_onnx_tokenises_only_the_head_of_a_huge_text() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    from ctxcompress._backends.onnx import OnnxModel

    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3}
    tok = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.enable_truncation(16)
    seen: list[int] = []

    class Recording:
        def encode_batch(self, items: list[str]) -> list:
            seen.extend(len(x) for x in items)
            return tok.encode_batch(items)

        def encode(self, item: str) -> object:
            seen.append(len(item))
            return tok.encode(item)

    model = object.__new__(OnnxModel)
    model.tokenizer = Recording()
    model.max_length = 16
    huge = "the cat sat " * 500_000
    short = "the cat"
    encs = model.encode([huge, short])
    assert encs[0].ids == tok.encode(huge).ids
    assert encs[1].ids == tok.encode(short).ids
    assert max(seen) < 16 * OnnxModel.HEAD_CHARS_PER_TOKEN + OnnxModel.HEAD_MARGIN + 1
    # a head without enough tokens (mostly whitespace) falls back to the whole text
    spaced = " " * 20_000 + "the cat"
    assert model.encode([spaced])[0].ids == tok.encode(spaced).ids
    assert np.array_equal(np.asarray(model.encode([spaced])[0].ids), np.asarray([1, 2]))
