"""``ctxcompress-eval``: bad flags and inputs are one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxcompress_eval._cli import build_parser, main


def _call(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse
        rc = int(exc.code or 0)
    return rc, capsys.readouterr().err


def _one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("ctxcompress-eval"), err
    for needle in needles:
        assert needle in err, (needle, err)


def _run(data_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--dataset", "hotpotqa", "--data-dir", str(data_dir), "--out", str(tmp_path / "out"),
            "--embedder", "fake", "--limit", "1", "--no-progress", *extra]  # fmt: skip


def test_cli_unknown_method(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _call(capsys, _run(data_dir, tmp_path, "--methods", "random,no-such-method"))
    _one_line_error(rc, err, "unknown method 'no-such-method'")
    assert not (tmp_path / "out").exists()


def test_cli_missing_config_file(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _call(capsys, _run(data_dir, tmp_path, "--methods", "none", "--config", str(tmp_path / "nope.yaml")))
    _one_line_error(rc, err, "nope.yaml")


def test_cli_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _call(capsys, _run(tmp_path / "no-data", tmp_path, "--methods", "none"))
    _one_line_error(rc, err, "data folder", "no-data")


def test_cli_missing_dataset_file_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _run(tmp_path, tmp_path, "--methods", "none")
    args[args.index("hotpotqa")] = str(tmp_path / "mine.jsonl")
    rc, err = _call(capsys, args)
    _one_line_error(rc, err, "mine.jsonl")
    rc, err = _call(capsys, ["report", str(tmp_path / "no-run")])
    _one_line_error(rc, err, "no-run")


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--budgets", "1.5", "invalid budget '1.5'"),
        ("--budgets", "300", "not token counts"),
        ("--budgets", "0.5,nan", "invalid budget 'nan'"),
        ("--budgets", ",", "no budgets"),
        ("--limit", "x", "--limit"),
        ("--limit", "0", "--limit"),
        ("--workers", "-2", "--workers"),
        ("--retrieval-k", "10,ten", "--retrieval-k"),
        ("--engine", "spark", "--engine"),
    ],
)
def test_cli_bad_flags(
    flag: str, value: str, needle: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, err = _call(capsys, _run(data_dir, tmp_path, flag, value))
    _one_line_error(rc, err, needle)


def test_cli_unknown_command_and_missing_flag(capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _call(capsys, ["frobnicate"])
    _one_line_error(rc, err)
    rc, err = _call(capsys, ["run", "--dataset", "hotpotqa"])
    _one_line_error(rc, err, "--out")


def test_cli_budgets_follow_the_ctxcompress_rule(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run", "--dataset", "x", "--out", str(tmp_path), "--budgets", "25%,1e-1,1.0"])
    assert args.budgets == pytest.approx([0.25, 0.1, 1.0])
    assert build_parser().parse_args(["run", "--dataset", "x", "--out", str(tmp_path)]).budgets == [0.5, 0.25]


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    import ctxcompress

    import ctxcompress_eval

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"ctxcompress-eval {ctxcompress_eval.__version__} (ctxcompress {ctxcompress.__version__})"


def test_cli_every_run_flag_has_help() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a.choices, dict))
    for name in ("run", "report"):
        for action in subparsers.choices[name]._actions:
            assert action.help, (name, action.option_strings or action.dest)


def test_cli_data_folder_from_flag_env_or_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctxcompress_eval._cli import DATA_ENV, resolve_data_dir

    monkeypatch.chdir(tmp_path)  # no ../shared/data from here
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert resolve_data_dir(None) is None
    rc, err = _call(capsys, ["run", "--dataset", "hotpotqa", "--out", str(tmp_path / "out"), "--methods", "none"])
    _one_line_error(rc, err, "no data folder", "--data-dir", DATA_ENV)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env-data"))
    assert resolve_data_dir(None) == str(tmp_path / "env-data")
    assert resolve_data_dir("flag") == "flag"  # the flag wins
    rc, err = _call(capsys, ["run", "--dataset", "hotpotqa", "--out", str(tmp_path / "out"), "--methods", "none"])
    _one_line_error(rc, err, "env-data", "does not exist")
    monkeypatch.delenv(DATA_ENV)
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shared")  # a checkout next to shared/data
    assert resolve_data_dir(None) == "../shared/data"
