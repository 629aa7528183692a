"""``CompressionResult.to_html()`` and ``ctxcompress compress --format html`` (issue 16 §5): the page is
parsed with ``html.parser``; the highlighted text must be exactly the spans' source text, every text
escaped, merged duplicates marked, the token counts those of the report, nothing loaded from outside."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ctxcompress import Chunk, CompressionResult, Pipeline, RedundancyFusion, RelevanceFilter, Span
from ctxcompress._cli import main
from ctxcompress._compressors.redundancy_fusion import MERGED_KEY as FUSION_KEY
from ctxcompress._core.html import MERGED_KEY
from ctxcompress._core.report import ChunkReport, SavingsReport, StageReport
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

pytestmark = pytest.mark.unit


class _Page(HTMLParser):
    """Collects, per source, the pieces of text by class, with their data offsets; and what could load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict[str, str | None]] = []
        self.pieces: list[dict[str, Any]] = []
        self.external: list[str] = []
        self.scripts = 0
        self.query = ""
        self._in_query = False
        self.headers: dict[str, str] = {}
        self._header_of: str | None = None
        self._section: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.stack.append(a)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if a.get(key) and not str(a[key]).startswith(("data:", "#")):
                self.external.append(str(a[key]))
        if tag == "link":
            self.external.append(str(a.get("href")))
        if a.get("class") == "query":
            self._in_query = True
        if tag == "section":
            self._section = a.get("data-source")
        if tag == "header" and self._section is not None:
            self._header_of = self._section
            self.headers[self._section] = ""
        if "data-start" in a:
            self.pieces.append(
                {
                    "class": a["class"],
                    "source": a["data-source"],
                    "start": int(str(a["data-start"])),
                    "end": int(str(a["data-end"])),
                    "title": a.get("title"),
                    "text": "",
                }
            )

    def handle_endtag(self, tag: str) -> None:
        a = self.stack.pop() if self.stack else {}
        if a.get("class") == "query":
            self._in_query = False
        if tag == "header":
            self._header_of = None

    def handle_data(self, data: str) -> None:
        if self._in_query:
            self.query += data
        if self._header_of is not None:
            self.headers[self._header_of] += data
        if self.stack and "data-start" in self.stack[-1]:
            self.pieces[-1]["text"] += data


def _parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


SOURCES = [
    Chunk(
        "Paris is the capital of France. Cats <sleep> & dream. The sky is blue.",
        id="a",
        metadata={"title": "Paris <city>"},
    ),
    Chunk("Paris is the capital of France. Berlin is in Germany.", id="b"),
    Chunk("Nothing relevant here at all.", id="<c>"),
]


def _result() -> CompressionResult:
    emb = FakeEmbedder()
    pipe = Pipeline(
        [
            ("fuse", RedundancyFusion(embedder=emb, similarity_threshold=0.8)),
            ("filter", RelevanceFilter(embedder=emb)),
        ]
    )
    return pipe.compress(SOURCES, query="capital of <France> & Paris?", budget=0.6, counter=WhitespaceCounter())


def test_the_fusion_key_is_the_one_the_page_reads() -> None:
    assert MERGED_KEY == FUSION_KEY


def test_result_keeps_query_and_sources() -> None:
    res = _result()
    assert res.query == "capital of <France> & Paris?"
    assert [s.id for s in res.sources] == ["a", "b", "<c>"]


def test_highlights_are_exactly_the_spans() -> None:
    res = _result()
    page = _parse(res.to_html())
    by_source = {s.id: s for s in res.sources}
    # every piece's text is its source's text between its offsets, and the pieces tile each source
    for sid, src in by_source.items():
        pieces = sorted((p for p in page.pieces if p["source"] == sid), key=lambda p: p["start"])
        assert "".join(p["text"] for p in pieces) == src.text
        for p in pieces:
            assert p["text"] == src.text[p["start"] : p["end"]]
    kept = {(p["source"], i) for p in page.pieces if p["class"] == "kept" for i in range(p["start"], p["end"])}
    expected: set[tuple[str, int]] = set()
    for ch in res.chunks:
        if not ch.spans:
            expected |= {(str(ch.id), i) for i in range(len(ch.text))}
        for sp in ch.spans:
            expected |= {(sp.source_id, i) for i in range(sp.start, sp.end)}
    assert kept == expected and kept
    assert "".join(p["text"] for p in page.pieces if p["class"] == "kept" and p["source"] == "a").startswith(
        "Paris is the capital"
    )


def test_merged_duplicates_are_marked() -> None:
    res = _result()
    merged = [m for ch in res.chunks for m in ch.metadata.get(MERGED_KEY, ())]
    assert merged, "the fixture must merge the repeated sentence"
    page = _parse(res.to_html())
    marks = [p for p in page.pieces if p["class"] == "merged"]
    assert {(p["source"], p["start"], p["end"]) for p in marks} == {
        (m["source_id"], m["start"], m["end"]) for m in merged
    }
    assert all(p["text"] == "Paris is the capital of France." for p in marks)
    assert all("merged into output chunk" in str(p["title"]) for p in marks)
    assert "1 merged duplicate" in page.headers["b"]


def test_everything_is_escaped_and_self_contained() -> None:
    res = _result()
    text = res.to_html(title="<b>mine</b>")
    page = _parse(text)
    assert "<sleep>" not in text and "&lt;sleep&gt;" in text
    assert "<France>" not in text and "<city>" not in text and "<b>mine</b>" not in text and "<c>" not in text
    assert page.query.strip() == "Query: capital of <France> & Paris?"
    assert page.scripts == 0 and page.external == []
    assert "http://" not in text and "https://" not in text and "@import" not in text
    assert text.startswith("<!doctype html>") and '<meta charset="utf-8">' in text


def test_counts_are_the_reports() -> None:
    res = _result()
    text = res.to_html()
    page = _parse(text)
    for c in res.report.chunks:
        assert f"{c.tokens_in} → {c.tokens_out} tokens" in page.headers[c.id]
    for s in res.report.stages:
        assert f"<td>{s.name}</td><td>{s.compressor.rsplit('.', 1)[-1]}</td><td>{s.tokens_in}</td>" in text
    assert f"{res.report.tokens_in} → {res.report.tokens_out} tokens" in text
    dropped = [c for c in res.report.chunks if c.tokens_out == 0]
    assert dropped and all("dropped" in page.headers[c.id] for c in dropped)


def test_abstractive_spans_and_a_result_without_sources() -> None:
    src = Chunk("One long sentence about many things. Another.", id="s")
    out = Chunk("A summary.", id="o", spans=(Span("s", 0, 36, 0, 10, verbatim=False),))
    report = SavingsReport(
        tokens_in=6,
        tokens_out=2,
        counter="whitespace",
        seconds=0.0,
        stages=(StageReport("sum", "x.Summarizer", 6, 2, 1, 1, 0.0),),
        chunks=(ChunkReport("s", 6, 2),),
    )
    res = CompressionResult(chunks=(out,), report=report, text="A summary.", sources=(src,), query="q")
    page = _parse(res.to_html())
    assert [(p["class"], p["start"], p["end"]) for p in page.pieces] == [("summarised", 0, 36), ("dropped", 36, 45)]
    bare = CompressionResult(chunks=(out,), report=report, text="A summary.")
    assert "holds no sources" in bare.to_html()


def test_cli_format_html(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "pipe.json"
    cfg.write_text(
        json.dumps(
            {
                "steps": [
                    {
                        "name": "filter",
                        "type": "RelevanceFilter",
                        "init_parameters": {
                            "embedder": {"type": "ctxcompress.testing.FakeEmbedder", "init_parameters": {"dim": 64}}
                        },
                    }
                ]
            }
        )
    )
    lines = [
        json.dumps({"id": "a", "text": "Paris is the capital of France. It has <many> museums."}),
        json.dumps({"id": "b", "text": "Bananas are yellow & sweet."}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    rc = main(
        ["compress", "--query", "capital of France", "--budget", "50%", "--counter", "whitespace",
         "--config", str(cfg), "--format", "html"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    page = _parse(out)
    assert page.query.strip() == "Query: capital of France"
    assert any(p["class"] == "kept" and p["source"] == "a" for p in page.pieces)
    assert "&lt;many&gt;" in out and "yellow &amp; sweet" in out


def test_carriage_returns_and_nul_reach_the_page() -> None:
    """An HTML parser turns CR LF into LF and drops NUL: CR goes as a reference (a lone one with a <br>),
    NUL as U+FFFD, so the page's text is the source's, character for character (see the browser test)."""
    src = Chunk("one\r\ntwo\rthree\x00.", id="s")
    out = Chunk("one\r\ntwo", id="o", spans=(Span("s", 0, 8, 0, 8),))
    report = SavingsReport(tokens_in=3, tokens_out=2, counter="whitespace", seconds=0.0)
    page = CompressionResult(chunks=(out,), report=report, text=out.text, sources=(src,), query="q").to_html()
    assert "\r" not in page and "\x00" not in page
    assert ">one&#13;\ntwo</mark>" in page and ">&#13;<br>three\ufffd.</span>" in page
    assert "<pre>one&#13;\ntwo</pre>" in page
