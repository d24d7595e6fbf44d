r"""Evaluation metrics of the video copy detection field, computed exactly.

Inputs are lists of :class:`vidtrace.types.MatchRow` (times in seconds).
A row is a box in the (query time x reference time) plane of one
``(query_id, ref_id)`` pair::

    q-axis interval [query_start, query_end],  r-axis interval [ref_start, ref_end]

Ground-truth rows need no score; prediction rows must carry one (higher =
more confident). Notation used in the docstrings:

* ``|S|`` -- total length of the union of a set of intervals ``S``;
* ``G_p`` / ``D_p`` -- ground-truth / predicted boxes of pair ``p``;
* ``b^q``, ``b^r`` -- the q-axis and r-axis intervals of a box ``b``;
* ``b ⊓ g`` -- the 2-D intersection of two boxes; they *overlap* when its
  area is strictly positive.

Metrics (each agrees to 1e-6 with the reference implementation named, see
``tests/eval/test_crosscheck.py``):

* :func:`segment_ap` -- VSC2022 matching track, segment-level micro-AP
  (facebookresearch/vsc2022 ``vsc.metrics.match_metric``).
* :func:`pair_ap` -- VSC2022 descriptor track / pairwise micro-AP
  (``vsc.metrics.average_precision``, DrivenData's canonical AP).
* :func:`vcsl_pair_precision_recall`, :func:`vcsl_scores`,
  :func:`vcsl_best_f1` -- VCSL segment precision/recall
  (alipay/VCSL ``vcsl.metric``).
* :func:`retrieval_ap_per_query`, :func:`retrieval_map` -- per-query
  retrieval mAP in the CC_WEB_VIDEO / FIVR style.

Degenerate inputs never raise ZeroDivisionError: a ratio whose denominator
is zero counts as 0 unless a docstring says otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from vidtrace.types import MatchRow

Pair = tuple[str, str]
"""A ``(query_id, ref_id)`` key."""


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class AveragePrecision:
    """An average precision and the precision/recall curve it integrates.

    ap: the metric. precision, recall, thresholds: float64 [K], one point per
    score threshold at which recall increased (thresholds descending).
    """

    ap: float
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


class VcslScores(NamedTuple):
    """VCSL segment-level precision/recall/F1, micro and macro averaged."""

    precision_micro: float
    recall_micro: float
    f1_micro: float
    precision_macro: float
    recall_macro: float
    f1_macro: float


class BestF1(NamedTuple):
    """Best VCSL micro F1 over score thresholds (predictions with score >=
    threshold are kept). threshold is NaN when there is no prediction."""

    f1: float
    threshold: float
    precision: float
    recall: float


# ---------------------------------------------------------------------------
# Input checks and conversion

_TIME_FIELDS = ("query_start", "query_end", "ref_start", "ref_end")


def validate_rows(rows: Sequence[MatchRow], *, scored: bool, positive_length: bool = False) -> None:
    """Raise ValueError naming the first bad row (1-based data row number).

    Every time must be finite with ``start <= end`` on both axes (``start <
    end`` when ``positive_length``); with ``scored`` every score must be a
    finite number.
    """
    for i, r in enumerate(rows, start=1):
        times = [getattr(r, f) for f in _TIME_FIELDS]
        if not all(isinstance(t, (int, float)) and math.isfinite(t) for t in times):
            raise ValueError(f"row {i}: times must be finite numbers, got {times}")
        for axis, (start, end) in (("query", times[:2]), ("ref", times[2:])):
            if end < start or (positive_length and end == start):
                need = "<" if positive_length else "<="
                raise ValueError(f"row {i}: needs {axis}_start {need} {axis}_end, got {start} .. {end}")
        if scored:
            if r.score is None:
                raise ValueError(f"row {i}: has no score")
            if not math.isfinite(r.score):
                raise ValueError(f"row {i}: score must be finite, got {r.score}")


def _boxes_by_pair(rows: Iterable[MatchRow]) -> dict[Pair, np.ndarray]:
    """Group rows by pair: float64 [n, 4] boxes (qs, qe, rs, re) per pair."""
    grouped: dict[Pair, list[tuple[float, float, float, float]]] = defaultdict(list)
    for r in rows:
        grouped[(r.query_id, r.ref_id)].append((r.query_start, r.query_end, r.ref_start, r.ref_end))
    return {p: np.asarray(b, dtype=np.float64).reshape(-1, 4) for p, b in grouped.items()}


def _score_groups(pred: Sequence[MatchRow]) -> list[tuple[float, list[MatchRow]]]:
    """Predictions grouped by equal score, highest score first."""
    validate_rows(pred, scored=True)
    by_score: dict[float, list[MatchRow]] = defaultdict(list)
    for r in pred:
        by_score[float(r.score)].append(r)
    return sorted(by_score.items(), key=lambda kv: kv[0], reverse=True)


def pair_scores(pred: Iterable[MatchRow]) -> dict[Pair, float]:
    """Score of each predicted pair: ``s(p) = max_{d in D_p} score(d)``."""
    out: dict[Pair, float] = {}
    for r in pred:
        key = (r.query_id, r.ref_id)
        out[key] = max(out.get(key, -math.inf), float(r.score))
    return out


def _ratio(num: float | Fraction, den: float | Fraction) -> float:
    """num / den as a float, 0 when den == 0 (exact Fractions are divided
    exactly, then rounded once)."""
    return float(num / den) if den else 0.0


def _f1(precision: float, recall: float) -> float:
    """F1 = 2 P R / (P + R), 0 when P + R == 0."""
    return _ratio(2.0 * precision * recall, precision + recall)


# ---------------------------------------------------------------------------
# 1-D interval sets


def merge_intervals(intervals: np.ndarray) -> np.ndarray:
    """Union of closed intervals as sorted, disjoint intervals.

    intervals: [n, 2] (start, end) with start <= end. Returns [m, 2] sorted
    by start; intervals that overlap or touch are merged, so that
    ``|S| = Σ_k (end_k - start_k)`` over the result.
    """
    iv = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    if len(iv) <= 1:
        return iv
    iv = iv[np.argsort(iv[:, 0], kind="stable")]
    reach = np.maximum.accumulate(iv[:, 1])  # furthest end so far
    new_run = np.ones(len(iv), dtype=bool)
    new_run[1:] = iv[1:, 0] > reach[:-1]
    first = np.flatnonzero(new_run)
    last = np.append(first[1:] - 1, len(iv) - 1)
    return np.stack([iv[first, 0], reach[last]], axis=1)


def union_length(intervals: np.ndarray) -> float:
    """``|∪_k [s_k, e_k]|``: total length covered by the intervals."""
    merged = merge_intervals(intervals)
    return float(np.sum(merged[:, 1] - merged[:, 0]))


def overlap_length(a: np.ndarray, b: np.ndarray) -> float:
    """``|(∪ a) ∩ (∪ b)|``: length covered by both interval sets.

    Computed by a sweep over the sorted end points of the two merged sets:
    the length between consecutive points counts when both sets cover it.
    """
    ma, mb = merge_intervals(a), merge_intervals(b)
    if len(ma) == 0 or len(mb) == 0:
        return 0.0
    points = np.concatenate([ma[:, 0], mb[:, 0], ma[:, 1], mb[:, 1]])
    steps = np.concatenate([np.ones(len(ma) + len(mb)), -np.ones(len(ma) + len(mb))])
    order = np.argsort(points, kind="stable")
    points, depth = points[order], np.cumsum(steps[order])
    return float(np.sum(np.diff(points)[depth[:-1] == 2]))


def _overlapping(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """bool [len(a), len(b)]: box a_i ⊓ b_j has positive area."""
    dq = np.minimum(a[:, None, 1], b[None, :, 1]) - np.maximum(a[:, None, 0], b[None, :, 0])
    dr = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 2], b[None, :, 2])
    return (dq > 0) & (dr > 0)


# ---------------------------------------------------------------------------
# Ranked average precision (shared by pair uAP and retrieval mAP)


def ranked_ap(scores: np.ndarray, relevant: np.ndarray, n_relevant: int) -> AveragePrecision:
    r"""Average precision of a scored list against ``n_relevant`` positives.

    Items are ranked by score, and items with equal scores form one group
    (the rank order inside a tie does not matter). After the k-th group::

        P_k = TP_k / N_k        R_k = TP_k / n_relevant
        AP  = Σ_k P_k (R_k - R_{k-1}),   R_0 = 0

    with TP_k the relevant items and N_k all items ranked down to group k.
    Positives never ranked add nothing, so AP <= (ranked positives) /
    n_relevant. Without ties this is the usual ``(1/n_rel) Σ_{i rel} P@i``;
    with ties it is scikit-learn's ``average_precision_score`` convention.
    AP = 0 when n_relevant == 0.
    """
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    empty = np.zeros(0)
    if len(scores) == 0 or n_relevant == 0:
        return AveragePrecision(0.0, empty, empty, empty)
    order = np.argsort(-scores, kind="stable")
    s, rel = scores[order], relevant[order]
    group_end = np.append(s[1:] != s[:-1], True)
    tp = np.cumsum(rel)[group_end]
    n = np.nonzero(group_end)[0] + 1
    precision = tp / n
    new_tp = np.diff(tp, prepend=0)
    keep = new_tp > 0
    # Σ_k P_k ΔTP_k / n_relevant: the same sum, rounded once at the end.
    ap = float(np.sum(precision * new_tp)) / n_relevant
    return AveragePrecision(ap, precision[keep], tp[keep] / n_relevant, s[group_end][keep])


# ---------------------------------------------------------------------------
# VSC2022 matching track


class _SegmentPairState:
    """Running state of one pair while predictions are added in score order."""

    def __init__(self, gt: np.ndarray) -> None:
        self.gt = gt
        self.hit = np.zeros(len(gt), dtype=bool)  # gt boxes overlapped by some prediction so far
        self.preds = np.zeros((0, 4))
        self.covered = (0.0, 0.0)  # per axis: |∪ D^a ∩ ∪ G*^a|
        self.predicted = (0.0, 0.0)  # per axis: |∪ D^a|

    def add(self, boxes: np.ndarray) -> None:
        """Add predicted boxes and update the covered / predicted lengths."""
        self.preds = np.concatenate([self.preds, boxes])
        if len(self.gt):
            self.hit |= _overlapping(boxes, self.gt).any(axis=0)
        hit_gt = self.gt[self.hit]
        self.covered = tuple(overlap_length(self.preds[:, a:a + 2], hit_gt[:, a:a + 2]) for a in (0, 2))
        self.predicted = tuple(union_length(self.preds[:, a:a + 2]) for a in (0, 2))


def segment_ap(gt: Sequence[MatchRow], pred: Sequence[MatchRow]) -> AveragePrecision:
    r"""VSC2022 matching-track metric: segment-level micro average precision.

    Predictions are taken in decreasing score order; all predictions with
    the same score enter together (one step). After step k, with D_p the
    predictions of pair p so far and G*_p the ground-truth boxes of p that
    overlap (positive 2-D area) at least one box of D_p, per axis a in {q, r}::

        I_a = Σ_p |(∪_{d∈D_p} d^a) ∩ (∪_{g∈G*_p} g^a)|     (covered)
        T_a = Σ_p |∪_{d∈D_p} d^a|                          (predicted)
        L_a = Σ_p |∪_{g∈G_p} g^a|                          (all ground truth)

        P_k = sqrt((I_q / T_q) (I_r / T_r))
        R_k = sqrt((I_q / L_q) (I_r / L_r))
        AP  = Σ_k P_k (R_k - R_{k-1}),   R_0 = 0

    which is the area under the P/R step curve as ``vsc.metrics.match_metric``
    sums it (no interpolation). Pairs absent from the ground truth add to
    T only. AP = 0 when there is no ground truth. The sums over pairs are
    exact (Fractions), so a perfect prediction scores exactly 1.
    """
    groups = _score_groups(pred)
    gt_boxes = _boxes_by_pair(gt)
    states: dict[Pair, _SegmentPairState] = {}
    total = [sum((Fraction(union_length(b[:, a:a + 2])) for b in gt_boxes.values()), Fraction(0)) for a in (0, 2)]
    covered, predicted = [Fraction(0)] * 2, [Fraction(0)] * 2
    recall, lost = 0.0, 0.0
    points: list[tuple[float, float, float]] = []
    for score, rows in groups:
        for p, boxes in _boxes_by_pair(rows).items():
            state = states.setdefault(p, _SegmentPairState(gt_boxes.get(p, np.zeros((0, 4)))))
            for a in (0, 1):
                covered[a] -= Fraction(state.covered[a])
                predicted[a] -= Fraction(state.predicted[a])
            state.add(boxes)
            for a in (0, 1):
                covered[a] += Fraction(state.covered[a])
                predicted[a] += Fraction(state.predicted[a])
        prec = math.sqrt(_ratio(covered[0], predicted[0]) * _ratio(covered[1], predicted[1]))
        new_recall = math.sqrt(_ratio(covered[0], total[0]) * _ratio(covered[1], total[1]))
        gain = new_recall - recall
        lost += (1.0 - prec) * gain
        recall = new_recall
        if gain > 0:
            points.append((prec, recall, score))
    curve = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    # Σ_k P_k ΔR_k written as R_last - Σ_k (1 - P_k) ΔR_k (telescoping).
    return AveragePrecision(recall - lost, curve[:, 0], curve[:, 1], curve[:, 2])


# ---------------------------------------------------------------------------
# VSC2022 descriptor track / pairwise uAP


def pair_ap(gt: Sequence[MatchRow] | Iterable[Pair], pred: Sequence[MatchRow] | Mapping[Pair, float]) -> AveragePrecision:
    r"""Pair-level micro average precision (VSC2022 descriptor track, and
    the matching track's auxiliary ``pairwise_micro_ap``).

    Each predicted pair p is ranked by ``s(p) = max_{d∈D_p} score(d)`` (or
    its score when ``pred`` maps pairs to scores); a pair is correct when it
    has ground truth. With ties ranked as groups (see :func:`ranked_ap`)::

        AP = Σ_k P_k (R_k - R_{k-1}),  P_k = TP_k / N_k,  R_k = TP_k / |GT pairs|

    Recall is over all ground-truth pairs, predicted or not.
    """
    gt_pairs = {(r.query_id, r.ref_id) if isinstance(r, MatchRow) else tuple(r) for r in gt}
    if not isinstance(pred, Mapping):
        validate_rows(pred, scored=True)
        pred = pair_scores(pred)
    keys = list(pred)
    scores = np.array([pred[k] for k in keys], dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError("pair scores must be finite")
    relevant = np.array([k in gt_pairs for k in keys], dtype=bool)
    return ranked_ap(scores, relevant, len(gt_pairs))


# ---------------------------------------------------------------------------
# Retrieval mAP


def retrieval_ap_per_query(gt: Sequence[MatchRow], pred: Sequence[MatchRow]) -> dict[str, float]:
    r"""Per-query retrieval AP (CC_WEB_VIDEO / FIVR style).

    For each query q of the ground truth, with positives
    ``Pos_q = {r : (q, r) has ground truth}``, the references predicted for
    q are ranked by their pair score ``s(q, r) = max score`` and::

        AP_q = (1 / |Pos_q|) Σ_{i : ref_i ∈ Pos_q} P@i

    (ties ranked as groups, see :func:`ranked_ap`). Queries with no
    ground truth are not evaluated.
    """
    validate_rows(pred, scored=True)
    positives: dict[str, set[str]] = defaultdict(set)
    for r in gt:
        positives[r.query_id].add(r.ref_id)
    ranked: dict[str, dict[str, float]] = defaultdict(dict)
    for (q, ref), s in pair_scores(pred).items():
        ranked[q][ref] = s
    out: dict[str, float] = {}
    for q, pos in positives.items():
        refs = list(ranked.get(q, {}))
        scores = np.array([ranked[q][ref] for ref in refs], dtype=np.float64)
        out[q] = ranked_ap(scores, np.array([ref in pos for ref in refs], dtype=bool), len(pos)).ap
    return out


def retrieval_map(gt: Sequence[MatchRow], pred: Sequence[MatchRow]) -> float:
    r"""Mean over ground-truth queries of :func:`retrieval_ap_per_query`:
    ``mAP = (1 / |Q|) Σ_q AP_q``; 0 when there is no ground truth."""
    per_query = retrieval_ap_per_query(gt, pred)
    return float(np.mean(list(per_query.values()))) if per_query else 0.0


# ---------------------------------------------------------------------------
# VCSL


def _clipped_union_sum(own: np.ndarray, other: np.ndarray, axis: int) -> float:
    """``Σ_i |∪_{j : own_i ⊓ other_j has area > 0} (own_i ⊓ other_j)^axis|``."""
    lo, hi = 2 * axis, 2 * axis + 1
    parts = []
    for box, hits in zip(own, _overlapping(own, other), strict=True):
        if hits.any():
            o = other[hits]
            clipped = np.stack([np.maximum(o[:, lo], box[lo]), np.minimum(o[:, hi], box[hi])], axis=1)
            parts.append(union_length(clipped))
    return math.fsum(parts)


def vcsl_pair_precision_recall(pred_boxes: np.ndarray, gt_boxes: np.ndarray, eps: float = 0.0) -> tuple[float, float]:
    r"""VCSL segment precision and recall of one video pair.

    Boxes are float [n, 4] rows (query_start, query_end, ref_start, ref_end).
    For each predicted box d, its true-positive extent on axis a is the
    union of its intersections with the ground-truth boxes it overlaps (and
    symmetrically for each ground-truth box g)::

        P_a = Σ_d |∪_{g ⊓ d ≠ ∅} (d ⊓ g)^a| / (Σ_d |d^a| + eps)
        R_a = Σ_g |∪_{d ⊓ g ≠ ∅} (d ⊓ g)^a| / (Σ_g |g^a| + eps)
        P = P_q P_r,   R = R_q R_r

    Denominators are plain sums of lengths (overlapping boxes count twice);
    sums are exactly rounded (``math.fsum``).
    By VCSL's convention: no predictions -> (P, R) = (1, 0); no ground
    truth -> (0, 1); neither -> (1, 1). ``eps=1e-6`` reproduces the
    reference code exactly; the default 0 gives 1.0 for perfect boxes.
    """
    pred_boxes = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    if len(pred_boxes) == 0:
        return (1.0, 0.0) if len(gt_boxes) else (1.0, 1.0)
    if len(gt_boxes) == 0:
        return 0.0, 1.0

    def side(own: np.ndarray, other: np.ndarray) -> float:
        value = 1.0
        for axis in (0, 1):
            length = math.fsum(own[:, 2 * axis + 1] - own[:, 2 * axis])
            value *= _ratio(_clipped_union_sum(own, other, axis), length + eps)
        return value

    return side(pred_boxes, gt_boxes), side(gt_boxes, pred_boxes)


class _VcslMicro:
    """Running sums of VCSL micro averages over pairs.

    Micro precision averages P over pairs that have predictions; micro
    recall averages R over pairs that have ground truth (pairs with ground
    truth but no prediction count R = 0). Sums are exact Fractions, so
    adding and removing pairs leaves no rounding drift."""

    def __init__(self, n_gt_pairs: int) -> None:
        self.n_gt_pairs = n_gt_pairs
        self.sum_p = Fraction(0)
        self.n_pred_pairs = 0
        self.sum_r = Fraction(0)

    def add(self, p: float, r: float, has_gt: bool, sign: int = 1) -> None:
        """Count (sign=1) or remove (sign=-1) a pair that has predictions."""
        self.sum_p += sign * Fraction(p)
        self.n_pred_pairs += sign
        if has_gt:
            self.sum_r += sign * Fraction(r)

    def precision_recall(self) -> tuple[float, float]:
        return _ratio(self.sum_p, self.n_pred_pairs), _ratio(self.sum_r, self.n_gt_pairs)


def vcsl_scores(gt: Sequence[MatchRow], pred: Sequence[MatchRow], eps: float = 0.0) -> VcslScores:
    r"""VCSL micro and macro segment precision/recall/F1 (all predictions kept).

    With (P_p, R_p) from :func:`vcsl_pair_precision_recall` for each pair p
    of the ground truth or the predictions::

        micro P = mean_{p : D_p ≠ ∅} P_p       micro R = mean_{p : G_p ≠ ∅} R_p
        macro P = mean_q mean_{p ∈ GT(q)} P_p   macro R = mean_q mean_{p ∈ GT(q)} R_p
        F1 = 2 P R / (P + R)

    Micro averages follow ``vcsl.metric.evaluate_micro`` (its "skip P == 1 /
    R == 1" filter is exactly "skip pairs with no prediction / no ground
    truth"). Macro follows ``evaluate_macro`` over positive pairs, with the
    query id standing for VCSL's query set; a positive pair with no
    prediction counts (P, R) = (1, 0) there.
    """
    validate_rows(pred, scored=False)
    gt_boxes, pred_boxes = _boxes_by_pair(gt), _boxes_by_pair(pred)
    micro = _VcslMicro(len(gt_boxes))
    per_query: dict[str, list[tuple[float, float]]] = defaultdict(list)
    empty = np.zeros((0, 4))
    for p in gt_boxes.keys() | pred_boxes.keys():
        prec, rec = vcsl_pair_precision_recall(pred_boxes.get(p, empty), gt_boxes.get(p, empty), eps)
        if p in pred_boxes:
            micro.add(prec, rec, p in gt_boxes)
        if p in gt_boxes:
            per_query[p[0]].append((prec, rec))
    p_micro, r_micro = micro.precision_recall()
    if per_query:
        query_means = np.array([np.mean(v, axis=0) for v in per_query.values()])
        p_macro, r_macro = (float(x) for x in query_means.mean(axis=0))
    else:
        p_macro = r_macro = 0.0
    return VcslScores(p_micro, r_micro, _f1(p_micro, r_micro), p_macro, r_macro, _f1(p_macro, r_macro))


def vcsl_best_f1(gt: Sequence[MatchRow], pred: Sequence[MatchRow], eps: float = 0.0) -> BestF1:
    r"""Best VCSL micro F1 over score thresholds.

    For each threshold t among the prediction scores, keep the predictions
    with ``score >= t`` and compute micro P(t), R(t) as in
    :func:`vcsl_scores`::

        F1* = max_t 2 P(t) R(t) / (P(t) + R(t))

    The highest t reaching F1* is returned. No predictions -> F1* = 0 and
    t = NaN.
    """
    groups = _score_groups(pred)
    gt_boxes = _boxes_by_pair(gt)
    micro = _VcslMicro(len(gt_boxes))
    kept: dict[Pair, np.ndarray] = {}
    current: dict[Pair, tuple[float, float]] = {}
    empty = np.zeros((0, 4))
    best = BestF1(0.0, math.nan, 0.0, 0.0)
    for score, rows in groups:
        for p, boxes in _boxes_by_pair(rows).items():
            has_gt = p in gt_boxes
            if p in current:
                micro.add(*current[p], has_gt, sign=-1)
            kept[p] = np.concatenate([kept.get(p, empty), boxes])
            current[p] = vcsl_pair_precision_recall(kept[p], gt_boxes.get(p, empty), eps)
            micro.add(*current[p], has_gt)
        prec, rec = micro.precision_recall()
        f1 = _f1(prec, rec)
        if f1 > best.f1 or math.isnan(best.threshold):
            best = BestF1(f1, score, prec, rec)
    return best
