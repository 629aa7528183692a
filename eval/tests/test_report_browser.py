"""The eval report in a real headless Chromium (issue 16 §5): a tiny run on the fixture data (three questions,
the fake embedder, the plot on, two example pages per method and budget) writes a report.html that renders
without a console error or warning, loads nothing from the network, shows its plot image (decoded, drawn),
and links per-question example pages that open and render, their highlights tiling each source.

Needs playwright and a Chromium; the helper (``tests/integration/_browser.py`` at the repository root)
finds them and skips without them."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import pytest

from ctxcompress_eval import RunConfig, run

pytestmark = pytest.mark.integration

_HELPER = Path(__file__).resolve().parents[2] / "tests" / "integration" / "_browser.py"


def _browser_helper() -> ModuleType:
    if not _HELPER.is_file():
        pytest.skip(f"the browser helper {_HELPER} is not here (run from the repository)")
    spec = importlib.util.spec_from_file_location("_ctxcompress_browser", _HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def web() -> Iterator[Any]:
    helper = _browser_helper()
    with helper.chromium() as browser:
        w = helper.Web(browser)
        yield w
        w.close()


@pytest.fixture(scope="module")
def report(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    cfg = RunConfig(
        datasets=["hotpotqa"],
        methods=["ctxcompress", "none", "random"],
        budgets=[0.5, 0.25],
        out=out,
        data_dir=str(data_dir),
        limit=3,
        embedder="fake",
        progress=False,
        html_examples=2,
    )
    run(cfg, log=lambda s: None)
    return out


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return Path(__file__).resolve().parent / "fixtures" / "data"


def test_report_renders_with_its_plot(web: Any, report: Path) -> None:
    page = web.goto(report / "report.html")
    assert page.inner_text("h1") == "ctxcompress-eval report"
    # the headline, then the plot, then the table
    order = page.eval_on_selector_all(
        ".headline, img.plot, table", "els => els.map(e => e.tagName + '.' + e.className)"
    )
    assert order[:3] == ["P.headline", "IMG.plot", "TABLE."], order
    imgs = page.eval_on_selector_all(
        "img",
        """els => els.map(e => ({ok: e.complete, w: e.naturalWidth, h: e.naturalHeight,
           shown: e.getBoundingClientRect().width, alt: e.alt, src: e.src.slice(0, 22)}))""",
    )
    assert imgs == [
        {
            "ok": True,
            "w": imgs[0]["w"],
            "h": imgs[0]["h"],
            "shown": imgs[0]["shown"],
            "alt": "hotpotqa: quality vs kept fraction",
            "src": "data:image/png;base64,",
        }
    ]
    assert imgs[0]["w"] > 300 and imgs[0]["h"] > 200 and imgs[0]["shown"] > 300
    # the image is the plot file the run wrote, decoded at its own size
    png = (report / "plot_hotpotqa.png").read_bytes()
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (imgs[0]["w"], imgs[0]["h"])
    rows = page.eval_on_selector_all("table tr", "rows => rows.slice(1).map(r => r.cells[0].textContent)")
    assert {r.rstrip(" ★") for r in rows} == {"ctxcompress", "none", "random"}
    web.screenshot("h16b_eval_plot.png", "img.plot")
    web.screenshot("h16b_eval_report.png", full_page=True)
    web.assert_clean()


def test_example_links_open_pages_that_render(web: Any, report: Path) -> None:
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    examples = results["examples"]
    assert len(examples) == 4  # ctxcompress x 2 budgets x 2 questions
    report_url = (report / "report.html").resolve().as_uri()
    page = web.goto(report / "report.html")
    links = page.eval_on_selector_all("p.examples a", "els => els.map(e => e.getAttribute('href'))")
    assert links == [e["path"] for e in examples]
    for i, entry in enumerate(examples):
        page.locator("p.examples a").nth(i).click()
        page.wait_for_load_state("load")
        assert unquote(page.url) == unquote((report / entry["path"]).resolve().as_uri())
        assert page.text_content(".query") == f"Query: {entry['question']}"
        assert entry["id"] in page.title() and f"{entry['budget']:.0%}" in page.title()
        sections = web.view_sections()  # each source tiled exactly by its pieces
        assert len(sections) >= 2
        kept = sum(p[0] == "kept" for sec in sections for p in sec["pieces"])
        assert kept >= 1
        page.go_back()
        assert unquote(page.url) == unquote(report_url)
    web.assert_clean()
