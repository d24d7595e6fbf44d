"""Hand-computed cases for every metric of vidtrace.eval.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidtrace.eval import metrics
from vidtrace.types import MatchRow


def m(qs, qe, rs, re, score=None, q="Q1", r="R1") -> MatchRow:
    return MatchRow(q, r, float(qs), float(qe), float(rs), float(re), score)


# --- intervals ---------------------------------------------------------------


def test_merge_intervals_merges_overlapping_and_touching():
    iv = np.array([[2, 3], [0, 2], [2, 4], [6, 7], [6.5, 6.6]])
    np.testing.assert_array_equal(metrics.merge_intervals(iv), [[0, 4], [6, 7]])
    assert metrics.merge_intervals(np.zeros((0, 2))).shape == (0, 2)


def test_union_and_overlap_lengths():
    assert metrics.union_length(np.array([[0, 10], [2, 3], [4, 5]])) == 10
    assert metrics.union_length(np.array([[2, 3], [0, 1.5], [2.5, 4]])) == 3.5
    a = np.array([[2, 5], [7, 8]])
    assert metrics.overlap_length(a, np.array([[1, 3], [4, 7]])) == 2  # [2,3] + [4,5]
    assert metrics.overlap_length(a, np.array([[-1, 0], [3.5, 12]])) == 2.5  # [3.5,5] + [7,8]
    assert metrics.overlap_length(a, np.array([[5, 7]])) == 0  # touching only
    assert metrics.overlap_length(a, np.zeros((0, 2))) == 0


# --- VSC2022 segment uAP ---------------------------------------------------------


GT1 = [m(4, 14, 10, 18)]


def test_segment_ap_perfect_and_split():
    assert metrics.segment_ap(GT1, [m(4, 14, 10, 18, 1.0)]).ap == 1.0
    assert metrics.segment_ap(GT1, [m(4, 8, 10, 14, 1.0), m(8, 14, 14, 18, 2.0)]).ap == 1.0


def test_segment_ap_imperfect_by_hand():
    # step 1 (score 2): I=(6,2) T=(6,2) L=(10,8): P=1, R=sqrt(.6*.25)
    # step 2 (score 1): I=(10,6) T=(10,6):       P=1, R=sqrt(.75)
    # step 3 (score 0): I=(10,8) T=(30,20):      P=sqrt(10/30*8/20), R=1
    pred = [m(4, 8, 10, 14, 1.0), m(8, 14, 16, 18, 2.0), m(0, 30, 5, 25, 0.0)]
    expected = math.sqrt(0.75) + math.sqrt(2 / 15) * (1 - math.sqrt(0.75))
    result = metrics.segment_ap(GT1, pred)
    assert result.ap == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(result.recall, [math.sqrt(0.15), math.sqrt(0.75), 1.0])
    np.testing.assert_allclose(result.precision, [1.0, 1.0, math.sqrt(2 / 15)])
    np.testing.assert_array_equal(result.thresholds, [2.0, 1.0, 0.0])


def test_segment_ap_poorly_calibrated():
    pred = [m(4, 8, 10, 14, 1.0), m(8, 14, 16, 18, 2.0), m(0, 30, 5, 25, 3.0)]
    assert metrics.segment_ap(GT1, pred).ap == pytest.approx(math.sqrt(2 / 15))


def test_segment_ap_needs_2d_overlap():
    # VCSL paper fig. 4(f): each prediction overlaps a gt box on each axis
    # separately, but no gt box in 2-D.
    gt = [m(4, 14, 10, 18), m(20, 28, 21, 29)]
    assert metrics.segment_ap(gt, [m(4, 14, 21, 29, 1.0), m(20, 28, 10, 18, 1.0)]).ap == 0.0


def test_segment_ap_only_hit_gt_boxes_count():
    # pred overlaps gt A in 2-D; gt B only on the q axis. I=(10,10) T=(25,10) L=(20,20)
    gt = [m(0, 10, 0, 10), m(20, 30, 20, 30)]
    assert metrics.segment_ap(gt, [m(0, 25, 0, 10, 1.0)]).ap == pytest.approx(0.5 * math.sqrt(0.4))


def test_segment_ap_wrong_pairs_first():
    pred = [m(4, 14, 10, 18, 3.0, q="Q2"), m(4, 14, 10, 18, 2.0, r="R9"), m(4, 14, 10, 18, 1.0)]
    assert metrics.segment_ap(GT1, pred).ap == pytest.approx(1 / 3)


@pytest.mark.parametrize("first_correct", [True, False])
def test_segment_ap_ties_form_one_step(first_correct):
    gt = [m(0, 10, 0, 10)]
    right, wrong = m(0, 10, 0, 10, 1.0), m(0, 10, 0, 10, 1.0, q="Q2")
    pred = [right, wrong] if first_correct else [wrong, right]
    result = metrics.segment_ap(gt, pred)
    assert result.ap == 0.5  # one step: P = 1/2, R = 1
    assert len(result.recall) == 1


def test_segment_ap_empty_and_disjoint():
    assert metrics.segment_ap(GT1, []).ap == 0.0
    assert metrics.segment_ap([], [m(0, 1, 0, 1, 1.0)]).ap == 0.0
    assert metrics.segment_ap(GT1, [m(4, 14, 10, 18, 1.0, q="Q2", r="R2")]).ap == 0.0


def test_segment_ap_rejects_bad_predictions():
    with pytest.raises(ValueError, match="row 1: has no score"):
        metrics.segment_ap(GT1, [m(0, 1, 0, 1)])
    with pytest.raises(ValueError, match="row 2: needs query_start <= query_end"):
        metrics.segment_ap(GT1, [m(0, 1, 0, 1, 1.0), m(5, 1, 0, 1, 1.0)])
    with pytest.raises(ValueError, match="finite"):
        metrics.segment_ap(GT1, [m(0, 1, 0, 1, math.nan)])


# --- VSC2022 pair uAP ------------------------------------------------------------


def test_pair_ap_by_hand():
    gt = [m(0, 1, 0, 1, r=r) for r in ("A", "C", "D")]
    pred = [m(0, 1, 0, 1, 0.9, r="A"), m(0, 1, 0, 1, 0.8, r="B"), m(0, 1, 0, 1, 0.7, r="C")]
    result = metrics.pair_ap(gt, pred)
    assert result.ap == pytest.approx((1 + 2 / 3) / 3)  # D never predicted
    np.testing.assert_allclose(result.precision, [1, 2 / 3])
    np.testing.assert_allclose(result.recall, [1 / 3, 2 / 3])


def test_pair_ap_uses_best_row_per_pair_and_accepts_mappings():
    gt = [m(0, 1, 0, 1, r="A")]
    pred = [m(0, 1, 0, 1, 0.1, r="A"), m(5, 6, 5, 6, 0.9, r="A"), m(0, 1, 0, 1, 0.5, r="B")]
    assert metrics.pair_ap(gt, pred).ap == 1.0
    assert metrics.pair_ap([("Q1", "A")], {("Q1", "A"): 0.1, ("Q1", "B"): 0.5}).ap == 0.5


def test_pair_ap_ties_and_empty():
    gt = [m(0, 1, 0, 1, r="A")]
    assert metrics.pair_ap(gt, [m(0, 1, 0, 1, 0.5, r="B"), m(0, 1, 0, 1, 0.5, r="A")]).ap == 0.5
    assert metrics.pair_ap(gt, []).ap == 0.0
    assert metrics.pair_ap([], [m(0, 1, 0, 1, 0.5)]).ap == 0.0


# --- retrieval mAP ---------------------------------------------------------------


def test_retrieval_map_by_hand():
    gt = [m(0, 1, 0, 1, r="R1"), m(0, 1, 0, 1, r="R2"), m(0, 1, 0, 1, q="Q2", r="R1")]
    pred = [
        m(0, 1, 0, 1, 0.9, r="R3"),
        m(0, 1, 0, 1, 0.8, r="R1"),
        m(0, 1, 0, 1, 0.1, r="R2"),
        m(0, 1, 0, 1, 0.9, q="Q9", r="R1"),  # query without ground truth: ignored
    ]
    per_query = metrics.retrieval_ap_per_query(gt, pred)
    assert per_query == pytest.approx({"Q1": (1 / 2 + 2 / 3) / 2, "Q2": 0.0})
    assert metrics.retrieval_map(gt, pred) == pytest.approx((1 / 2 + 2 / 3) / 4)
    assert metrics.retrieval_map([], pred) == 0.0


# --- VCSL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        ([[0, 10, 0, 10]], [[5, 15, 5, 15]], (0.25, 0.25)),  # [5,10] of 10 on each axis
        ([[0, 10, 0, 10], [0, 10, 0, 10]], [[0, 10, 0, 10]], (1.0, 1.0)),  # duplicates count twice, both covered
        ([[0, 5, 0, 5], [5, 10, 5, 10]], [[0, 10, 0, 10]], (1.0, 1.0)),  # per axis, the halves cover the box
        ([[0, 20, 0, 20]], [[0, 5, 0, 5], [10, 15, 10, 15]], (0.25, 1.0)),
        ([[0, 10, 20, 30]], [[0, 10, 0, 10]], (0.0, 0.0)),  # no 2-D overlap
        ([], [[0, 1, 0, 1]], (1.0, 0.0)),
        ([[0, 1, 0, 1]], [], (0.0, 1.0)),
        ([], [], (1.0, 1.0)),
    ],
)
def test_vcsl_pair_precision_recall(pred, gt, expected):
    assert metrics.vcsl_pair_precision_recall(np.array(pred), np.array(gt)) == pytest.approx(expected)


def test_vcsl_pair_eps_matches_reference_denominator():
    p, r = metrics.vcsl_pair_precision_recall(np.array([[0, 10, 0, 10]]), np.array([[0, 10, 0, 10]]), eps=1e-6)
    assert p == pytest.approx((10 / (10 + 1e-6)) ** 2, abs=1e-15) and p < 1.0


VCSL_GT = [m(0, 10, 0, 10, r="R1"), m(0, 10, 0, 10, r="R2"), m(0, 10, 0, 10, q="Q2", r="R1")]
VCSL_PRED = [
    m(0, 10, 0, 10, 0.9, r="R1"),  # P = 1,  R = 1
    m(5, 15, 0, 10, 0.5, r="R2"),  # P = .5, R = .5
    m(0, 10, 0, 10, 0.7, q="Q3", r="R3"),  # false alarm: P = 0 (R = 1, not averaged)
]  # (Q2, R1) missed: R = 0 (P = 1, not in the micro mean)


def test_vcsl_scores_by_hand():
    s = metrics.vcsl_scores(VCSL_GT, VCSL_PRED)
    assert (s.precision_micro, s.recall_micro, s.f1_micro) == pytest.approx((0.5, 0.5, 0.5))
    # macro over gt queries: Q1 -> (.75, .75), Q2 -> (1, 0)
    assert (s.precision_macro, s.recall_macro) == pytest.approx((0.875, 0.375))
    assert s.f1_macro == pytest.approx(2 * 0.875 * 0.375 / 1.25)


def test_vcsl_best_f1_by_hand():
    # t=.9: P=1, R=1/3, F=.5; t=.7: P=.5, R=1/3, F=.4; t=.5: P=R=.5, F=.5 -> highest t wins
    best = metrics.vcsl_best_f1(VCSL_GT, VCSL_PRED)
    assert best.f1 == pytest.approx(0.5) and best.threshold == 0.9
    assert (best.precision, best.recall) == pytest.approx((1.0, 1 / 3))


def test_vcsl_best_f1_drops_low_scored_noise():
    gt = [m(0, 10, 0, 10)]
    pred = [m(0, 10, 0, 10, 0.9), m(20, 30, 20, 30, 0.1)]
    assert metrics.vcsl_scores(gt, pred).f1_micro == pytest.approx(2 * 0.25 * 1 / 1.25)  # P_pair=(10/20)^2
    assert metrics.vcsl_best_f1(gt, pred) == (1.0, 0.9, 1.0, 1.0)


def test_vcsl_empty():
    s = metrics.vcsl_scores(VCSL_GT, [])
    assert (s.precision_micro, s.recall_micro, s.f1_micro, s.recall_macro, s.f1_macro) == (0, 0, 0, 0, 0)
    assert s.precision_macro == 1.0  # VCSL: a missed positive pair counts P = 1
    best = metrics.vcsl_best_f1(VCSL_GT, [])
    assert best.f1 == 0.0 and math.isnan(best.threshold)
    assert metrics.vcsl_scores([], []) == (0, 0, 0, 0, 0, 0)
