"""The HTML view of a compression in a real headless Chromium (issue 16 §5).

``CompressionResult.to_html()`` and ``ctxcompress compress --format html`` pages, loaded from files: they
render without a console error or warning, load nothing from the network, show every source's text
exactly, highlight exactly the spans the result kept (text, offsets and count) with the dropped text
greyed and merged duplicates struck through, carry the report's per-chunk and per-stage token counts,
and put the query on top. Needs playwright and a Chromium (see ``_browser.py``); skips without them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _browser import Web, chromium

from ctxcompress import Chunk, CompressionResult, Pipeline, RedundancyFusion, RelevanceFilter, Span
from ctxcompress._core.html import MERGED_KEY
from ctxcompress._core.report import ChunkReport, SavingsReport, StageReport
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

pytestmark = pytest.mark.integration

# the page's colours (see ctxcompress/_core/html.py): kept on yellow, dropped grey
KEPT_BG = "rgb(255, 240, 168)"
DROPPED_COLOR = "rgb(154, 154, 154)"

# every piece of source text the page shows: its class, offsets, text and how it is drawn
PIECES_JS = """els => els.map(e => {
  const s = getComputedStyle(e);
  return {cls: e.className, source: e.dataset.source, start: +e.dataset.start, end: +e.dataset.end,
          text: e.textContent, title: e.title, bg: s.backgroundColor, color: s.color,
          deco: s.textDecorationLine, shown: Array.from(e.getClientRects()).some(r => r.width > 0 && r.height > 0)};
})"""

SECTIONS_JS = """els => els.map(e => ({source: e.dataset.source, cls: e.className,
  header: e.querySelector('header').textContent, counts: (e.querySelector('.counts') || {}).textContent || null,
  text: e.querySelector('.text').textContent, top: e.getBoundingClientRect().top}))"""

# Windows line ends, a lone CR, HTML specials, a character outside the BMP and a NUL: the page must still
# hold each source's text exactly (a NUL, which HTML cannot carry, as U+FFFD)
SOURCES = [
    Chunk(
        "Paris is the capital of France.\r\nCats <sleep> & dream 😺 of \x00mice.\rThe sky is blue.",
        id="a",
        metadata={"title": "Paris <city>"},
    ),
    Chunk("Paris is the capital of France. Berlin is in Germany.", id="b"),
    Chunk("Nothing relevant here at all.", id="<c>"),
]
QUERY = "capital of <France> & Paris?"

KG = Path(__file__).resolve().parent.parent / "fixtures" / "kg"

_KINDS = {"dropped": 0, "merged": 1, "summarised": 2, "kept": 3}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def web(browser: Any) -> Iterator[Web]:
    w = Web(browser)
    yield w
    w.close()


def _shown(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def expected_pieces(chunks: Sequence[Chunk], sources: Sequence[Chunk]) -> list[tuple[str, str, int, int]]:
    """(class, source, start, end) of every maximal run of one kind, worked out from the output chunks."""
    kinds = {str(s.id): [0] * len(s.text) for s in sources}

    def paint(sid: str, start: int, end: int, kind: str) -> None:
        row = kinds.get(sid)
        for i in range(max(0, start), min(len(row or ()), end)):
            assert row is not None
            row[i] = max(row[i], _KINDS[kind])

    for out in chunks:
        if not out.spans and str(out.id) in kinds:
            paint(str(out.id), 0, len(out.text), "kept")
        for sp in out.spans:
            paint(sp.source_id, sp.start, sp.end, "kept" if sp.verbatim else "summarised")
        for m in out.metadata.get(MERGED_KEY) or ():
            paint(str(m["source_id"]), int(m["start"]), int(m["end"]), "merged")
    names = {v: k for k, v in _KINDS.items()}
    pieces = []
    for src in sources:
        row, start = kinds[str(src.id)], 0
        for i in range(1, len(row) + 1):
            if i == len(row) or row[i] != row[start]:
                pieces.append((names[row[start]], str(src.id), start, i))
                start = i
    return pieces


def check_page(web: Web, res: CompressionResult, sources: Sequence[Chunk], query: str) -> list[dict[str, Any]]:
    """Everything a page must show for ``res``; returns its pieces for further checks."""
    page = web.page
    assert page.title() == page.inner_text("h1") != ""
    # the query on top: right under the title, above the stage table and every chunk
    assert page.eval_on_selector("h1", "e => e.nextElementSibling.className") == "query"
    assert page.text_content(".query") == f"Query: {query}"
    query_top = page.eval_on_selector(".query", "e => e.getBoundingClientRect().top")
    sections = page.eval_on_selector_all("section.chunk", SECTIONS_JS)
    assert [s["source"] for s in sections] == [str(s.id) for s in sources]
    assert all(query_top < s["top"] for s in sections)
    if res.report.stages:
        assert query_top < page.eval_on_selector("table.stages", "e => e.getBoundingClientRect().top")
    # every source shown whole and exactly, cut into pieces that tile it
    for sec, src in zip(sections, sources, strict=True):
        assert sec["text"] == _shown(src.text)
    pieces = page.eval_on_selector_all("section.chunk [data-start]", PIECES_JS)
    by_id = {str(s.id): s.text for s in sources}
    for p in pieces:
        assert p["text"] == _shown(by_id[p["source"]][p["start"] : p["end"]]), p
    got = [(p["cls"], p["source"], p["start"], p["end"]) for p in pieces]
    assert got == expected_pieces(res.chunks, sources)
    # the kept text highlighted (and drawn), the dropped text greyed, duplicates struck through
    kept = [p for p in pieces if p["cls"] == "kept"]
    assert all(p["bg"] == KEPT_BG and p["shown"] for p in kept)
    assert all(p["color"] == DROPPED_COLOR and p["title"] == "dropped" for p in pieces if p["cls"] == "dropped")
    assert all(p["deco"] == "line-through" for p in pieces if p["cls"] == "merged")
    assert all(p["deco"] == "underline" for p in pieces if p["cls"] == "summarised")
    assert page.eval_on_selector_all("mark", "els => els.filter(e => !e.closest('.legend')).length") == len(kept)
    # per-chunk and per-stage token counts: the report's
    counts = {c.id: c for c in res.report.chunks}
    for sec in sections:
        c = counts.get(sec["source"])
        if c is not None:
            assert sec["counts"].startswith(f"{c.tokens_in} → {c.tokens_out} tokens ("), sec
        assert ("chunk gone" in sec["cls"]) == sec["header"].endswith("dropped")
    rows = page.eval_on_selector_all(
        "table.stages tr", "rows => rows.slice(1).map(r => Array.from(r.cells, c => c.textContent))"
    )
    assert [(r[0], int(r[2]), int(r[3])) for r in rows] == [
        (s.name, s.tokens_in, s.tokens_out) for s in res.report.stages
    ]
    totals = page.text_content(".totals") or ""
    assert f"{res.report.tokens_in} → {res.report.tokens_out} tokens" in totals
    assert page.text_content("details pre") == _shown(res.text)
    web.assert_clean()
    return pieces


def _pipeline_result() -> CompressionResult:
    emb = FakeEmbedder()
    pipe = Pipeline(
        [
            ("fuse", RedundancyFusion(embedder=emb, similarity_threshold=0.8)),
            ("filter", RelevanceFilter(embedder=emb)),
        ]
    )
    return pipe.compress(SOURCES, query=QUERY, budget=0.6, counter=WhitespaceCounter())


def test_result_page(web: Web, tmp_path: Path) -> None:
    res = _pipeline_result()
    page_file = tmp_path / "cut.html"
    page_file.write_text(res.to_html(), encoding="utf-8")
    web.goto(page_file)
    pieces = check_page(web, res, SOURCES, QUERY)
    kinds = {p["cls"] for p in pieces}
    assert {"kept", "merged", "dropped"} <= kinds  # the example exercises each
    merged = [p for p in pieces if p["cls"] == "merged"]
    assert merged[0]["title"].startswith("near-duplicate merged into output chunk a")
    assert "1 merged duplicate" in web.page.text_content("section[data-source='b'] header")
    assert "Paris <city>" in web.page.text_content("section[data-source='a'] header")
    # the lone CR still breaks the line: "The sky is blue." starts below the kept text
    tops = web.page.eval_on_selector_all(
        "section[data-source='a'] [data-start]", "els => els.map(e => e.getClientRects()[0].top)"
    )
    assert tops[-1] > tops[0] and web.page.locator("section[data-source='a'] br").count() == 1
    assert web.page.eval_on_selector("section[data-source='<c>']", "e => e.className") == "chunk gone"
    web.screenshot("h16b_to_html.png", full_page=True)


def test_abstractive_page(web: Web, tmp_path: Path) -> None:
    src = Chunk("One long sentence about many things.\r\nAnother one.", id="s")
    out = Chunk("A summary.", id="o", spans=(Span("s", 0, 36, 0, 10, verbatim=False),))
    report = SavingsReport(
        tokens_in=8,
        tokens_out=2,
        counter="whitespace",
        seconds=0.0,
        stages=(StageReport("sum", "x.Summarizer", 8, 2, 1, 1, 0.0),),
        chunks=(ChunkReport("s", 8, 2),),
    )
    res = CompressionResult(chunks=(out,), report=report, text="A summary.", sources=(src,), query="q")
    page_file = tmp_path / "sum.html"
    page_file.write_text(res.to_html(), encoding="utf-8")
    web.goto(page_file)
    pieces = check_page(web, res, [src], "q")
    assert [p["cls"] for p in pieces] == ["summarised", "dropped"]


def test_cli_format_html(web: Web, tmp_path: Path) -> None:
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
    sources = [
        Chunk("Paris is the capital of France. It has <many> museums.\r\nIts river is the Seine.", id="a"),
        Chunk("Bananas are yellow & sweet. They grow in bunches.", id="b"),
    ]
    chunks_file = tmp_path / "chunks.jsonl"
    chunks_file.write_text("".join(json.dumps({"id": c.id, "text": c.text}) + "\n" for c in sources), encoding="utf-8")
    query = "capital of France & its river"
    cmd = [sys.executable, "-m", "ctxcompress._cli", "compress", "--input", str(chunks_file), "--query", query]
    cmd += ["--budget", "50%", "--counter", "whitespace", "--config", str(cfg)]
    page_file = tmp_path / "cli.html"
    with page_file.open("wb") as fh:
        subprocess.run([*cmd, "--format", "html"], stdout=fh, check=True, timeout=120)
    data = json.loads(subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout)
    chunks = [
        Chunk(c["text"], id=c["id"], metadata=c["metadata"], spans=tuple(Span(**s) for s in c["spans"]))
        for c in data["chunks"]
    ]
    report = SavingsReport.from_dict(data["report"])
    res = CompressionResult(chunks=tuple(chunks), report=report, text=data["text"], sources=tuple(sources), query=query)
    web.goto(page_file)
    pieces = check_page(web, res, sources, query)
    assert any(p["cls"] == "kept" for p in pieces) and any(p["cls"] == "dropped" for p in pieces)


def test_cli_kg_format_html(
    web: Web, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctxcompress import _cli
    from ctxcompress._backends import embedders as _embed

    monkeypatch.setattr(_embed, "get_embedder", lambda spec=None: FakeEmbedder())
    query = "Which genes are associated with psoriasis?"
    args = ["kg", "--graph", str(KG / "hetionet_mini"), "--graph", str(KG / "jensenlab_mini"), "--query", query]
    args += ["--node-type", "Disease", "--no-index-cache", "--counter", "whitespace", "--percentile", "0"]
    args += ["--min-similarity", "0"]
    assert _cli.main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert _cli.main([*args, "--format", "html"]) == 0
    page_file = tmp_path / "kg.html"
    page_file.write_text(capsys.readouterr().out, encoding="utf-8")
    page = web.goto(page_file)
    assert page.text_content(".query") == f"Query: {query}"
    sections = web.view_sections()
    kinds = {p[0] for sec in sections for p in sec["pieces"]}
    assert {"kept", "dropped"} <= kinds  # facts kept and facts cut
    # the highlights are the spans of the JSON output of the same command, over the sources the page shows
    sources = [Chunk(sec["text"], id=sec["source"]) for sec in sections]
    chunks = [
        Chunk(c["text"], id=c["id"], metadata=c["metadata"], spans=tuple(Span(**sp) for sp in c["spans"]))
        for c in data["chunks"]
    ]
    got = [(p[0], sec["source"], p[1], p[2]) for sec in sections for p in sec["pieces"]]
    assert got == expected_pieces(chunks, sources)
    web.assert_clean()


def test_the_watch_catches_network_and_console_errors(web: Web, tmp_path: Path) -> None:
    """The checks above could fail: a page that reaches out and logs an error is caught."""
    page_file = tmp_path / "bad.html"
    page_file.write_text(
        "<!doctype html><title>bad</title><img src='http://example.invalid/x.png'>"
        "<script>console.error('boom')</script>",
        encoding="utf-8",
    )
    web.goto(page_file)
    assert web.external_requests() == ["http://example.invalid/x.png"]
    assert any("boom" in p for p in web.problems)
    with pytest.raises(AssertionError):
        web.assert_clean()
