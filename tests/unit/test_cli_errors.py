"""Every bad command-line input gets one clear line on stderr and exit status 2 (issue 12, section 3)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ctxcompress import Budget, Chunk, InputError
from ctxcompress._cli import _print_result, main, parse_budget, read_chunks
from ctxcompress._core.types import coerce_chunks

BASE = ["compress", "--query", "capital of France", "--counter", "whitespace"]
GOOD = json.dumps({"id": "a", "text": "Paris is the capital of France."})


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes, *, tty: bool = False) -> None:
    """A standard input with a binary buffer, as in a real process (read with surrogateescape, like a C locale)."""

    class FakeStdin(io.TextIOWrapper):
        def isatty(self) -> bool:
            return tty

    monkeypatch.setattr("sys.stdin", FakeStdin(io.BytesIO(data), encoding="utf-8", errors="surrogateescape"))


def _call(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse
        rc = int(exc.code or 0)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "error:" in err
    for needle in needles:
        assert needle in err, (needle, err)


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in output")

    return json.loads(text, parse_constant=refuse)


# --------------------------------------------------------------------------- invalid UTF-8
def test_invalid_utf8_on_stdin_is_an_input_error_naming_the_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, GOOD.encode() + b'\n"caf\xe9 au lait"\n')
    rc, out, err = _call(capsys, BASE)
    _one_line_error(rc, err, "line 2", "UTF-8")
    assert out == ""


def test_invalid_utf8_in_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "chunks.jsonl"
    path.write_bytes(b"\n\n" + GOOD.encode() + b"\n\xff\xfeplain\n")
    rc, _, err = _call(capsys, [*BASE, "--input", str(path), "--input-format", "text"])
    _one_line_error(rc, err, "line 4", "UTF-8", str(path))


def test_read_chunks_refuses_undecodable_text_read_through_a_text_layer() -> None:
    with pytest.raises(InputError, match="line 1: not valid UTF-8"):
        read_chunks(io.StringIO("caf\udce9\n"), input_format="text")


def test_output_is_valid_utf8_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, json.dumps({"id": "é", "text": "Zürich est en Suisse. 東京 est au Japon."}).encode() + b"\n")
    rc, out, _ = _call(capsys, [*BASE, "--compact"])
    assert rc == 0
    data = _strict_json(out)
    assert "Zürich" in data["text"] and out.encode("utf-8").decode("utf-8") == out


# --------------------------------------------------------------------------- malformed JSON
def test_malformed_json_line_is_an_error_not_plain_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, (GOOD + '\n{"id":"b","text":"Paris\n').encode())
    rc, out, err = _call(capsys, BASE)
    _one_line_error(rc, err, "line 2", "not valid JSON", "--input-format text")
    assert out == ""


def test_plain_text_lines_only_with_input_format_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, b"Paris is the capital of France.\n\nBerlin is the capital of Germany.\n")
    rc, _, err = _call(capsys, BASE)
    _one_line_error(rc, err, "line 1", "not valid JSON")
    _stdin(monkeypatch, b'{"id":"b","text":"Paris\nBerlin is large.\n')
    rc, out, _ = _call(capsys, [*BASE, "--input-format", "text", "--budget", "1.0", "--compact"])
    assert rc == 0
    data = _strict_json(out)
    assert '{"id":"b","text":"Paris' in data["text"]


def test_json_string_lines_still_work(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, (json.dumps("Paris is the capital of France.") + "\n").encode())
    rc, out, _ = _call(capsys, [*BASE, "--compact"])
    assert rc == 0 and "Paris" in _strict_json(out)["text"]


# --------------------------------------------------------------------------- coerce_chunks
@pytest.mark.parametrize(
    ("chunks", "needle"),
    [
        ({"text": "Paris"}, "not a single mapping"),
        (b"Paris", "not bytes"),
        (bytearray(b"Paris"), "not bytes"),
        ("Paris", "not a single str"),
        (Chunk(text="Paris"), "not a single Chunk"),
        (5, "got int"),
        (3.5, "got float"),
    ],
)
def test_coerce_chunks_refuses_what_is_not_a_list_of_chunks(chunks: Any, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        coerce_chunks(chunks)


def test_compress_refuses_a_dict() -> None:
    from ctxcompress import RelevanceFilter
    from ctxcompress.testing import FakeEmbedder

    with pytest.raises(InputError, match="list of chunks"):
        RelevanceFilter(embedder=FakeEmbedder()).compress({"text": "Paris"}, query="France")  # type: ignore[arg-type]


def test_coerce_chunks_keeps_lists_of_str_and_iterables() -> None:
    assert [c.text for c in coerce_chunks(["a", "b"])] == ["a", "b"]
    assert [c.id for c in coerce_chunks(x for x in ["a", {"text": "b", "id": "x"}])] == ["0", "x"]
    assert coerce_chunks(None) == [] and coerce_chunks(()) == []


# --------------------------------------------------------------------------- NaN / Infinity
@pytest.mark.parametrize("price", ["nan", "inf", "-inf", "-1", "cheap"])
def test_non_finite_price_is_refused_at_parse_time(price: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _call(capsys, [*BASE, "--price", price])
    _one_line_error(rc, err, "--price")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_score_in_input_is_refused(
    literal: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(monkeypatch, (GOOD + '\n{"id": "b", "text": "Berlin.", "score": ' + literal + "}\n").encode())
    rc, out, err = _call(capsys, BASE)
    _one_line_error(rc, err, "line 2", literal)
    assert out == ""


def test_non_finite_scores_are_written_as_null(capsys: pytest.CaptureFixture[str]) -> None:
    from ctxcompress import Pipeline, RelevanceFilter
    from ctxcompress.testing import FakeEmbedder

    res = Pipeline([RelevanceFilter(embedder=FakeEmbedder())]).compress(
        [Chunk(text="Paris is the capital of France.", id="a")], query="France", counter="whitespace"
    )
    odd = [
        SimpleNamespace(id=c.id, text=c.text, metadata=c.metadata, score=s, spans=c.spans)
        for c in res.chunks
        for s in (math.nan, math.inf, 0.5)
    ]
    res = dataclasses.replace(res, chunks=tuple(odd))  # type: ignore[arg-type]
    _print_result(res, argparse.Namespace(price=None, format="json", compact=True))
    data = _strict_json(capsys.readouterr().out)
    assert [c["score"] for c in data["chunks"]] == [None, None, 0.5]


# --------------------------------------------------------------------------- unreadable files
def test_missing_or_directory_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _call(capsys, [*BASE, "--input", str(tmp_path / "missing.jsonl")])
    _one_line_error(rc, err, "cannot read --input", "missing.jsonl")
    rc, _, err = _call(capsys, [*BASE, "--input", str(tmp_path)])
    _one_line_error(rc, err, "cannot read --input")


def test_kg_graph_not_gzip_or_binary_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_gz = tmp_path / "edges.tsv.gz"
    fake_gz.write_bytes(b"source\ttarget\trelation\nA\tB\tknows\n")
    rc, _, err = _call(capsys, ["kg", "--query", "q", "--graph", str(fake_gz), "--no-index-cache"])
    _one_line_error(rc, err, "cannot read --graph", "edges.tsv.gz")
    binary = tmp_path / "edges.tsv"
    binary.write_bytes(b"source\ttarget\trelation\n\xff\xfe\x00\x01\tB\tknows\n")
    rc, _, err = _call(capsys, ["kg", "--query", "q", "--graph", str(binary), "--no-index-cache"])
    _one_line_error(rc, err, "cannot read --graph", "UTF-8")


# --------------------------------------------------------------------------- empty input, terminal
def test_empty_stdin_is_an_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, b"")
    rc, out, err = _call(capsys, BASE)
    _one_line_error(rc, err, "no chunks in standard input")
    assert out == ""
    _stdin(monkeypatch, b"\n  \n\n")
    rc, _, err = _call(capsys, BASE)
    _one_line_error(rc, err, "no chunks")


def test_terminal_stdin_says_it_is_reading(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, (GOOD + "\n").encode(), tty=True)
    rc, out, err = _call(capsys, [*BASE, "--compact"])
    assert rc == 0 and "reading chunks from standard input" in err and "--input" in err
    assert _strict_json(out)["chunks"]
    _stdin(monkeypatch, (GOOD + "\n").encode(), tty=False)
    rc, _, err = _call(capsys, [*BASE, "--compact"])
    assert rc == 0 and err == ""


# --------------------------------------------------------------------------- one budget rule
@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("1", Budget(max_tokens=1)),
        ("300", Budget(max_tokens=300)),
        ("0", Budget(max_tokens=0)),
        ("1.0", Budget(fraction=1.0)),
        ("0.25", Budget(fraction=0.25)),
        (".5", Budget(fraction=0.5)),
        ("1e-1", Budget(fraction=0.1)),
        ("25%", Budget(fraction=0.25)),
        ("100%", Budget(fraction=1.0)),
    ],
)
def test_budget_rule(text: str, budget: Budget) -> None:
    got = parse_budget(text)
    assert got.max_tokens == budget.max_tokens
    assert got.fraction == pytest.approx(budget.fraction) if budget.fraction else got.fraction is None


BAD_BUDGETS = ["1.5", "300.0", "1e2", "0.0", "-3", "nan", "inf", "0%", "150%", "lots", "", "3x", "١٢", "1_000", "0x10"]


@pytest.mark.parametrize("text", BAD_BUDGETS)
def test_budget_rule_refuses(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match="invalid budget"):
        parse_budget(text)
    rc, _, err = _call(capsys, [*BASE, "--budget", text])
    _one_line_error(rc, err, "--budget")


def test_budget_rule_is_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _call(capsys, ["compress", "--help"])
    assert rc == 0
    flat = " ".join(out.split())
    assert "whole number is tokens" in flat and "kept fraction" in flat and "25%" in flat
    assert "--input-format" in flat
