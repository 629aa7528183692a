"""The command line, with a configuration that uses fakes (no model)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ctxcompress._cli import main, read_chunks

CONFIG = {
    "steps": [
        {
            "name": "filter",
            "type": "RelevanceFilter",
            "init_parameters": {
                "scorer": "embedding",
                "embedder": {"type": "ctxcompress.testing.FakeEmbedder", "init_parameters": {"dim": 64}},
            },
        }
    ]
}

LINES = [
    json.dumps({"id": "a", "text": "Paris is the capital of France. It has many museums.", "metadata": {"lang": "en"}}),
    json.dumps("Berlin is the capital of Germany. It is large."),
    json.dumps("A JSON string line about bananas and their yellow colour."),
    "",
]


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(LINES) + "\n"))
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_read_chunks_accepts_objects_and_strings() -> None:
    chunks = read_chunks(io.StringIO("\n".join(LINES)))
    assert [c.id for c in chunks] == ["a", None, None]
    assert chunks[0].metadata["lang"] == "en"
    assert chunks[2].text.startswith("A JSON string line")
    binary = read_chunks(io.BytesIO(("\n".join(LINES)).encode("utf-8")))
    assert [c.text for c in binary] == [c.text for c in chunks]


def test_read_chunks_plain_text_only_when_asked() -> None:
    text = "A plain text line about bananas.\n\n{not json either\n"
    chunks = read_chunks(io.StringIO(text), input_format="text")
    assert [c.text for c in chunks] == ["A plain text line about bananas.", "{not json either"]


def test_compress_prints_chunks_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "pipe.json"
    cfg.write_text(json.dumps(CONFIG))
    rc, out, _ = _run(
        capsys,
        monkeypatch,
        ["compress", "--query", "capital of France", "--budget", "12", "--counter", "whitespace", "--config", str(cfg)],
    )
    assert rc == 0
    data = json.loads(out)
    rep = data["report"]
    for key in ("tokens_in", "tokens_out", "tokens_saved", "ratio", "kept_fraction", "counter", "stages"):
        assert key in rep
    assert rep["counter"] == "whitespace" and rep["tokens_out"] <= 12 < rep["tokens_in"]
    assert data["chunks"][0]["id"] == "a" and data["chunks"][0]["metadata"] == {"lang": "en"}
    assert "Paris is the capital of France." in data["text"]
    for chunk in data["chunks"]:
        for span in chunk["spans"]:
            assert set(span) >= {"source_id", "start", "end", "out_start", "out_end"}


def test_compress_markdown_and_fraction_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "pipe.yaml"
    import yaml

    cfg.write_text(yaml.safe_dump(CONFIG))
    rc, out, _ = _run(
        capsys,
        monkeypatch,
        ["compress", "--query", "France", "--budget", "0.5", "--counter", "whitespace", "--config", str(cfg),
         "--format", "markdown", "--price", "2.5"],
    )  # fmt: skip
    assert rc == 0
    assert "Token savings" in out and "| filter |" in out and "cost saved" in out


def test_errors_are_one_line_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, _, err = _run(capsys, monkeypatch, ["compress", "--query", "q", "--model", "gpt-unknown-9"])
    assert rc == 2 and err.startswith("ctxcompress: error:") and "gpt-4o" in err
    rc, _, err = _run(capsys, monkeypatch, ["compress", "--query", "q", "--config", str(tmp_path / "missing.yaml")])
    assert rc == 2 and "cannot read configuration" in err
    monkeypatch.setattr("sys.stdin", io.StringIO('{"no_text": 1}\n'))
    assert main(["compress", "--query", "q", "--counter", "whitespace"]) == 2
    with pytest.raises(SystemExit):
        main(["compress", "--query", "q", "--budget", "lots"])
