"""Optional cross-check of vidtrace.eval.metrics against the reference code.

Set VSC2022_PATH to a checkout of facebookresearch/vsc2022 (its
``vsc/metrics.py`` needs pandas, scikit-learn and matplotlib) and/or
VCSL_PATH to a checkout of alipay/VCSL (``vcsl/metric.py`` needs numpy
only), in an environment that has those packages::

    PYTHONPATH=. VSC2022_PATH=~/src/vsc2022 VCSL_PATH=~/src/VCSL \\
        python -m pytest tests/eval/test_crosscheck.py -q

XCHECK_TRIALS (default 100) sets how many random cases each test runs.
Without the paths the tests skip. The reference files are loaded by path
(not as packages), so their heavy package ``__init__`` files never run.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from vidtrace.eval import metrics
from vidtrace.types import MatchRow

TOL = 1e-6
TRIALS = int(os.environ.get("XCHECK_TRIALS", "100"))


def _load(env: str, rel: str, needs: tuple[str, ...]):
    root = os.environ.get(env)
    if not root:
        pytest.skip(f"{env} is not set (point it to a checkout to cross-check against {rel})")
    path = Path(root).expanduser() / rel
    if not path.is_file():
        pytest.skip(f"{env}={root} has no {rel}")
    for mod in needs:
        pytest.importorskip(mod, reason=f"{rel} needs {mod}")
    spec = importlib.util.spec_from_file_location(f"_xcheck_{path.stem}_{env.lower()}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def vsc():
    return _load("VSC2022_PATH", "vsc/metrics.py", ("pandas", "sklearn", "matplotlib"))


@pytest.fixture(scope="module")
def vcsl():
    return _load("VCSL_PATH", "vcsl/metric.py", ())


def random_case(rng: np.random.Generator, quantum: float = 2.0**-10) -> tuple[list[MatchRow], list[MatchRow]]:
    """Ground truth and scored predictions over a few queries / references.

    Half the cases use integer times (touching and identical boxes, many
    ties), half continuous times; predictions mix jittered copies of ground
    truth boxes with random boxes, on pairs with and without ground truth.
    Continuous times are rounded to multiples of ``quantum`` (0 = not at
    all): VCSL's ``seg_len`` casts interval unions to float32, which costs up
    to ~3e-6 on arbitrary float64 times but nothing on times that float32
    holds exactly (multiples of 2**-10 below 128 s).
    """

    def q(x):
        return float(np.round(x / quantum) * quantum) if quantum else float(x)

    grid = rng.random() < 0.5
    n_q, n_r = int(rng.integers(1, 4)), int(rng.integers(1, 4))

    def box():
        if grid:
            qs, rs = rng.integers(0, 20, size=2)
            ql, rl = rng.integers(1, 8, size=2)
            return float(qs), float(qs + ql), float(rs), float(rs + rl)
        qs, rs = rng.uniform(0, 60, size=2)
        ql, rl = rng.uniform(0.5, 20, size=2)
        return q(qs), q(qs + ql), q(rs), q(rs + rl)

    def pair():
        return f"Q{rng.integers(n_q):06d}", f"R{rng.integers(n_r):06d}"

    gt = [MatchRow(*pair(), *box()) for _ in range(int(rng.integers(1, 6)))]
    scores = rng.integers(0, 4, size=64) / 4.0 if rng.random() < 0.5 else rng.random(64)
    pred = []
    for i in range(int(rng.integers(1, 10))):
        if rng.random() < 0.6:
            g = gt[int(rng.integers(len(gt)))]
            jitter = rng.integers(-3, 4, size=4) if grid else rng.normal(0, 3, size=4)
            qs, qe, rs, re = (q(v) for v in np.array([g.query_start, g.query_end, g.ref_start, g.ref_end]) + jitter)
            qe, re = max(qe, qs + 1), max(re, rs + 1)
            pred.append(MatchRow(g.query_id, g.ref_id, qs, qe, rs, re, float(scores[i])))
        else:
            pred.append(MatchRow(*pair(), *box(), float(scores[i])))
    return gt, pred


def _vsc_match(vsc, row: MatchRow, score: float):
    return vsc.Match(row.query_id, row.ref_id, score, row.query_start, row.query_end, row.ref_start, row.ref_end)


def _vcsl_boxes(boxes: np.ndarray) -> np.ndarray:
    """(qs, qe, rs, re) -> VCSL's (x1, y1, x2, y2) with x = query time."""
    return boxes[:, [0, 2, 1, 3]] if len(boxes) else np.zeros((0, 4))


def _vcsl_reference(vcsl, gt: list[MatchRow], pred: list[MatchRow]):
    """Reference (micro P, micro R, macro P, macro R), eps = 1e-6 as in VCSL."""
    gt_boxes, pred_boxes = metrics._boxes_by_pair(gt), metrics._boxes_by_pair(pred)
    empty = np.zeros((0, 4))
    results = {
        f"{q}-{r}": vcsl.precision_recall(_vcsl_boxes(pred_boxes.get((q, r), empty)), _vcsl_boxes(gt_boxes.get((q, r), empty)))
        for q, r in gt_boxes.keys() | pred_boxes.keys()
    }
    r_micro, p_micro, _, _ = vcsl.evaluate_micro(results, 1)
    sets = defaultdict(list)
    for q, r in gt_boxes:
        sets[q].append(f"{q}-{r}")
    r_macro, p_macro, _ = vcsl.evaluate_macro(results, sets)
    return p_micro, r_micro, p_macro, r_macro


def test_segment_and_pair_ap_match_vsc2022(vsc):
    rng = np.random.default_rng(2022)
    worst = 0.0
    for _ in range(TRIALS):
        gt, pred = random_case(rng)
        ref_gt = [_vsc_match(vsc, g, 1.0) for g in gt]
        ref_pred = [_vsc_match(vsc, p, p.score) for p in pred]
        ref_segment = vsc.match_metric(ref_gt, ref_pred).ap
        ref_pair = vsc.average_precision(
            vsc.CandidatePair.from_matches(ref_gt), vsc.CandidatePair.from_matches(ref_pred)
        ).ap
        worst = max(worst, abs(metrics.segment_ap(gt, pred).ap - ref_segment))
        worst = max(worst, abs(metrics.pair_ap(gt, pred).ap - ref_pair))
        assert worst <= TOL, (gt, pred)


def test_vsc2022_own_unit_cases(vsc):
    """The cases of vsc2022's tests/test_metrics.py, scored by both."""
    def m(qs, qe, rs, re, score=1.0, q="Q1", r="R2"):
        return MatchRow(q, r, qs, qe, rs, re, score)

    cases = [
        ([m(4, 14, 10, 18)], [m(4, 14, 10, 18)]),
        ([m(4, 14, 10, 18)], [m(4, 8, 10, 14, 1.0), m(8, 14, 14, 18, 2.0)]),
        ([m(4, 14, 10, 18)], [m(4, 8, 10, 14, 1.0), m(8, 14, 16, 18, 2.0), m(0, 30, 5, 25, 0.0)]),
        ([m(4, 14, 10, 18)], [m(4, 8, 10, 14, 1.0), m(8, 14, 16, 18, 2.0), m(0, 30, 5, 25, 3.0)]),
        ([m(4, 14, 10, 18), m(20, 28, 21, 29)], [m(4, 14, 21, 29), m(20, 28, 10, 18)]),
        ([m(4, 14, 10, 18)], [m(4, 14, 10, 18, 3.0, q="Q2"), m(4, 14, 10, 18, 2.0, r="R1"), m(4, 14, 10, 18, 1.0)]),
    ]
    for gt, pred in cases:
        ref = vsc.match_metric([_vsc_match(vsc, g, 1.0) for g in gt], [_vsc_match(vsc, p, p.score) for p in pred]).ap
        assert metrics.segment_ap(gt, pred).ap == pytest.approx(ref, abs=TOL)


def test_retrieval_map_matches_sklearn(vsc):
    """Per-query AP against scikit-learn's average_precision_score, rescaled
    to all positives the way vsc2022's DrivenData AP does."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(7)
    for _ in range(TRIALS):
        gt, pred = random_case(rng)
        positives = defaultdict(set)
        for g in gt:
            positives[g.query_id].add(g.ref_id)
        scores = metrics.pair_scores(pred)
        ref = []
        for q, pos in positives.items():
            refs = [r for (qq, r) in scores if qq == q]
            labels = np.array([r in pos for r in refs], dtype=float)
            if labels.sum() == 0:
                ref.append(0.0)
                continue
            ap = average_precision_score(labels, np.array([scores[(q, r)] for r in refs]))
            ref.append(ap * labels.sum() / len(pos))
        assert metrics.retrieval_map(gt, pred) == pytest.approx(float(np.mean(ref)), abs=TOL)


def test_vcsl_pair_precision_recall_matches(vcsl):
    rng = np.random.default_rng(2021)
    for _ in range(TRIALS):
        gt, pred = random_case(rng)
        gt_boxes, pred_boxes = metrics._boxes_by_pair(gt), metrics._boxes_by_pair(pred)
        empty = np.zeros((0, 4))
        for key in gt_boxes.keys() | pred_boxes.keys():
            p, g = pred_boxes.get(key, empty), gt_boxes.get(key, empty)
            ref = vcsl.precision_recall(_vcsl_boxes(p), _vcsl_boxes(g))
            ours = metrics.vcsl_pair_precision_recall(p, g, eps=1e-6)
            assert ours == pytest.approx((ref["precision"], ref["recall"]), abs=TOL)


def test_vcsl_micro_macro_and_best_f1_match(vcsl):
    rng = np.random.default_rng(1)
    for _ in range(TRIALS):
        gt, pred = random_case(rng)
        p_mi, r_mi, p_ma, r_ma = _vcsl_reference(vcsl, gt, pred)
        ours = metrics.vcsl_scores(gt, pred, eps=1e-6)
        assert (ours.precision_micro, ours.recall_micro, ours.precision_macro, ours.recall_macro) == pytest.approx(
            (p_mi, r_mi, p_ma, r_ma), abs=TOL
        )
        # Best F1: the reference micro F1 at every threshold, maximised.
        ref_best = 0.0
        for t in sorted({p.score for p in pred}):
            p_t, r_t, _, _ = _vcsl_reference(vcsl, gt, [p for p in pred if p.score >= t])
            ref_best = max(ref_best, 2 * p_t * r_t / (p_t + r_t) if p_t + r_t else 0.0)
        assert metrics.vcsl_best_f1(gt, pred, eps=1e-6).f1 == pytest.approx(ref_best, abs=TOL)
        assert not math.isnan(metrics.vcsl_best_f1(gt, pred).threshold)
