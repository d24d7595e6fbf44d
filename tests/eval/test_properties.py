"""Hypothesis property tests of vidtrace.eval.metrics and evaluate().

Boxes lie on an integer grid, so that an independent "raster" oracle can
count covered unit cells instead of measuring interval unions.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vidtrace.eval import metrics
from vidtrace.eval.report import evaluate
from vidtrace.types import MatchRow

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rows(draw, min_size=0, max_size=8, scored=True):
    out = []
    for _ in range(draw(st.integers(min_size, max_size))):
        q, r = draw(st.sampled_from(["Q1", "Q2"])), draw(st.sampled_from(["R1", "R2", "R3"]))
        qs, rs = draw(st.integers(0, 12)), draw(st.integers(0, 12))
        ql, rl = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        score = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])) if scored else None
        out.append(MatchRow(q, r, qs, qs + ql, rs, rs + rl, score))
    return out


def with_scores(rs, scores):
    return [dataclasses.replace(r, score=s) for r, s in zip(rs, scores)]


# --- a raster oracle (unit cells on the integer grid) ---------------------------------


def cells(start, end):
    return set(range(int(start), int(end)))


def raster_segment_ap(gt, pred):
    """VSC2022 segment uAP counting unit cells, straight from the definition."""
    by_pair = defaultdict(list)
    for g in gt:
        by_pair[(g.query_id, g.ref_id)].append(g)
    total = [sum(len(set().union(*(cells(*iv(g, a)) for g in gs))) for gs in by_pair.values()) for a in (0, 1)]
    ap, recall = 0.0, 0.0
    for t in sorted({p.score for p in pred}, reverse=True):
        kept = [p for p in pred if p.score >= t]
        inter, pred_len = [0, 0], [0, 0]
        for key in {(p.query_id, p.ref_id) for p in kept}:
            ds = [p for p in kept if (p.query_id, p.ref_id) == key]
            hit = [g for g in by_pair.get(key, []) if any(overlaps(d, g) for d in ds)]
            for a in (0, 1):
                d_cells = set().union(*(cells(*iv(d, a)) for d in ds))
                g_cells = set().union(*(cells(*iv(g, a)) for g in hit))
                inter[a] += len(d_cells & g_cells)
                pred_len[a] += len(d_cells)
        prec = math.sqrt((inter[0] / pred_len[0]) * (inter[1] / pred_len[1]))
        new_recall = math.sqrt(inter[0] / total[0] * inter[1] / total[1])
        ap += prec * (new_recall - recall)
        recall = new_recall
    return ap


def iv(row, axis):
    return (row.query_start, row.query_end) if axis == 0 else (row.ref_start, row.ref_end)


def overlaps(a, b):
    return all(min(iv(a, x)[1], iv(b, x)[1]) > max(iv(a, x)[0], iv(b, x)[0]) for x in (0, 1))


def raster_vcsl_pair(pred, gt):
    def side(own, other):
        value = 1.0
        for a in (0, 1):
            covered = 0
            for o in own:
                clipped = [(max(iv(o, a)[0], iv(x, a)[0]), min(iv(o, a)[1], iv(x, a)[1])) for x in other if overlaps(o, x)]
                covered += len(set().union(*(cells(*c) for c in clipped)))
            value *= covered / sum(iv(o, a)[1] - iv(o, a)[0] for o in own)
        return value

    return side(pred, gt), side(gt, pred)


# --- properties ---------------------------------------------------------------------


@SETTINGS
@given(rows(min_size=1, scored=False), st.data())
def test_predicting_the_ground_truth_scores_one(gt, data):
    scores = data.draw(st.lists(st.floats(-1e6, 1e6), min_size=len(gt), max_size=len(gt)))
    values = evaluate(gt, with_scores(gt, scores))
    assert all(v == 1.0 for k, v in values.items() if k != "vcsl_best_threshold"), values
    # The best threshold is one of the scores: the lowest, unless higher-scored
    # rows already cover the others' boxes (duplicated ground-truth rows).
    assert values["vcsl_best_threshold"] in scores
    if len(set(gt)) == len(gt) and not _any_box_covers_another(gt):
        assert values["vcsl_best_threshold"] == min(scores)


def _any_box_covers_another(gt) -> bool:
    for a in gt:
        for b in gt:
            if a is not b and (a.query_id, a.ref_id) == (b.query_id, b.ref_id) \
                    and a.query_start <= b.query_start and b.query_end <= a.query_end \
                    and a.ref_start <= b.ref_start and b.ref_end <= a.ref_end:
                return True
    return False


@SETTINGS
@given(rows(min_size=1, scored=False), rows())
def test_metrics_lie_in_unit_interval(gt, pred):
    values = evaluate(gt, pred)
    assert all(0.0 <= v <= 1.0 for k, v in values.items() if k != "vcsl_best_threshold"), values


@SETTINGS
@given(rows(min_size=1, scored=False), rows(), st.randoms())
def test_prediction_order_does_not_matter(gt, pred, rnd):
    shuffled = list(pred)
    rnd.shuffle(shuffled)
    a, b = evaluate(gt, pred), evaluate(gt, shuffled)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-12, nan_ok=True)


@SETTINGS
@given(rows(min_size=1, scored=False), rows(min_size=1))
def test_monotone_score_transforms_do_not_matter(gt, pred):
    a = evaluate(gt, pred)
    b = evaluate(gt, with_scores(pred, [3 * p.score - 7 for p in pred]))
    for k in a:
        expected = 3 * a[k] - 7 if k == "vcsl_best_threshold" else a[k]
        assert b[k] == pytest.approx(expected, abs=1e-12)


@SETTINGS
@given(rows(min_size=1, scored=False), rows(), rows(min_size=1))
def test_low_scored_predictions_on_unlabelled_pairs_change_no_ap(gt, pred, noise):
    labelled = {(g.query_id, g.ref_id) for g in gt}
    noise = [dataclasses.replace(n, query_id="QX", score=-1.0) for n in noise if (n.query_id, n.ref_id) not in labelled]
    for fn in (metrics.segment_ap, metrics.pair_ap):
        assert fn(gt, pred + noise).ap == pytest.approx(fn(gt, pred).ap, abs=1e-12)
    assert metrics.retrieval_map(gt, pred + noise) == pytest.approx(metrics.retrieval_map(gt, pred), abs=1e-12)


@SETTINGS
@given(rows(min_size=1, scored=False), rows())
def test_segment_ap_matches_raster_oracle(gt, pred):
    assert metrics.segment_ap(gt, pred).ap == pytest.approx(raster_segment_ap(gt, pred), abs=1e-9)


@SETTINGS
@given(rows(min_size=1, max_size=5, scored=False), rows(min_size=1, max_size=5))
def test_vcsl_pair_matches_raster_oracle(gt, pred):
    gt = [dataclasses.replace(g, query_id="Q1", ref_id="R1") for g in gt]
    pred = [dataclasses.replace(p, query_id="Q1", ref_id="R1") for p in pred]
    boxes = metrics._boxes_by_pair
    ours = metrics.vcsl_pair_precision_recall(boxes(pred)[("Q1", "R1")], boxes(gt)[("Q1", "R1")])
    assert ours == pytest.approx(raster_vcsl_pair(pred, gt), abs=1e-12)


@SETTINGS
@given(rows(min_size=1, scored=False), rows(min_size=1))
def test_best_f1_is_at_least_f1_at_all_predictions(gt, pred):
    best = metrics.vcsl_best_f1(gt, pred)
    assert best.f1 >= metrics.vcsl_scores(gt, pred).f1_micro - 1e-12
    kept = [p for p in pred if p.score >= best.threshold]
    assert metrics.vcsl_scores(gt, kept).f1_micro == pytest.approx(best.f1, abs=1e-12)


@SETTINGS
@given(rows(min_size=1, scored=False), rows())
def test_pair_ap_equals_retrieval_ap_for_one_query(gt, pred):
    gt = [dataclasses.replace(g, query_id="Q1") for g in gt]
    pred = [dataclasses.replace(p, query_id="Q1") for p in pred]
    assert metrics.pair_ap(gt, pred).ap == pytest.approx(metrics.retrieval_map(gt, pred), abs=1e-12)
