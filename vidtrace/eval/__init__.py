"""Evaluation: the metrics of the video copy detection field and a report.

:mod:`vidtrace.eval.metrics` holds the metric functions (VSC2022 segment and
pair micro-AP, VCSL segment precision/recall/F1, retrieval mAP);
:mod:`vidtrace.eval.report` computes them all and backs ``vidtrace eval``.
"""

from vidtrace.eval.metrics import (
    AveragePrecision,
    BestF1,
    VcslScores,
    pair_ap,
    retrieval_ap_per_query,
    retrieval_map,
    segment_ap,
    vcsl_best_f1,
    vcsl_pair_precision_recall,
    vcsl_scores,
)
from vidtrace.eval.report import METRICS, evaluate, format_table

__all__ = [
    "AveragePrecision",
    "BestF1",
    "METRICS",
    "VcslScores",
    "evaluate",
    "format_table",
    "pair_ap",
    "retrieval_ap_per_query",
    "retrieval_map",
    "segment_ap",
    "vcsl_best_f1",
    "vcsl_pair_precision_recall",
    "vcsl_scores",
]
