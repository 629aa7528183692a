"""The HTML view in a real headless browser (issue 16 §5): it renders and the highlights match the spans.

Runs only where a Chromium and playwright are available: set ``CTXCOMPRESS_BROWSER`` to the browser's
path (or have ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH) and install playwright;
otherwise the test is skipped with the reason."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ctxcompress import Chunk, Pipeline, RedundancyFusion, RelevanceFilter
from ctxcompress.testing import FakeEmbedder, WhitespaceCounter

pytestmark = pytest.mark.unit


def _browser() -> str:
    path = os.environ.get("CTXCOMPRESS_BROWSER") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
    )
    if not path:
        pytest.skip("no headless browser: set CTXCOMPRESS_BROWSER=/path/to/chromium (Debian: apt install chromium)")
    return path


def test_page_renders_and_highlights_match_spans(tmp_path: Path) -> None:
    browser = _browser()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    emb = FakeEmbedder()
    pipe = Pipeline(
        [("fuse", RedundancyFusion(embedder=emb, similarity_threshold=0.8)), ("f", RelevanceFilter(embedder=emb))]
    )
    sources = [
        Chunk("Paris is the capital of France. Cats <sleep> & dream.", id="a"),
        Chunk("Paris is the capital of France. Berlin is in Germany.", id="b"),
    ]
    res = pipe.compress(sources, query="capital of France", budget=0.6, counter=WhitespaceCounter())
    page_file = tmp_path / "cut.html"
    page_file.write_text(res.to_html(), encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=browser, headless=True)
        page = b.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: errors.append(r.url))
        page.goto(page_file.as_uri())
        marks = page.eval_on_selector_all(
            "mark.kept", "els => els.map(e => [e.dataset.source, +e.dataset.start, +e.dataset.end, e.textContent])"
        )
        b.close()
    assert not errors
    by_id = {s.id: s.text for s in sources}
    assert marks and all(by_id[s][start:end] == text for s, start, end, text in marks)
