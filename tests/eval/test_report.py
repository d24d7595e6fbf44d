"""evaluate(), format_table() and the `vidtrace eval` command glue."""

from __future__ import annotations

import argparse
import json
import math

import pytest

from vidtrace.errors import VidtraceError
from vidtrace.eval import report
from vidtrace.types import MatchRow, write_match_csv

GT = [
    MatchRow("Q1", "R1", 0, 10, 0, 10),
    MatchRow("Q1", "R2", 5, 8, 20, 23),
    MatchRow("Q2", "R1", 1, 4, 30, 33),
]


def scored(rows, score=0.5):
    return [MatchRow(r.query_id, r.ref_id, r.query_start, r.query_end, r.ref_start, r.ref_end, score) for r in rows]


def test_evaluate_returns_every_metric_and_perfect_is_one():
    values = report.evaluate(GT, scored(GT, 0.3))
    assert list(values) == list(report.METRICS)
    assert all(v == 1.0 for k, v in values.items() if k != "vcsl_best_threshold")
    assert values["vcsl_best_threshold"] == 0.3


def test_evaluate_empty_predictions():
    values = report.evaluate(GT, [])
    assert math.isnan(values.pop("vcsl_best_threshold"))
    assert values.pop("vcsl_precision_macro") == 1.0  # VCSL convention for missed pairs
    assert set(values.values()) == {0.0}


def test_evaluate_unscored_predictions_are_tied_hard_decisions():
    pred = [GT[0], MatchRow("Q9", "R9", 0, 1, 0, 1)]
    assert report.evaluate(GT, pred) == report.evaluate(GT, scored(pred, 1.0))


@pytest.mark.parametrize(
    "gt, pred, match",
    [
        ([MatchRow("Q1", "R1", 0, 0, 0, 1)], [], "ground truth row 1: needs query_start < query_end"),
        (GT, [*scored(GT[:1]), GT[1]], "predictions row 2: has no score"),
        (GT, [MatchRow("Q1", "R1", 0, 1, 3, 2, 0.5)], "predictions row 1: needs ref_start <= ref_end"),
    ],
)
def test_evaluate_rejects_bad_rows(gt, pred, match):
    with pytest.raises(report.InvalidRows, match=match):
        report.evaluate(gt, pred)


def test_format_table_is_aligned():
    values = {**report.evaluate(GT, []), "extra": 0.123456}
    lines = report.format_table(values).splitlines()
    assert lines[0].split() == ["metric", "value", "description"]
    assert set(lines[1]) == {"-"}
    body = lines[2:]
    assert [line.split()[0] for line in body] == list(report.METRICS) + ["extra"]
    value_ends = {line.index(line.split()[1]) + len(line.split()[1]) for line in body}
    assert len(value_ends) == 1  # right-aligned value column
    assert "n/a" in next(line for line in body if line.startswith("vcsl_best_threshold"))
    assert body[-1].split() == ["extra", "0.1235"]


@pytest.fixture
def parser():
    p = argparse.ArgumentParser(prog="vidtrace")
    report.add_eval_parser(p.add_subparsers(dest="command"))
    return p


def run(parser, *argv):
    args = parser.parse_args(["eval", *argv])
    assert args.func is report.run_eval
    return args.func(args)


def test_cli_table_and_json(parser, tmp_path, capsys):
    gt, pred = tmp_path / "gt.csv", tmp_path / "pred.csv"
    write_match_csv(GT, gt, with_score=False)
    write_match_csv(scored(GT, 0.7) + [MatchRow("Q3", "R3", 0, 1, 0, 1, 0.9)], pred)
    assert run(parser, "--gt", str(gt), "--pred", str(pred)) == 0
    table = capsys.readouterr().out
    assert table.startswith("metric") and "segment_uap" in table
    assert run(parser, "--gt", str(gt), "--pred", str(pred), "--json") == 0
    values = json.loads(capsys.readouterr().out)
    assert values["retrieval_map"] == 1.0 and values["vcsl_best_threshold"] == 0.7
    assert values["pair_uap"] == pytest.approx(0.75)  # a wrong pair first, then 3 right ones tied: P = 3/4
    write_match_csv([], pred)
    assert run(parser, "--gt", str(gt), "--pred", str(pred), "--json") == 0
    assert json.loads(capsys.readouterr().out)["vcsl_best_threshold"] is None


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "no such file"),
        ("a,b\n1,2\n", "missing columns"),
        ("query_id,ref_id,query_start,query_end,ref_start,ref_end\nQ1,R1,zero,1,0,1\n", "could not convert"),
        ("query_id,ref_id,query_start,query_end,ref_start,ref_end\nQ1,R1,0,1\n", "fewer columns"),
        ("query_id,ref_id,query_start,query_end,ref_start,ref_end\nQ1,R1,2,1,0,1\n", "row 1: needs query_start < query_end"),
        ("query_id,ref_id,query_start,query_end,ref_start,ref_end\n", "no ground-truth rows"),
    ],
)
def test_cli_bad_ground_truth_is_one_line_naming_the_file(parser, tmp_path, content, problem):
    gt, pred = tmp_path / "gt.csv", tmp_path / "pred.csv"
    if content is not None:
        gt.write_text(content)
    write_match_csv(scored(GT), pred)
    with pytest.raises(VidtraceError) as err:
        run(parser, "--gt", str(gt), "--pred", str(pred))
    message = str(err.value)
    assert message.startswith(f"{gt}: ") and problem in message and "\n" not in message
    assert message.count(str(gt)) == 1


def test_cli_bad_prediction_names_the_prediction_file(parser, tmp_path):
    gt, pred = tmp_path / "gt.csv", tmp_path / "pred.csv"
    write_match_csv(GT, gt, with_score=False)
    pred.write_text("query_id,ref_id,query_start,query_end,ref_start,ref_end,score\nQ1,R1,0,1,0,1,0.5\nQ1,R1,0,1,0,1,\n")
    with pytest.raises(VidtraceError, match=f"^{pred}: row 2: has no score$"):
        run(parser, "--gt", str(gt), "--pred", str(pred))
    with pytest.raises(VidtraceError, match="is a directory"):
        run(parser, "--gt", str(gt), "--pred", str(tmp_path))
