"""A headless Chromium for the HTML tests (issue 16 §5), driven by playwright through the browser's path.

The browser is ``CTXCOMPRESS_BROWSER`` if set, else the first of ``/usr/bin/chromium``, ``chromium``,
``chromium-browser``, ``google-chrome`` on PATH (Debian: ``apt-get install chromium``); playwright's own
browser downloads are never used. Without playwright or a browser the tests skip and say which is
missing. :class:`Web` opens pages that may load nothing but local files and ``data:`` URLs (anything else
is aborted and recorded) and records every console error or warning and every uncaught page error.
``CTXCOMPRESS_SCREENSHOT_DIR=folder`` saves the screenshots the tests take there.

Also used by ``eval/tests/test_report_browser.py`` (loaded by path).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
LOCAL = ("file:", "data:", "about:")


def find_browser() -> str | None:
    """The Chromium to drive: ``CTXCOMPRESS_BROWSER`` (must exist) or the first candidate found."""
    env = os.environ.get("CTXCOMPRESS_BROWSER", "").strip()
    if env:
        path = shutil.which(env)
        if path is None:
            pytest.fail(f"CTXCOMPRESS_BROWSER={env!r} is not an executable browser")
        return path
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a playwright ``Browser``), or a skip naming what is missing."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]' installs it)"
    )
    path = find_browser()
    if path is None:
        pytest.skip(
            "no Chromium found: install Debian's (apt-get install chromium) or set CTXCOMPRESS_BROWSER=/path/to/it"
        )
    args = ["--disable-dev-shm-usage", "--disable-gpu"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


class Web:
    """One page in ``browser`` that records problems and refuses the network."""

    def __init__(self, browser: Any, *, width: int = 1100, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("request", lambda req: self.requests.append(req.url))
        self.page.on("requestfailed", self._failed)
        self.context.route("**/*", self._route)

    def _console(self, msg: Any) -> None:
        if msg.type in ("error", "warning", "assert"):
            text = msg.text if len(msg.text) < 400 else msg.text[:200] + " … " + msg.text[-150:]
            self.problems.append(f"console {msg.type}: {text}")

    def _failed(self, req: Any) -> None:
        if req.url.startswith(LOCAL):
            self.problems.append(f"failed to load {req.url}: {req.failure}")

    @staticmethod
    def _route(route: Any) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def goto(self, path: Path) -> Any:
        self.page.goto(Path(path).resolve().as_uri(), wait_until="load")
        return self.page

    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL)]

    def assert_clean(self) -> None:
        """No console error or warning, no page error, nothing requested from the network."""
        assert self.problems == [], self.problems
        assert self.external_requests() == [], self.external_requests()

    def view_sections(self) -> list[dict[str, Any]]:
        """The source sections of a ``to_html()`` page, each checked to be tiled exactly by its pieces:
        ``{"source", "text", "pieces": [[class, start, end, text], ...]}``."""
        sections: list[dict[str, Any]] = self.page.eval_on_selector_all(
            "section.chunk",
            """els => els.map(e => ({source: e.dataset.source, text: e.querySelector('.text').textContent,
               pieces: Array.from(e.querySelectorAll('[data-start]'),
                                  p => [p.className, +p.dataset.start, +p.dataset.end, p.textContent])}))""",
        )
        for sec in sections:
            text, pos = sec["text"], 0
            for cls, start, end, piece in sec["pieces"]:
                assert cls in ("kept", "dropped", "merged", "summarised"), sec
                assert start == pos and piece == text[start:end], sec
                pos = end
            assert pos == len(text), sec
        return sections

    def screenshot(self, name: str, selector: str | None = None, *, full_page: bool = False) -> bytes:
        """A PNG of the page (or of ``selector``), also saved under ``CTXCOMPRESS_SCREENSHOT_DIR`` when set."""
        folder = os.environ.get("CTXCOMPRESS_SCREENSHOT_DIR")
        path = str(Path(folder) / name) if folder else None
        if selector is None:
            png: bytes = self.page.screenshot(path=path, full_page=full_page)
        else:
            png = self.page.locator(selector).first.screenshot(path=path)
        return png

    def close(self) -> None:
        self.context.close()
