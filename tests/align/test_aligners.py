"""Every aligner on synthetic maps with known copied segments."""

from __future__ import annotations

import numpy as np
import pytest

from tests.align.synth import Planted, best_match, keyframe_map, make_map
from vidtrace.align import get_aligner
from vidtrace.types import SimilarityMap

NAMES = ["tn", "hv", "dp", "dtw"]


def frozen(smap: SimilarityMap) -> SimilarityMap:
    """The same map with read-only arrays: any in-place write raises."""
    for a in (smap.query_times, smap.ref_times, smap.qi, smap.ri, smap.sim):
        a.flags.writeable = False
    return smap


def check_segments(segs):
    for s in segs:
        assert s.query_start < s.query_end
        assert s.reference_start < s.reference_end
        assert 0.0 <= s.score <= 1.0
    scores = [s.score for s in segs]
    assert scores == sorted(scores, reverse=True)


def found(segs, planted, min_iou=0.9):
    q, r = best_match(segs, planted)
    return q >= min_iou and r >= min_iou


CASES = {
    "single": [Planted(10, 30, 40)],
    "two": [Planted(10, 100, 30), Planted(60, 20, 30)],
    "speed_0.5": [Planted(10, 30, 40, speed=0.5)],
    "speed_2": [Planted(10, 30, 40, speed=2.0)],
    "speed_1.3": [Planted(5, 20, 60, speed=1.3)],
    "reversed": [Planted(10, 30, 40, reversed=True)],
    "reversed_speed_2": [Planted(10, 30, 40, speed=2.0, reversed=True)],
    "forward_and_reversed": [Planted(5, 150, 30), Planted(50, 20, 30, reversed=True)],
    "subsample_offset": [Planted(10, 30.3, 40)],
}


@pytest.mark.parametrize("noise", [0.0, 1.0])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", NAMES)
def test_recovers_planted_copies(name, case, noise):
    planted = CASES[case]
    smap = frozen(make_map(planted, q_dur=120, r_dur=200, noise_per_row=noise, seed=3))
    segs = get_aligner(name).align(smap)
    check_segments(segs)
    for p in planted:
        assert found(segs, p), (p, segs[:4])
        match = max(segs, key=lambda s: min(best_match([s], p)))
        assert match.reversed == p.reversed
        assert match.score > 0.6
    # the planted copies are the best segments
    assert min(s.score for s in segs[:len(planted)]) > max([s.score for s in segs[len(planted):]], default=0.0)


@pytest.mark.parametrize("name", NAMES)
def test_subsample_offset_is_estimated(name):
    smap = make_map([Planted(10, 30.3, 40)], q_dur=80, r_dur=100)
    seg = get_aligner(name).align(smap)[0]
    assert seg.reference_start == pytest.approx(30.3, abs=0.1)
    assert seg.reference_end == pytest.approx(70.3, abs=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_different_rates_and_time_origins(name):
    p = Planted(12.0, 41.0, 30.0, speed=1.5)
    smap = make_map([p], q_dur=60, r_dur=100, fps_q=2.0, fps_r=1.5, q_t0=0.25, r_t0=0.1, noise_per_row=0.5)
    segs = get_aligner(name).align(smap)
    check_segments(segs)
    assert found(segs, p, min_iou=0.85), segs[:3]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("planted", [Planted(20, 50, 60, speed=1.2), Planted(20, 50, 60, speed=0.6, reversed=True)])
@pytest.mark.parametrize("name", NAMES)
def test_irregular_keyframe_sampling(name, planted, seed):
    smap = keyframe_map([planted], q_dur=120, r_dur=200, seed=seed)
    assert np.ptp(np.diff(smap.query_times)) > 1.0  # really irregular
    segs = get_aligner(name).align(smap)
    check_segments(segs)
    assert found(segs[:1], planted, min_iou=0.9), segs[:2]
    assert segs[0].reversed == planted.reversed and segs[0].score > 0.5


@pytest.mark.parametrize("name", NAMES)
def test_empty_map(name):
    qt = np.arange(10.0)
    empty = SimilarityMap(qt, qt, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    assert get_aligner(name).align(empty) == []
    nothing = SimilarityMap(np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64),
                            np.zeros(0, np.float32))
    assert get_aligner(name).align(nothing) == []


@pytest.mark.parametrize("name", NAMES)
def test_one_entry_map(name):
    qt = np.arange(10.0)
    one = SimilarityMap(qt, qt + 100, np.array([4]), np.array([6]), np.array([0.95], np.float32))
    assert get_aligner(name).align(one) == []
    segs = get_aligner(name, min_matches=1).align(one)
    assert len(segs) == 1
    s = segs[0]
    assert (s.query_start, s.query_end) == (4.0, 5.0)
    assert s.reference_start == pytest.approx(106.0) and s.reference_end == pytest.approx(107.0)
    assert s.score < 0.3  # one match is weak evidence however similar


@pytest.mark.parametrize("name", NAMES)
def test_dense_and_sparse_inputs_agree(name):
    planted = [Planted(10, 60, 30), Planted(50, 10, 25, speed=1.25)]
    sparse = make_map(planted, q_dur=90, r_dur=120, neighbours=2)
    dense = make_map(planted, q_dur=90, r_dur=120, neighbours=2, dense=True)
    assert dense.qi.size == 90 * 120
    al = get_aligner(name)
    a, b = al.align(sparse), al.align(frozen(dense))
    check_segments(b)
    for p in planted:
        assert found(a, p) and found(b, p)
    top_a = sorted(a[:2], key=lambda s: s.query_start)
    top_b = sorted(b[:2], key=lambda s: s.query_start)
    for sa, sb in zip(top_a, top_b):
        assert abs(sa.query_start - sb.query_start) <= 1.0 and abs(sa.query_end - sb.query_end) <= 1.0
        assert abs(sa.reference_start - sb.reference_start) <= 1.0
        assert abs(sa.score - sb.score) <= 0.1


@pytest.mark.parametrize("name", NAMES)
def test_noise_only_scores_low(name):
    smap = make_map([], q_dur=200, r_dur=200, noise_per_row=5.0, noise_sim=(0.3, 0.8), seed=5)
    segs = get_aligner(name).align(smap)
    check_segments(segs)
    assert all(s.score < 0.45 for s in segs), segs[:3]


@pytest.mark.parametrize("name", NAMES)
def test_reversed_detection_can_be_switched_off(name):
    smap = make_map([Planted(10, 30, 40, reversed=True), Planted(60, 120, 30)], q_dur=100, r_dur=200)
    segs = get_aligner(name, detect_reversed=False).align(smap)
    assert segs and not any(s.reversed for s in segs)
    assert found(segs, Planted(60, 120, 30))


@pytest.mark.parametrize("name", NAMES)
def test_flipped_flag_and_filters(name):
    planted = [Planted(10, 30, 40), Planted(70, 150, 8)]
    base = make_map(planted, q_dur=100, r_dur=200)
    flipped = SimilarityMap(base.query_times, base.ref_times, base.qi, base.ri, base.sim, flipped=True)
    segs = get_aligner(name).align(flipped)
    assert len(segs) == 2 and all(s.flipped for s in segs)
    assert len(get_aligner(name, max_segments=1).align(base)) == 1
    long_only = get_aligner(name, min_length_s=10.0).align(base)
    assert len(long_only) == 1 and found(long_only, planted[0])
    assert get_aligner(name, min_score=0.99).align(base) == []


@pytest.mark.parametrize("name", NAMES)
def test_repeated_reference_content_gives_two_segments(name):
    # the query's copied minute appears twice in the reference
    planted = [Planted(20, 10, 30), Planted(20, 120, 30)]
    segs = get_aligner(name).align(make_map(planted, q_dur=80, r_dur=200))
    for p in planted:
        assert found(segs, p)


@pytest.mark.parametrize("name", NAMES)
def test_malformed_maps_are_rejected(name):
    qt = np.arange(5.0)
    with pytest.raises(ValueError):
        get_aligner(name).align(SimilarityMap(qt, qt, np.array([7]), np.array([1]), np.array([0.5], np.float32)))
    with pytest.raises(ValueError):
        get_aligner(name).align(SimilarityMap(qt, qt, np.array([1, 2]), np.array([1]), np.array([0.5], np.float32)))
    with pytest.raises(ValueError):
        get_aligner(name).align(SimilarityMap(qt[::-1], qt, np.array([1]), np.array([1]), np.array([0.5], np.float32)))
