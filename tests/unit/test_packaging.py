"""Packaging metadata that drifts unless a test pins it: the licence file in every distribution, one
version, a tag-ready changelog."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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


# ------------------------------------------------------------------------- one version, tag-ready changelog
SEMVER = r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?"


def _pyproject(project: Path) -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data: dict[str, Any] = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return data


def test_version_is_written_once_for_ctxcompress() -> None:
    import ctxcompress
    from ctxcompress._version import __version__

    assert re.fullmatch(SEMVER, __version__)
    assert ctxcompress.__version__ == __version__
    root = _pyproject(ROOT)
    assert "version" not in root["project"] and "version" in root["project"]["dynamic"]
    assert root["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ctxcompress._version.__version__"}
    # no other literal version in the packages: they read it from _version.py or their distribution
    literal = re.compile(r"""^__version__\s*=\s*["']""", re.MULTILINE)
    folders = [ROOT / "ctxcompress", ROOT / "eval" / "ctxcompress_eval", ROOT / "integrations"]
    written = sorted(
        str(path.relative_to(ROOT))
        for folder in folders
        for path in folder.rglob("*.py")
        if literal.search(path.read_text(encoding="utf-8"))
    )
    assert written == ["ctxcompress/_version.py"]


def test_the_distributions_are_released_together() -> None:
    from ctxcompress import __version__

    for project in PROJECTS[1:]:
        meta = _pyproject(project)["project"]
        assert meta["version"] == __version__, project
        pins = [d for d in meta["dependencies"] if re.match(r"ctxcompress(\[|>|=|$)", d)]
        assert pins, project
        for pin in pins:
            floor = re.search(r">=\s*(" + SEMVER + ")", pin)
            assert floor is None or _key(floor.group(1)) <= _key(__version__), (project, pin)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def test_changelog_is_tag_ready() -> None:
    from ctxcompress import __version__

    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert releases[0] == "[Unreleased]"
    versions = []
    for header in releases[1:]:
        match = re.fullmatch(r"\[(" + SEMVER + r")\] - \d{4}-\d{2}-\d{2}", header)
        assert match, f"release header {header!r}: use '## [X.Y.Z] - YYYY-MM-DD'"
        versions.append(match.group(1))
    assert versions == sorted(versions, key=_key, reverse=True), "newest release first"
    if versions:  # the newest released version is the current one or older
        assert _key(versions[0]) <= _key(__version__)
    for label in ["Unreleased", *versions]:
        assert re.search(r"^\[" + re.escape(label) + r"\]: https://", text, flags=re.MULTILINE), label
    allowed = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        subsections = re.findall(r"^### (.+)$", section, flags=re.MULTILINE)
        assert set(subsections) <= allowed, subsections
        assert len(subsections) == len(set(subsections)), f"a subsection repeated in {section[:30]!r}"
