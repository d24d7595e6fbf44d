"""The bench command line: parser wiring and one-line errors."""

from __future__ import annotations

import argparse

import pytest

from vidtrace.bench.cli import add_bench_parser, cmd_make, cmd_run
from vidtrace.cli import main


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vidtrace")
    add_bench_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_parser_wires_make_and_run():
    args = parse(["bench", "make", "--from", "v", "--out", "o", "--seed", "3", "--copy-seconds", "1:4",
                  "--long-side", "320:640", "--fps", "25,30", "--refs", "list"])
    assert args.func is cmd_make and args.seed == 3 and args.source == "v"
    assert args.copy_seconds == (1.0, 4.0) and args.long_side == (320, 640) and args.fps == (25.0, 30.0)
    args = parse(["bench", "run", "--bench", "b", "--config", "a={}", "--config", "b={\"k\": 8}",
                  "--aligner", "tn,hv"])
    assert args.func is cmd_run and args.config == ["a={}", 'b={"k": 8}'] and args.aligner == "tn,hv"


def test_make_needs_a_seed(capsys):
    with pytest.raises(SystemExit):
        parse(["bench", "make", "--from", "v", "--out", "o"])
    assert "--seed" in capsys.readouterr().err


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["bench", "run", "--bench", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vidtrace: error: --bench") and "\n" not in err
    assert main(["bench", "make", "--from", str(tmp_path / "none"), "--out", str(tmp_path / "o"), "--seed", "1"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["bench", "run", "--bench", str(tmp_path), "--config", "x={\"bogus\": 1}"]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err
