"""The command line explains itself: --version, described subcommands with the input format and an
example, and one counter option (``--counter``, with ``--model`` as an alias)."""

from __future__ import annotations

import io

import pytest

import ctxcompress
from ctxcompress._cli import build_parser, main

pytestmark = pytest.mark.unit


def _call(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse
        rc = int(exc.code or 0)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _call(capsys, ["--version"])
    assert rc == 0 and out.strip() == f"ctxcompress {ctxcompress.__version__}"


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        ("compress", ['{"id": "p1", "text":', "--input-format text", "example:", "ctxcompress compress --query"]),
        ("kg", ["edge list", "provenance", "example:", "ctxcompress kg --graph"]),
    ],
)
def test_subcommand_help_has_description_format_and_example(
    command: str, needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = _call(capsys, [command, "--help"])
    assert rc == 0
    for needle in needles:
        assert needle in out, (needle, out)
    assert "%%" not in out


def test_every_option_has_help() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    for name in ("demo", "compress", "index", "batch", "tune", "kg"):
        for action in subparsers.choices[name]._actions:
            assert action.help, (name, action.option_strings or action.dest)


def test_model_is_an_alias_of_counter(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"text": "a b c"}\n'))
    rc, _, err = _call(capsys, ["compress", "--query", "q", "--model", "gpt-4o", "--counter", "cl100k_base"])
    assert rc == 2 and err.count("\n") == 1 and "--model is an alias" in err
    monkeypatch.setattr("sys.stdin", io.StringIO('{"text": "a b c"}\n'))
    rc, out, _ = _call(capsys, ["compress", "--query", "q", "--model", "approx", "--format", "markdown"])
    assert rc == 0 and "approx" in out
