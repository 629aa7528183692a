"""Packaging metadata that drifts unless a test pins it: the licence file in every distribution."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = [ROOT, ROOT / "integrations" / "langchain", ROOT / "integrations" / "llamaindex", ROOT / "eval"]


def test_apache_license_text_at_the_top() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name or "ctxcompress")
def test_every_distribution_ships_the_license(project: Path) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == "Apache-2.0"
    assert meta["license-files"] == ["LICENSE"]
    # setuptools only takes license files from inside the project folder: each keeps the same copy
    assert (project / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
