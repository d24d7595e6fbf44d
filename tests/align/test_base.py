"""Shared helpers: line fit, chain -> segment maths, overlap, chain splitting."""

from __future__ import annotations

import numpy as np
import pytest

from vidtrace.align import chain_to_segment, segment_overlap
from vidtrace.align.base import (
    Entries,
    Grid,
    best_per_row,
    fit_line,
    sampling_step,
    select_segments,
    split_chain,
    trim_chain,
)
from vidtrace.types import Segment, SimilarityMap


def diagonal_map(n=40, nr=None, offset=0, step=1.0, sim=0.9, reverse=False):
    nr = nr or n + offset + 5
    qt = np.arange(n) * step
    rt = np.arange(nr) * step
    qi = np.arange(n)
    ri = (nr - 1 - qi - offset) if reverse else (qi + offset)
    return SimilarityMap(qt, rt, qi.astype(np.int64), ri.astype(np.int64), np.full(n, sim, np.float32))


def view_of(qt, rt, sim, step=1.0):
    qt = np.asarray(qt, float)
    rt = np.asarray(rt, float)
    k = qt.size
    return Entries(np.rint(qt / step).astype(np.int64), np.rint(rt / step).astype(np.int64), qt, rt,
                   np.asarray(sim, float), np.arange(k), int(qt.max() + 1), int(rt.max() + 1),
                   step, step, step, 2.5 * step, False, np.zeros(k))


def test_sampling_step():
    assert sampling_step(np.arange(10) * 0.5) == 0.5
    assert sampling_step(np.array([3.0])) == 1.0
    assert sampling_step(np.array([]), fallback=2.0) == 2.0


def test_fit_line_exact_and_robust_to_outliers():
    x = np.arange(50, dtype=float)
    y = 1.25 * x + 7.3
    a, b = fit_line(x, y)
    assert a == pytest.approx(1.25) and b == pytest.approx(7.3)
    y2 = y.copy()
    y2[[3, 17, 40]] += [30.0, -25.0, 40.0]
    a2, b2 = fit_line(x, y2, scale_floor=0.5)
    assert a2 == pytest.approx(1.25, abs=1e-3) and b2 == pytest.approx(7.3, abs=0.05)


def test_fit_line_sign_clamp_and_degenerate_input():
    x = np.arange(10, dtype=float)
    a, b = fit_line(x, 100 - x, sign=-1)
    assert a == pytest.approx(-1.0) and b == pytest.approx(100.0)
    a, _ = fit_line(x, 5 * x, min_slope=0.5, max_slope=2.0)
    assert a == 2.0
    a, b = fit_line(np.array([4.0]), np.array([9.0]))
    assert (a, b) == (1.0, 5.0)
    a, b = fit_line(np.array([4.0]), np.array([9.0]), sign=-1)
    assert (a, b) == (-1.0, 13.0)


def test_chain_to_segment_forward_extent():
    smap = diagonal_map(n=30, offset=10)
    seg = chain_to_segment(smap, np.arange(5, 25), np.arange(15, 35))
    assert (seg.query_start, seg.query_end) == (5.0, 25.0)
    assert seg.reference_start == pytest.approx(15.0) and seg.reference_end == pytest.approx(35.0)
    assert not seg.reversed and 0.0 < seg.score <= 1.0


def test_chain_to_segment_reversed_extent():
    smap = diagonal_map(n=30, nr=60, reverse=True)  # ri = 59 - qi
    qi = np.arange(0, 30)
    seg = chain_to_segment(smap, qi, 59 - qi)
    assert seg.reversed
    assert (seg.query_start, seg.query_end) == (0.0, 30.0)
    # query [0, 30) shows reference frames 59 .. 30 going backwards, i.e. the
    # reference content [30, 60) (frames last one step, as in VSC/VCSL ground truth)
    assert seg.reference_start == pytest.approx(30.0) and seg.reference_end == pytest.approx(60.0)
    assert seg.reference_start < seg.reference_end


def test_chain_to_segment_speed_two_and_clipping():
    qt = np.arange(20.0)
    rt = np.arange(30.0)
    qi = np.arange(20)
    ri = np.minimum(2 * qi, 29)
    smap = SimilarityMap(qt, rt, qi, ri, np.full(20, 0.8, np.float32))
    seg = chain_to_segment(smap, qi[:10], ri[:10])
    assert seg.reference_start == pytest.approx(0.0) and seg.reference_end == pytest.approx(20.0)
    seg = chain_to_segment(smap, qi[10:15], ri[10:15])  # line reaches past the reference's end
    assert seg.reference_end <= 30.0 + 1e-9 and seg.reference_start < seg.reference_end


def test_chain_to_segment_subsample_offset():
    # reference content lags by 0.3 s: each query row sees a Gaussian bump centred 0.3 s after its sample
    qt = np.arange(30.0)
    rt = np.arange(60.0)
    rows, cols, sims = [], [], []
    for i in range(30):
        x = i + 10.3
        for j in range(int(x) - 2, int(x) + 3):
            rows.append(i)
            cols.append(j)
            sims.append(0.9 * np.exp(-0.5 * ((j - x) / 0.7) ** 2))
    smap = SimilarityMap(qt, rt, np.array(rows), np.array(cols), np.array(sims, np.float32))
    qi = np.arange(30)
    seg = chain_to_segment(smap, qi, qi + 10)
    assert seg.reference_start == pytest.approx(10.3, abs=0.02)
    plain = chain_to_segment(smap, qi, qi + 10, subsample=False)
    assert plain.reference_start == pytest.approx(10.0)


def test_score_grows_with_length_and_similarity():
    smap = diagonal_map(n=60, sim=0.9)
    weak = diagonal_map(n=60, sim=0.4)
    one = chain_to_segment(smap, np.array([3]), np.array([3]))
    two_weak = chain_to_segment(weak, np.array([3, 4]), np.array([3, 4]))
    short = chain_to_segment(smap, np.arange(3, 6), np.arange(3, 6))
    long = chain_to_segment(smap, np.arange(0, 40), np.arange(0, 40))
    assert two_weak.score < 0.25
    assert one.score < short.score < long.score
    assert long.score > 0.85
    gappy = chain_to_segment(smap, np.arange(0, 40, 4), np.arange(0, 40, 4))  # 1 match in 4 samples
    assert gappy.score < 0.5 * long.score


def test_segment_overlap():
    a = Segment(0, 100, 50, 150, 0.9)
    assert segment_overlap(a, a) == pytest.approx(1.0)
    assert segment_overlap(a, Segment(0, 100, 52, 152, 0.5)) == pytest.approx(0.98)
    assert segment_overlap(a, Segment(40, 45, 90, 95, 0.3, reversed=True)) == pytest.approx(1.0)
    assert segment_overlap(a, Segment(40, 45, 10, 15, 0.3)) == 0.0  # same query time, other reference time
    assert segment_overlap(a, Segment(100, 140, 150, 190, 0.5)) == 0.0
    kept = select_segments([Segment(0, 100, 52, 152, 0.5), a, Segment(40, 45, 10, 15, 0.3)], 0.5, 10)
    assert kept == [a, Segment(40, 45, 10, 15, 0.3)]
    assert select_segments([a, Segment(200, 210, 0, 10, 0.2)], 0.5, 1) == [a]


def test_split_chain_cuts_gaps_and_speed_breaks():
    qt = [0, 1, 2, 3, 10, 11, 12, 13, 14, 15]
    rt = [0, 1, 2, 3, 10, 11, 12, 30, 31, 32]
    view = view_of(qt, rt, np.full(10, 0.9))
    pieces = split_chain(view, np.arange(10), max_gap_s=5, min_speed=0.5, max_speed=2.0, jitter_s=1.0)
    assert [p.tolist() for p in pieces] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_trim_chain_drops_weak_detached_ends():
    qt = [0, 3, 4, 5, 6, 7, 9]
    rt = [0, 3, 4, 5, 6, 7, 9]
    sims = [0.3, 0.9, 0.9, 0.9, 0.9, 0.9, 0.85]
    view = view_of(qt, rt, sims)
    assert trim_chain(view, np.arange(7)).tolist() == [1, 2, 3, 4, 5, 6]


def test_best_per_row_and_grid_lookup():
    view = view_of([0, 0, 1, 1, 2], [0, 1, 1, 2, 2], [0.5, 0.9, 0.7, 0.6, 0.8])
    assert best_per_row(view, np.arange(5)).tolist() == [1, 2, 4]
    grid = Grid.build(view, max_cells=4)  # 3 x 3 map -> pooled 2 x 2
    assert grid.f == 2 and (grid.n1, grid.n2) == (2, 2)
    cell = grid.cell[0]
    assert sorted(grid.entries_in(np.array([cell])).tolist()) == [0, 1, 2]  # (1, 2) is in the next cell
    assert grid.sim[cell] == pytest.approx(0.9)
