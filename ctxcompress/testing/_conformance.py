"""The conformance suite every compressor passes (in the spirit of scikit-learn's ``check_estimator``)."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Sequence
from typing import Any, ClassVar

from .._core.compressor import Compressor
from .._core.errors import InputError
from .._core.result import CompressionResult
from .._core.types import Budget, Chunk
from ._fakes import WhitespaceCounter

__all__ = ["SAMPLE_CHUNKS", "SAMPLE_QUERY", "CompressorConformance"]

SAMPLE_QUERY = "Which government position was held by the actress who played Corliss Archer in Kiss and Tell?"

SAMPLE_CHUNKS: tuple[Chunk, ...] = (
    Chunk(
        id="kiss",
        text=(
            "Kiss and Tell is a 1945 American comedy film starring then 17-year-old Shirley Temple as "
            "Corliss Archer.  In the film, two teenage girls cause their respective parents much concern "
            "when they start to become interested in boys.  The parents' bickering about which girl is the "
            "worse influence causes more problems than it solves."
        ),
        metadata={"title": "Kiss and Tell (1945 film)", "url": "https://en.wikipedia.org/wiki/Kiss_and_Tell"},
        score=0.91,
    ),
    Chunk(
        id="temple",
        text=(
            "Shirley Temple Black (April 23, 1928 – February 10, 2014) was an American actress, singer, "
            "dancer, businesswoman, and diplomat who was Hollywood's number one box-office draw as a child "
            "actress from 1935 to 1938.  As an adult, she was named United States ambassador to Ghana and "
            "to Czechoslovakia and also served as Chief of Protocol of the United States."
        ),
        metadata={"title": "Shirley Temple"},
        score=0.84,
    ),
    Chunk(
        id="meet",
        text=(
            "Meet Corliss Archer, a program from radio's Golden Age, ran from January 7, 1943 to "
            "September 30, 1956.  Although it was CBS's answer to NBC's popular \"A Date with Judy\", it "
            'was also broadcast by NBC in 1948 as a summer replacement for "The Bob Hope Show".'
        ),
        metadata={"title": "Meet Corliss Archer", "tags": ["radio", "sitcom"]},
        score=0.80,
    ),
    Chunk(
        id="protocol",
        text=(
            "The Chief of Protocol of the United States is the head of the Office of Protocol.  "
            "The Chief of Protocol is an officer of the United States Department of State."
        ),
        metadata={"title": "Chief of Protocol"},
    ),
    Chunk(
        id="misc",
        text="東京は日本の首都です。人口は約1400万人です。 Emoji 🎉 and <b>HTML</b> are just text here.",
        metadata={"title": "Misc"},
    ),
)


_CUT_WARNING = "output cut"
"""What the base class (``Compressor.compress``) and a nested ``Pipeline`` say when they cut an overrun."""


def _all_warnings(res: CompressionResult) -> list[str]:
    return [*res.report.warnings, *(w for st in res.report.stages for w in st.warnings)]


class CompressorConformance:
    """Subclass as ``TestMyCompressor(CompressorConformance)`` and implement :meth:`make_compressor`.

    Override :meth:`sample_chunks` / :attr:`query` for compressors that need other input, and
    :attr:`budgets` for the budgets the suite checks, and :attr:`honours_budget` for a compressor
    that relies on the base class to cut its output to the budget. Tests use a whitespace token counter so they
    run without tiktoken; set :attr:`counter` to check with another one.
    """

    query: str = SAMPLE_QUERY
    budgets: Sequence[Budget | None] = (None, Budget(max_tokens=40), Budget(fraction=0.5), Budget(max_tokens=0))
    counter: Any = WhitespaceCounter()
    #: False skips the verbatim checks (as does a compressor whose ``abstractive`` is True)
    verbatim: bool = True
    #: False for a compressor that leaves budgets to the base class's final cut (see
    #: :func:`ctxcompress.fit_to_budget`; the report then warns "output cut ..."). True (the default)
    #: makes :meth:`test_budget_holds` check that the compressor's own selection meets every budget,
    #: counting the rendered text as :meth:`Compressor.compress` does (separators included).
    honours_budget: ClassVar[bool] = True

    def make_compressor(self) -> Compressor:
        raise NotImplementedError("return the compressor under test")

    def sample_chunks(self) -> list[Chunk]:
        return list(SAMPLE_CHUNKS)

    # ---------------------------------------------------------------- helpers
    def _run(self, comp: Compressor, chunks: Sequence[Chunk], budget: Budget | None = None) -> CompressionResult:
        return comp.compress(chunks, query=self.query, budget=budget, counter=self.counter)

    # ---------------------------------------------------------------- the checks
    def test_is_compressor(self) -> None:
        assert isinstance(self.make_compressor(), Compressor)

    def test_input_not_mutated(self) -> None:
        chunks = self.sample_chunks()
        before = copy.deepcopy([c.to_dict() for c in chunks])
        self._run(self.make_compressor(), chunks, Budget(fraction=0.5))
        assert [c.to_dict() for c in chunks] == before

    def test_empty_in_empty_out(self) -> None:
        res = self._run(self.make_compressor(), [])
        assert res.chunks == ()
        assert res.report.tokens_in == 0 and res.report.tokens_out == 0

    def test_tokens_out_not_above_tokens_in(self) -> None:
        res = self._run(self.make_compressor(), self.sample_chunks())
        assert res.report.tokens_out <= res.report.tokens_in
        assert res.report.tokens_out == self.counter.count(res.text)

    def test_budget_holds(self) -> None:
        comp = self.make_compressor()
        chunks = self.sample_chunks()
        for budget in self.budgets:
            res = self._run(comp, chunks, budget)
            cap = (budget or Budget()).resolve(res.report.tokens_in)
            if cap is not None:
                assert res.report.tokens_out <= cap, (budget, res.report.tokens_out)
                assert self.counter.count(res.text) <= cap
            if self.honours_budget:
                cuts = [w for w in _all_warnings(res) if _CUT_WARNING in w]
                assert not cuts, (
                    f"{type(comp).__name__} overran {budget}: the base class had to cut its output ({cuts[0]!r}); "
                    "select under the cap itself, or set honours_budget = False"
                )

    def test_ids_metadata_and_scores_kept(self) -> None:
        chunks = self.sample_chunks()
        res = self._run(self.make_compressor(), chunks, Budget(fraction=0.6))
        by_id = {c.id: c for c in chunks}
        for out in res.chunks:
            assert out.id is not None
            assert out.spans or out.id in by_id, "an output chunk must be a source or carry spans"
            if out.id in by_id:
                src = by_id[out.id]
                for key, value in src.metadata.items():
                    assert out.metadata.get(key) == value, f"metadata {key!r} of {out.id!r} lost"
                assert out.score == src.score

    def test_spans_point_into_sources(self) -> None:
        comp = self.make_compressor()
        res = self._run(comp, self.sample_chunks(), Budget(fraction=0.5))
        if self.verbatim and not comp.abstractive:
            assert res.check_spans() == []
            for out in res.chunks:
                if out.spans:
                    covered = sum(s.out_end - s.out_start for s in out.spans)
                    assert covered >= len(out.text.replace(" ", "")) * 0.5
        else:
            ids = {c.id for c in res.sources}
            assert all(s.source_id in ids for out in res.chunks for s in out.spans)

    def test_to_dict_round_trip(self) -> None:
        comp = self.make_compressor()
        data = comp.to_dict()
        again = type(comp).from_dict(data)
        assert again.to_dict() == data
        assert Compressor.from_dict(data).to_dict() == data

    def test_deterministic(self) -> None:
        comp = self.make_compressor()
        a = self._run(comp, self.sample_chunks(), Budget(fraction=0.5))
        b = self._run(comp, self.sample_chunks(), Budget(fraction=0.5))
        assert a.chunks == b.chunks and a.text == b.text

    def test_picklable_result(self) -> None:
        res = self._run(self.make_compressor(), self.sample_chunks(), Budget(fraction=0.5))
        assert pickle.loads(pickle.dumps(res.chunks)) == res.chunks

    def test_bad_input_is_a_clear_error(self) -> None:
        comp = self.make_compressor()
        for bad in ([object()], "just a string"):
            try:
                comp.compress(bad, query=self.query, counter=self.counter)  # type: ignore[arg-type]
            except InputError:
                pass
            else:  # pragma: no cover - failure path
                raise AssertionError(f"{bad!r} should raise InputError")
        dup = [Chunk("a", id="x"), Chunk("b", id="x")]
        try:
            comp.compress(dup, query=self.query, counter=self.counter)
        except InputError:
            pass
        else:  # pragma: no cover
            raise AssertionError("duplicate ids should raise InputError")

    def test_odd_text_is_safe(self) -> None:
        odd = [
            Chunk(""),
            Chunk("   \n\t "),
            Chunk("🎉🎉🎉 " * 20),
            Chunk("<html><body><p>Hello <b>world</b>.</p></body></html>"),
            Chunk("这是一个测试。这是第二句。"),
            Chunk("word " * 5000),
        ]
        res = self._run(self.make_compressor(), odd, Budget(max_tokens=50))
        assert res.report.tokens_out <= 50
        res = self._run(self.make_compressor(), odd)
        assert res.report.tokens_out <= res.report.tokens_in

    def test_query_may_be_empty(self) -> None:
        comp = self.make_compressor()
        res = comp.compress(self.sample_chunks(), query="", budget=Budget(max_tokens=30), counter=self.counter)
        assert res.report.tokens_out <= 30
