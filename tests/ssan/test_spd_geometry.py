"""SPD geometry: raster, seconds <-> pixels, box encoding, tiling, reversed handling (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidtrace.align.spd import (
    Raster,
    SPDModelInfo,
    box_iou,
    cell_centers,
    decode_boxes,
    detect_raster,
    encode_boxes,
    flip_boxes,
    merge_collinear,
    nms,
    pixels_to_seconds,
    rasterize,
    seconds_to_pixels,
    tile_starts,
)
from vidtrace.errors import ConfigError
from tests.ssan.helpers import line_entries, oracle_run

INFO = SPDModelInfo(pixel_s=0.25, tile=32, stride=4, overlap=8)


def test_raster_extent_odd_sizes():
    qt = 0.3 + np.arange(37) / 8.0  # 37 samples at 8 fps from 0.3 s
    rt = np.arange(11) / 2.0  # 11 samples at 2 fps
    r = Raster.for_times(qt, rt, 0.25)
    assert r.q0 == 0.3 and r.r0 == 0.0
    assert r.q_end == pytest.approx(0.3 + 36 / 8 + 1 / 8)
    assert r.r_end == pytest.approx(5.5)
    assert r.rows == int(np.ceil((r.q_end - r.q0) / 0.25 - 1e-9)) == 19
    assert r.cols == 22
    rows = r.rows_of(qt)
    assert rows.min() == 0 and rows.max() == r.rows - 1
    lo = r.q0 + rows * r.pixel_s
    assert np.all(qt >= lo - 1e-9) and np.all(qt < lo + r.pixel_s + 1e-9)


def test_raster_single_sample_and_validation():
    r = Raster.for_times(np.array([2.0]), np.array([1.0]), 0.5)
    assert (r.rows, r.cols) == (1, 1)
    with pytest.raises(ConfigError):
        Raster.for_times(np.array([0.0]), np.array([0.0]), 0.0)
    with pytest.raises(ValueError):
        Raster.for_times(np.zeros(0), np.array([0.0]), 0.25)


@settings(max_examples=200, deadline=None)
@given(q0=st.floats(0, 100), r0=st.floats(0, 100), pixel=st.floats(0.01, 4.0),
       box=st.lists(st.floats(0, 500), min_size=4, max_size=4))
def test_seconds_pixels_round_trip(q0, r0, pixel, box):
    r = Raster(q0, r0, pixel, q0 + 1000.0, r0 + 1000.0, 10, 10)
    b = np.array([[q0 + box[0], r0 + box[1], q0 + box[0] + box[2], r0 + box[1] + box[3]]])
    back = pixels_to_seconds(seconds_to_pixels(b, r), r, clip=False)
    np.testing.assert_allclose(back, b, rtol=0, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(nq=st.integers(1, 400), nr=st.integers(1, 300), fq=st.sampled_from([8.0, 7.0, 29.97, 2.0]),
       fr=st.sampled_from([2.0, 1.0, 8.0, 0.7]), pixel=st.sampled_from([0.25, 0.5, 0.3]),
       t0=st.floats(0, 50), u0=st.floats(0, 50))
def test_samples_fall_in_their_pixel_and_boxes_map_exactly(nq, nr, fq, fr, pixel, t0, u0):
    qt, rt = t0 + np.arange(nq) / fq, u0 + np.arange(nr) / fr
    r = Raster.for_times(qt, rt, pixel)
    rows, cols = r.rows_of(qt), r.cols_of(rt)
    assert rows.max() < r.rows and cols.max() < r.cols
    assert np.all(r.q0 + rows * pixel <= qt + 1e-9) and np.all(qt < r.q0 + (rows + 1) * pixel + 1e-9)
    assert np.all(r.r0 + cols * pixel <= rt + 1e-9) and np.all(rt < r.r0 + (cols + 1) * pixel + 1e-9)
    # the whole raster maps onto the map's extent (clipped at its end)
    full = pixels_to_seconds(np.array([[0, 0, r.rows, r.cols]]), r)[0]
    assert full[0] == r.q0 and full[1] == r.r0
    assert full[2] == pytest.approx(r.q_end) and full[3] == pytest.approx(r.r_end)


@settings(max_examples=100, deadline=None)
@given(box=st.lists(st.floats(0, 100), min_size=4, max_size=4), cols=st.floats(1, 200))
def test_flip_is_an_involution(box, cols):
    b = np.array([[box[0], box[1], box[0] + box[2], box[1] + box[3]]])
    f = flip_boxes(b, cols)
    assert np.all(f[:, 3] - f[:, 1] == pytest.approx(b[:, 3] - b[:, 1]))
    np.testing.assert_allclose(flip_boxes(f, cols), b, atol=1e-9)


def test_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    cy, cx = cell_centers(8, 6, 4)
    boxes = np.sort(rng.uniform(0, 40, (8, 6, 2, 2)), axis=2).reshape(8, 6, 4)[..., [0, 2, 1, 3]]
    d = encode_boxes(boxes, cy, cx)
    np.testing.assert_allclose(decode_boxes(d, cy, cx), boxes, atol=1e-12)
    assert cy[0, 0] == 2.0 and cx[0, 5] == 22.0


def test_tile_starts_cover_everything():
    assert tile_starts(10, 32, 8) == [0]
    for n in (33, 57, 128, 129, 500):
        starts = tile_starts(n, 32, 8)
        covered = np.zeros(n, bool)
        for s in starts:
            covered[s:s + 32] = True
        assert covered.all() and starts[-1] + 32 == n
        assert all(b - a <= 24 for a, b in zip(starts, starts[1:]))
    with pytest.raises(ConfigError):
        tile_starts(10, 8, 8)


def test_nms_and_iou():
    b = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float)
    assert box_iou(b[:1], b[:1])[0, 0] == 1.0
    assert list(nms(b, np.array([0.9, 0.8, 0.7]), 0.5)) == [0, 2]


def test_merge_collinear_joins_tile_pieces():
    a = np.array([[0, 0, 30, 30], [20, 20, 60, 60], [0, 40, 10, 50]], float)
    boxes, scores = merge_collinear(a, np.array([0.9, 0.6, 0.5]))
    assert len(boxes) == 2
    np.testing.assert_allclose(boxes[0], [0, 0, 60, 60])
    assert scores[0] == 0.9


def test_rasterize_max_pools_and_weights():
    qt, rt = np.arange(8) / 8.0, np.arange(4) / 2.0
    r = Raster.for_times(qt, rt, 0.25)
    img = rasterize(qt, rt, np.array([0, 1, 7]), np.array([0, 0, 3]), np.array([0.5, 0.8, 0.6]), r)
    assert img.shape == (2, 4, 8)
    assert img[0, 0, 0] == pytest.approx(0.8)  # two query samples in row 0: the best one
    assert img[0, 3, 6] == pytest.approx(0.6)
    assert img[1].sum() == 4 * 4  # 4 rows x 4 sampled columns (one every other pixel)
    w = np.array([1.0, 0.0, 1.0, 0.5])
    img2 = rasterize(qt, rt, np.array([0, 7]), np.array([0, 3]), np.array([0.5, 0.6]), r, ref_weight=w)
    assert img2[0, 3, 6] == pytest.approx(0.3) and img2[1, :, 2].sum() == 0


@pytest.mark.parametrize("reversed_", [False, True])
@pytest.mark.parametrize("nq,nr", [(37, 13), (161, 23), (95, 121)])
def test_detect_maps_boxes_to_seconds_exactly(reversed_, nq, nr):
    """With an oracle network, the detected copy lands exactly on the pixels
    of its entries (tiles, flips and seconds mapping all exact)."""
    qt, rt = np.arange(nq) / 8.0, np.arange(nr) / 2.0
    q0, q1, r0 = 1.0, 1.0 + min(nq / 8.0 - 1.5, nr / 2.0 - 1.0, 20.0), 0.5
    qi, ri, sim = line_entries(qt, rt, q0, q1, r0, reversed_=reversed_)
    r = Raster.for_times(qt, rt, INFO.pixel_s)
    img = rasterize(qt, rt, qi, ri, sim, r)
    found = detect_raster(img, oracle_run(INFO.stride), INFO, overlap=INFO.overlap, min_score=0.5, nms_iou=0.4,
                          top_k=5, detect_reversed=True, max_boxes=5)
    rows, cols = r.rows_of(qt[qi]), r.cols_of(rt[ri])
    expect_px = np.array([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1], float)
    assert len(found) >= 1
    box, score, rev = found[0]
    assert rev is reversed_
    if r.rows <= INFO.tile and r.cols <= INFO.tile:
        np.testing.assert_allclose(box, expect_px, atol=1e-9)
        sec = pixels_to_seconds(box[None], r)[0]
        expect = [r.q0 + rows.min() * 0.25, r.r0 + cols.min() * 0.25, r.q0 + (rows.max() + 1) * 0.25,
                  min(r.r_end, r.r0 + (cols.max() + 1) * 0.25)]
        np.testing.assert_allclose(sec, expect, atol=1e-9)
    else:  # tiled: the merged box covers the copy
        assert box[0] <= expect_px[0] + 1 and box[2] >= expect_px[2] - 1


def test_detect_empty_and_static_blocks():
    img = np.zeros((2, 20, 20), np.float32)
    assert detect_raster(img, oracle_run(4), INFO, overlap=8, min_score=0.5, nms_iou=0.4, top_k=5,
                         detect_reversed=True, max_boxes=5) == []
