"""Property-based checks: random planted copies are recovered by every aligner."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.align.synth import Planted, best_match, make_map
from vidtrace.align import get_aligner

NAMES = ["tn", "hv", "dp", "dtw"]

planted_copies = st.builds(
    Planted,
    q0=st.floats(0.0, 40.0),
    r0=st.floats(0.0, 60.0),
    length=st.floats(20.0, 60.0),
    speed=st.sampled_from([0.5, 0.8, 1.0, 1.25, 1.6, 2.0]) | st.floats(0.5, 2.0),
    reversed=st.booleans(),
    peak=st.floats(0.7, 1.0),
)

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def snapshot(smap):
    return [a.copy() for a in (smap.query_times, smap.ref_times, smap.qi, smap.ri, smap.sim)]


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(p=planted_copies, fps=st.sampled_from([1.0, 2.0]), noise=st.sampled_from([0.0, 0.5]),
       seed=st.integers(0, 1000))
def test_random_copy_is_recovered(name, p, fps, noise, seed):
    # kNN-like noise: weaker than true matches, spread over a reference 30 s longer than the copy's end
    smap = make_map([p], q_dur=p.q1 + 10.0, r_dur=p.r1 + 30.0, fps_q=fps, fps_r=fps,
                    noise_per_row=noise, noise_sim=(0.1, 0.5), seed=seed)
    before = snapshot(smap)
    segs = get_aligner(name).align(smap)
    for a, b in zip(before, snapshot(smap)):
        np.testing.assert_array_equal(a, b)  # the input is never modified
    for s in segs:
        assert s.query_start < s.query_end and s.reference_start < s.reference_end
        assert 0.0 <= s.score <= 1.0
    q_iou, r_iou = best_match(segs, p)
    assert q_iou >= 0.8 and r_iou >= 0.8, (p, segs[:3])
    best = max(segs, key=lambda s: min(best_match([s], p)))
    assert best.reversed == p.reversed


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(qi=st.lists(st.integers(0, 29), min_size=0, max_size=60), seed=st.integers(0, 1000),
       dense_rows=st.booleans())
def test_arbitrary_maps_give_valid_segments(name, qi, seed, dense_rows):
    rng = np.random.default_rng(seed)
    nq, nr = 30, 25
    qi = np.array(qi, dtype=np.int64)
    ri = rng.integers(0, nr, size=qi.size) if not dense_rows else np.minimum(qi, nr - 1)
    key = np.unique(qi * nr + ri)
    qi, ri = key // nr, key % nr
    from vidtrace.types import SimilarityMap

    smap = SimilarityMap(np.arange(nq) * 0.5, np.arange(nr) * 0.5, qi, ri,
                         rng.uniform(0.01, 1.0, size=qi.size).astype(np.float32))
    segs = get_aligner(name, min_matches=1).align(smap)
    for s in segs:
        assert s.query_start < s.query_end and s.reference_start < s.reference_end
        assert 0.0 <= s.score <= 1.0
        assert 0.0 <= s.query_start and s.query_end <= nq * 0.5 + 1e-9
        assert 0.0 <= s.reference_start and s.reference_end <= nr * 0.5 + 1e-9
