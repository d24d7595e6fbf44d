"""All evaluation metrics at once, as a table, and the ``vidtrace eval`` command.

    vidtrace eval --gt GT.csv --pred PRED.csv [--json]

Both files use the VSC2022 matching CSV format (see
:func:`vidtrace.types.read_match_csv`); the ground truth needs no score
column.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from typing import Sequence

from vidtrace.errors import VidtraceError
from vidtrace.eval import metrics
from vidtrace.types import MatchRow, read_match_csv

# key -> description, in report order.
METRICS: dict[str, str] = {
    "segment_uap": "VSC2022 matching track: segment-level micro-AP",
    "pair_uap": "VSC2022 descriptor track: pair-level micro-AP",
    "vcsl_precision_micro": "VCSL segment precision, micro (over pairs)",
    "vcsl_recall_micro": "VCSL segment recall, micro (over pairs)",
    "vcsl_f1_micro": "VCSL segment F1, micro",
    "vcsl_precision_macro": "VCSL segment precision, macro (over queries)",
    "vcsl_recall_macro": "VCSL segment recall, macro (over queries)",
    "vcsl_f1_macro": "VCSL segment F1, macro",
    "vcsl_best_f1": "VCSL micro F1 at the best score threshold",
    "vcsl_best_threshold": "score threshold of vcsl_best_f1 (keep score >= it)",
    "retrieval_map": "retrieval mAP over ground-truth queries",
}


def _hard_decisions(pred: Sequence[MatchRow]) -> list[MatchRow]:
    """Predictions with no score at all are hard decisions: all tied at 1.0."""
    if pred and all(r.score is None for r in pred):
        return [MatchRow(r.query_id, r.ref_id, r.query_start, r.query_end, r.ref_start, r.ref_end, 1.0) for r in pred]
    return list(pred)


class InvalidRows(ValueError):
    """A bad row in the ground truth (which="gt") or predictions (which="pred")."""

    def __init__(self, which: str, detail: str) -> None:
        self.which, self.detail = which, detail
        super().__init__(f"{'ground truth' if which == 'gt' else 'predictions'} {detail}")


def check_rows(gt: Sequence[MatchRow], pred: Sequence[MatchRow]) -> None:
    """Raise InvalidRows for the first bad row: ground-truth boxes need
    finite times and positive length on both axes; predictions need finite
    times, start <= end, and a finite score (or no score on any row)."""
    for which, rows, kwargs in (("gt", gt, {"scored": False, "positive_length": True}),
                                ("pred", _hard_decisions(pred), {"scored": True})):
        try:
            metrics.validate_rows(rows, **kwargs)
        except ValueError as exc:
            raise InvalidRows(which, str(exc)) from None


def evaluate(gt: list[MatchRow], pred: list[MatchRow]) -> dict[str, float]:
    """Every metric of :data:`METRICS`, keyed as there.

    gt: ground-truth rows (scores ignored; every box must have positive
    length on both axes). pred: scored prediction rows; a prediction list in
    which no row has a score is taken as hard decisions, all tied. Raises
    InvalidRows (a ValueError) naming the bad row ("ground truth row 3: ...").
    Predicting the ground truth itself, with any scores, gives 1.0 for
    every metric.
    """
    check_rows(gt, pred)
    pred = _hard_decisions(pred)
    vcsl = metrics.vcsl_scores(gt, pred)
    best = metrics.vcsl_best_f1(gt, pred)
    return {
        "segment_uap": metrics.segment_ap(gt, pred).ap,
        "pair_uap": metrics.pair_ap(gt, pred).ap,
        "vcsl_precision_micro": vcsl.precision_micro,
        "vcsl_recall_micro": vcsl.recall_micro,
        "vcsl_f1_micro": vcsl.f1_micro,
        "vcsl_precision_macro": vcsl.precision_macro,
        "vcsl_recall_macro": vcsl.recall_macro,
        "vcsl_f1_macro": vcsl.f1_macro,
        "vcsl_best_f1": best.f1,
        "vcsl_best_threshold": best.threshold,
        "retrieval_map": metrics.retrieval_map(gt, pred),
    }


def format_table(values: dict[str, float]) -> str:
    """Plain-text table: metric name, value (4 decimals, "n/a" for NaN) and
    description, columns aligned; keys of :data:`METRICS` first, in order."""
    keys = [k for k in METRICS if k in values] + [k for k in values if k not in METRICS]
    cells = [("metric", "value", "description")]
    for k in keys:
        v = values[k]
        shown = "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"
        cells.append((k, shown, METRICS.get(k, "")))
    w_key = max(len(c[0]) for c in cells)
    w_val = max(len(c[1]) for c in cells)
    lines = [f"{k:<{w_key}}  {v:>{w_val}}  {d}".rstrip() for k, v, d in cells]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines) + "\n"


def add_eval_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``eval`` sub-command to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "eval",
        help="score predictions against ground truth (VSC2022, VCSL, retrieval metrics)",
        description="Score a VSC2022-format prediction CSV against a ground-truth CSV.",
    )
    parser.add_argument("--gt", required=True, metavar="GT.csv",
                        help="ground truth (VSC2022 matching CSV, no score needed)")
    parser.add_argument("--pred", required=True, metavar="PRED.csv",
                        help="predictions (VSC2022 matching CSV; without a score column all rows tie)")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    parser.set_defaults(func=run_eval)
    return parser


def _read(path: str) -> list[MatchRow]:
    """read_match_csv with every failure as one VidtraceError line naming the file."""
    try:
        return read_match_csv(path)
    except FileNotFoundError:
        problem = "no such file"
    except IsADirectoryError:
        problem = "is a directory, not a CSV file"
    except PermissionError:
        problem = "permission denied"
    except UnicodeDecodeError:
        problem = "not a text file"
    except (ValueError, TypeError, KeyError, csv.Error) as exc:
        message = str(exc)
        if message.startswith(f"{path}: "):
            message = message[len(path) + 2:]
        if isinstance(exc, TypeError):  # a short row leaves None in a column
            message = "a row has fewer columns than the header"
        problem = message
    except OSError as exc:
        problem = exc.strerror or str(exc)
    raise VidtraceError(f"{path}: {problem}")


def run_eval(args: argparse.Namespace) -> int:
    """Run ``vidtrace eval``: print the table (or JSON) and return 0.

    Raises VidtraceError with one line naming the file and the problem when
    a file is missing, unreadable, malformed, or the ground truth is empty.
    """
    gt, pred = _read(args.gt), _read(args.pred)
    if not gt:
        raise VidtraceError(f"{args.gt}: no ground-truth rows")
    try:
        values = evaluate(gt, pred)
    except InvalidRows as exc:
        raise VidtraceError(f"{args.gt if exc.which == 'gt' else args.pred}: {exc.detail}") from None
    if args.json:
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in values.items()}, indent=2))
    else:
        print(format_table(values), end="")
    return 0
