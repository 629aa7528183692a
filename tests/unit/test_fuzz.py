"""Property-based fuzzing of the command line and the Python API (hypothesis, fakes only).

The contract under any input:

- Python API: a :class:`~ctxcompress.CompressionResult` or a :class:`~ctxcompress.CtxCompressError`
  subclass; tokens out never above the budget's cap; ``check_spans()`` empty; the caller's input
  unchanged.
- CLI: exit 0 with valid UTF-8, strict JSON (no ``NaN``) on stdout, or exit 2 with exactly one line
  on stderr and no traceback.

Examples per property: ``CTXCOMPRESS_FUZZ_EXAMPLES`` (default 50, sized so that this file runs in
well under 30 s on one core); ``CTXCOMPRESS_FUZZ_EXAMPLES=2000`` is a heavier run. The examples are
derandomised (the same on every run) unless ``CTXCOMPRESS_FUZZ_RANDOM=1``.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctxcompress import (
    ApproxCounter,
    Budget,
    Chunk,
    CompressionResult,
    Compressor,
    CtxCompressError,
    LongContextReorder,
    Pipeline,
    RedundancyFusion,
    RelevanceFilter,
)
from ctxcompress._cli import main
from ctxcompress._compressors.semantic_compressor import SemanticCompressor
from ctxcompress._compressors.summarizer import Summarizer
from ctxcompress._refiner.extract_restructure import ExtractRestructure
from ctxcompress.testing import FakeEmbedder, FakeLLM, WhitespaceCounter

EXAMPLES = int(os.environ.get("CTXCOMPRESS_FUZZ_EXAMPLES", "50"))
settings.register_profile(
    "ctxcompress-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CTXCOMPRESS_FUZZ_RANDOM", "") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
FUZZ = settings.get_profile("ctxcompress-fuzz")

# --------------------------------------------------------------------------- text
_SPECIAL = [
    "\u0301",  # combining acute
    "\u0308",
    "\u200b",  # zero width space
    "\u200d",  # zero width joiner
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\ufeff",  # BOM
    "\x00",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\u2028",
    "\u00a0",
    "שלום עולם",
    "مرحبا بالعالم",
    "東京は日本の首都です。",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",  # astral
    "🎉👩‍👩‍👧",
    "...",
    "?!",
    '"',
    "“quoted”",
    "(",
    ")",
    "Mr.",
    "e.g.",
    "3.14",
    "1,000",
    "```",
    "|a|b|",
    "- item",
    "# Title",
]
_WORDS = [
    "Paris",
    "capital",
    "France",
    "the",
    "is",
    "of",
    "Berlin",
    "Germany",
    "museum",
    "river",
    "1945",
    "film",
    "Shirley",
    "Temple",
    "ambassador",
]

# astral and BMP characters except surrogates (not encodable) are all fair game
_chars = st.characters(exclude_categories=["Cs"])
_piece = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_SPECIAL),
    st.text(_chars, min_size=1, max_size=12),
    st.just(" "),
    st.just(". "),
)
_huge_word = st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "字", "🎉", "a\u0301"]), st.integers(500, 3000))
text_st = st.one_of(
    st.lists(_piece, max_size=40).map(" ".join),
    st.lists(_piece, max_size=40).map("".join),
    st.sampled_from(["", " ", "   \n\t ", "\r\n\r\n", "\u200b\u200b", "\x00"]),
    _huge_word,
    st.builds(lambda a, b: a + " " + b, _huge_word, st.lists(_piece, max_size=10).map(" ".join)),
)
query_st = st.one_of(st.just(""), st.sampled_from(["capital of France", "Who was Shirley Temple?"]), text_st)

# --------------------------------------------------------------------------- JSON shapes
_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(_chars, max_size=20),
)
_json_any = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(_chars, max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_odd_key = st.one_of(
    st.sampled_from(["id", "text", "metadata", "score", "spans", "", "TEXT", "ctxcompress.merged"]),
    st.text(_chars, max_size=8),
)
_chunk_obj = st.fixed_dictionaries(
    {"text": st.one_of(text_st, _json_any)},
    optional={
        "id": st.one_of(st.text(_chars, max_size=6), st.integers(0, 5), _json_any),
        "metadata": st.one_of(st.dictionaries(st.text(_chars, max_size=6), _json_any, max_size=3), _json_any),
        "score": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), _json_any),
        "spans": st.one_of(st.just([]), _json_any),
    },
)
_json_line = st.one_of(
    _chunk_obj.map(lambda d: json.dumps(d, ensure_ascii=False)),
    st.dictionaries(_odd_key, _json_any, max_size=4).map(lambda d: json.dumps(d, ensure_ascii=False)),
    text_st.map(lambda t: json.dumps(t, ensure_ascii=False)),
    _json_any.map(lambda v: json.dumps(v, ensure_ascii=False)),
)
_raw_line = st.one_of(
    _json_line.map(lambda s: s.encode("utf-8")),
    text_st.map(lambda t: t.replace("\n", " ").replace("\r", " ").encode("utf-8")),  # plain text
    st.binary(max_size=40),  # often invalid UTF-8
    st.sampled_from([b"\xff\xfe", b"\xc3(", b'{"text": "\xed\xa0\x80"}', b'{"id":"a","text":"Paris', b"\x80abc"]),
)
stdin_st = st.builds(
    lambda lines, eol, final: eol.join(lines) + (eol if final else b""),
    st.lists(_raw_line, max_size=8),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
budget_arg_st = st.one_of(
    st.sampled_from(
        ["0", "1", "7", "40", "300", "0.5", "0.25", "1.0", "1", "1e-1", "1e3", "-1", "-0.5", "nan", "inf", "-inf"]
    ),
    st.sampled_from(["", " ", "abc", "0x10", "١٢", "12 ", "5.", ".5", "2.5", "10000000000000000000000", "1_000"]),
    st.integers(-5, 500).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(_chars, max_size=6),
)


def _fake_pipeline() -> Compressor:
    return Pipeline(
        [
            ("fuse", RedundancyFusion(embedder=FakeEmbedder(dim=64))),
            ("filter", RelevanceFilter(embedder=FakeEmbedder(dim=64))),
            ("reorder", LongContextReorder(embedder=FakeEmbedder(dim=64))),
        ]
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _run_cli(argv: list[str], stdin: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[int, bytes, bytes]:
    """``main(argv)`` with byte streams standing in for stdin/stdout/stderr (as a terminal would give)."""
    fin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    out_b, err_b = io.BytesIO(), io.BytesIO()
    fout = io.TextIOWrapper(out_b, encoding="utf-8", write_through=True)
    ferr = io.TextIOWrapper(err_b, encoding="utf-8", write_through=True)
    with monkeypatch.context() as m:
        m.setattr(sys, "stdin", fin)
        m.setattr(sys, "stdout", fout)
        m.setattr(sys, "stderr", ferr)
        m.setattr("ctxcompress._demo.default_pipeline", _fake_pipeline)
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse
            rc = exc.code if isinstance(exc.code, int) else 2
        fout.flush()
        ferr.flush()
    return rc, out_b.getvalue(), err_b.getvalue()


def _check_cli(rc: int, out: bytes, err: bytes, budget: str | None) -> dict[str, Any] | None:
    assert rc in (0, 2), (rc, err)
    assert b"Traceback" not in err, err.decode("utf-8", "replace")
    if rc == 2:
        lines = err.decode("utf-8").splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
        assert lines[0].strip(), "an empty error line"
        return None
    data: dict[str, Any] = json.loads(out.decode("utf-8"), parse_constant=_reject_constant)
    rep = data["report"]
    assert rep["tokens_out"] <= rep["tokens_in"] or rep["tokens_in"] == 0
    if rep.get("budget_tokens") is not None:
        assert rep["tokens_out"] <= rep["budget_tokens"]
    return data


# --------------------------------------------------------------------------- CLI
@FUZZ
@given(
    stdin=stdin_st,
    budget=st.one_of(st.none(), budget_arg_st),
    query=query_st,
    counter=st.sampled_from(["whitespace", "approx"]),
    input_format=st.sampled_from([None, "jsonl", "text"]),
)
def test_cli_compress_any_stdin(
    stdin: bytes,
    budget: str | None,
    query: str,
    counter: str,
    input_format: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    argv = ["compress", "--query", query.replace("\x00", ""), "--counter", counter, "--compact"]
    if input_format is not None:
        argv += ["--input-format", input_format]
    if budget is not None:
        argv += ["--budget", budget]
    rc, out, err = _run_cli(argv, stdin, monkeypatch)
    data = _check_cli(rc, out, err, budget)
    if data is not None:
        assert data["report"]["counter"] == counter
        texts = [c["text"] for c in data["chunks"]]
        assert data["text"] == "\n\n".join(texts)


_valid_line = st.builds(
    lambda t, m, sc: json.dumps({"text": t, "metadata": m, **({"score": sc} if sc is not None else {})}),
    text_st,
    st.dictionaries(st.sampled_from(["title", "url", "n"]), _json_leaf, max_size=2),
    st.one_of(st.none(), st.floats(-10, 10)),
)
valid_stdin_st = st.lists(_valid_line, min_size=1, max_size=8).map(lambda ls: ("\n".join(ls) + "\n").encode())


@FUZZ
@given(
    stdin=valid_stdin_st,
    budget=st.one_of(st.none(), st.sampled_from(["0", "5", "40", "300", "0.5", "0.1", "1.0", "25%"])),
    query=query_st,
    fmt=st.sampled_from(["json", "markdown", "text"]),
)
def test_cli_compress_valid_chunks(
    stdin: bytes, budget: str | None, query: str, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["compress", "--query", query.replace("\x00", ""), "--counter", "whitespace", "--format", fmt]
    if budget is not None:
        argv += ["--budget", budget]
    rc, out, err = _run_cli(argv, stdin, monkeypatch)
    assert rc == 0, err.decode("utf-8")  # valid chunks and budgets: always a result
    if fmt == "json":
        _check_cli(rc, out, err, budget)
    else:
        out.decode("utf-8")


@FUZZ
@given(budget=budget_arg_st)
def test_cli_budget_strings(budget: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = json.dumps({"id": "a", "text": "Paris is the capital of France. It has many museums."}).encode() + b"\n"
    argv = ["compress", "--query", "capital", "--counter", "whitespace", "--budget", budget]
    rc, out, err = _run_cli(argv, stdin, monkeypatch)
    _check_cli(rc, out, err, budget)


# --------------------------------------------------------------------------- Python API
def _factories() -> dict[str, Callable[[], Compressor]]:
    return {
        "filter-sentence": lambda: RelevanceFilter(embedder=FakeEmbedder(dim=64)),
        "filter-document-bm25": lambda: RelevanceFilter(granularity="document", scorer="bm25"),
        "filter-window": lambda: RelevanceFilter(
            embedder=FakeEmbedder(dim=64), scorer="embedding", context_window=1, percentile=50
        ),
        "fusion": lambda: RedundancyFusion(embedder=FakeEmbedder(dim=64), similarity_threshold=0.5),
        "reorder": lambda: LongContextReorder(embedder=FakeEmbedder(dim=64)),
        "pipeline": _fake_pipeline,
        "semantic": lambda: SemanticCompressor(embedder=FakeEmbedder(dim=64), drop_percentile=30),
        "summarize-extractive": lambda: Summarizer(embedder=FakeEmbedder(dim=64), target_fraction=0.5),
        "summarize-abstractive": lambda: Summarizer(
            llm=FakeLLM(echo_words=12), embedder=FakeEmbedder(dim=64), target_fraction=0.5, min_chunk_tokens=4
        ),
        "refiner-embedding": lambda: ExtractRestructure(embedder=FakeEmbedder(dim=64)),
        "refiner-bm25": lambda: ExtractRestructure(
            scorer="bm25", min_relevance=0.0, max_sentences=None, link_threshold=None
        ),
    }


FACTORIES = _factories()
ABSTRACTIVE = {"summarize-abstractive"}

_id_st = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "0", "1", ""]), st.text(_chars, max_size=4))
_meta_st = st.dictionaries(st.sampled_from(["title", "url", "lang", "n"]), _json_leaf, max_size=3)
_score_st = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32), st.integers(-3, 3))
_chunk_item = st.one_of(
    text_st,
    st.builds(lambda t, i, m, s: Chunk(t, id=i, metadata=m, score=s), text_st, _id_st, _meta_st, _score_st),
    st.builds(
        lambda t, i, m: {"text": t, **({"id": i} if i is not None else {}), "metadata": m}, text_st, _id_st, _meta_st
    ),
)
chunks_st = st.lists(_chunk_item, max_size=6)
budget_st = st.one_of(
    st.none(),
    st.integers(0, 400),
    st.floats(0.01, 1.0),
    st.builds(lambda n: Budget(max_tokens=n), st.integers(0, 300)),
    st.builds(lambda f: Budget(fraction=f), st.floats(0.01, 1.0)),
    st.builds(lambda n, f: Budget(max_tokens=n, fraction=f), st.integers(0, 300), st.floats(0.01, 1.0)),
)


def _snapshot(chunks: list[Any]) -> Any:
    """A comparable copy: chunks as dicts, containers deep-copied, anything else itself."""
    return [
        c.to_dict() if isinstance(c, Chunk) else copy.deepcopy(c) if isinstance(c, (dict, list, str)) else c
        for c in chunks
    ]


def _check_result(res: CompressionResult, cap: int | None, counter: Any, *, verbatim: bool) -> None:
    assert isinstance(res, CompressionResult)
    if cap is not None:
        assert res.report.tokens_out <= cap, (cap, res.report.tokens_out)
        assert counter.count(res.text) <= cap
    assert res.report.tokens_out == (counter.count(res.text) if res.text else 0)
    if verbatim:
        assert res.check_spans() == []
    else:
        ids = {c.id for c in res.sources}
        assert all(s.source_id in ids for out in res.chunks for s in out.spans)
    json.dumps(res.to_dict(), allow_nan=False)  # results are strict-JSON data


@pytest.mark.parametrize("name", sorted(FACTORIES))
@FUZZ
@given(
    chunks=chunks_st,
    query=query_st,
    budget=budget_st,
    counter=st.sampled_from([WhitespaceCounter(), ApproxCounter()]),
)
def test_compress_any_chunks(name: str, chunks: list[Any], query: str, budget: Any, counter: Any) -> None:
    comp = FACTORIES[name]()
    before = _snapshot(chunks)
    try:
        res = comp.compress(chunks, query=query, budget=budget, counter=counter)
    except CtxCompressError:
        return
    finally:
        assert _snapshot(chunks) == before, "the caller's chunks were changed"
    cap = Budget.coerce(budget).resolve(res.report.tokens_in)
    _check_result(res, cap, counter, verbatim=name not in ABSTRACTIVE)


bad_budget_st = st.one_of(
    st.integers(-1000, -1),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not (0 < f <= 1) and not float(f).is_integer()),
    st.sampled_from([math.nan, math.inf, -math.inf, True, "300", "0.5", [], {}, object()]),
)
bad_chunks_st = st.one_of(
    st.just({"text": "Paris"}),  # a dict, not a list
    st.just("just a string"),
    st.lists(
        st.one_of(st.integers(), st.none(), st.just(b"bytes"), st.just(object()), _json_any), min_size=1, max_size=3
    ),
    st.lists(st.dictionaries(_odd_key, _json_any, max_size=3), min_size=1, max_size=3),
)


@FUZZ
@given(
    chunks=st.one_of(chunks_st, bad_chunks_st),
    budget=st.one_of(budget_st, bad_budget_st),
    query=st.one_of(query_st, _json_any),
)
def test_pipeline_bad_arguments_raise_typed_errors(chunks: Any, budget: Any, query: Any) -> None:
    before = (
        _snapshot(chunks) if isinstance(chunks, list) else copy.deepcopy(chunks) if isinstance(chunks, dict) else None
    )
    try:
        res = _fake_pipeline().compress(chunks, query=query, budget=budget, counter=WhitespaceCounter())
    except CtxCompressError:
        return
    finally:
        if isinstance(chunks, list):
            assert _snapshot(chunks) == before
        elif isinstance(chunks, dict):
            assert chunks == before
    assert isinstance(query, str) or query is None, f"query {query!r} was accepted"
    assert not isinstance(chunks, (dict, str)), f"{type(chunks).__name__} input was accepted"
    cap = Budget.coerce(budget).resolve(res.report.tokens_in)
    _check_result(res, cap, WhitespaceCounter(), verbatim=True)
