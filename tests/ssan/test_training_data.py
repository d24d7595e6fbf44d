"""Training data and targets: decoder sampling rule, query programs, FCOS target assignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidtrace.train.mapdata import MapDataConfig, SourceVideo, make_query, sample_times
from vidtrace.train.spd import Augment, assign_targets, clip_boxes, label_boxes, orient


def test_sample_times_is_the_decoder_rule():
    t = np.arange(90) / 30.0
    idx = sample_times(t, 8.0)
    buckets = np.floor(t[idx] * 8 + 1e-6)
    assert np.all(np.diff(buckets) > 0)  # one frame per bucket ...
    assert buckets.size == np.unique(np.floor(t * 8 + 1e-6)).size  # ... for every bucket
    assert np.all(idx == [np.flatnonzero(np.floor(t * 8 + 1e-6) == b)[0] for b in buckets])  # its first frame


def _fake_sources(n=4, frames=60, appearances=2, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for v in range(n):
        t = np.arange(frames) / 15.0
        desc = rng.integers(0, 256, (appearances, frames, 32), dtype=np.uint8)
        var = {"halves": rng.integers(0, 256, (appearances, frames, 4, 32), dtype=np.uint8),
               "center": rng.integers(0, 256, (appearances, frames, 32), dtype=np.uint8),
               "uncropped": rng.integers(0, 256, (appearances, frames, 32), dtype=np.uint8)}
        bt = np.arange(0, frames, 2) / 15.0
        out.append(SourceVideo(f"v{v}.mp4", "g" if v < 2 else f"h{v}", t, desc,
                               np.full((appearances, frames), 90, np.int16), var, bt, desc[0, ::2],
                               np.full(bt.size, 90, np.int16), np.zeros((bt.size, 16, 16), np.uint8)))
    return out


@pytest.mark.parametrize("k", range(12))
def test_query_program_ground_truth_matches_its_frames(k):
    sources = _fake_sources()
    cfg = MapDataConfig(appearances=2)
    q = make_query(k, sources, cfg)
    assert q.times.size == q.desc.shape[0] == q.frame_video.size
    assert np.all(np.diff(q.times) > 0)
    shown = q.frame_video >= 0
    at = np.flatnonzero(shown)
    np.testing.assert_array_equal(q.desc[at], np.stack([sources[v].app_desc[q.appearance, i]
                                                         for v, i in zip(q.frame_video[at], q.frame_index[at])]))
    assert set(q.frame_video[at].tolist()) <= set(q.videos)
    for s in q.segments:
        inside = (q.times >= s.output_start - 1e-9) & (q.times < s.output_end - 1e-9)
        assert inside.any() or s.output_end - s.output_start < 0.2
        assert np.all(q.frame_video[inside] == s.source)
        st = sources[s.source].native_times[q.frame_index[inside]]
        assert np.all(st >= s.source_start - 1e-9) and np.all(st < s.source_end + 1e-9)
    # every sample that shows a source lies in one of that source's segments
    for i in at:
        assert any(s.source == q.frame_video[i] and s.output_start - 1e-9 <= q.times[i] < s.output_end
                   for s in q.segments)


def test_query_programs_are_seeded():
    sources = _fake_sources()
    cfg = MapDataConfig(appearances=2)
    a, b = make_query(3, sources, cfg), make_query(3, sources, cfg)
    np.testing.assert_array_equal(a.desc, b.desc)
    assert a.segments == b.segments
    assert not np.array_equal(make_query(4, sources, cfg).times, a.times) or \
        make_query(4, sources, cfg).segments != a.segments


def test_assign_targets_positive_ignore_negative():
    boxes = np.array([[8, 8, 40, 40], [60, 60, 70, 64], [90, 10, 120, 30]], float)
    cls, w, tgt = assign_targets(boxes, np.array([1, -1, 0], np.int8), 128, 4)
    assert cls.shape == (32, 32)
    assert cls[6, 6] == 1 and np.all(tgt[6, 6] == boxes[0])  # centre cell of the positive box
    assert cls[3, 3] == 1 and cls[3, 9] == 0 and w[3, 9] == 1  # on the diagonal, off it (a negative)
    assert cls[2, 2] == 0 and w[2, 2] == 0  # the diagonal's ends are ignored
    assert w[16, 15] == 0 and cls[16, 15] == 0  # ignored box: no loss at its centre
    assert cls[26:30, 2:8].sum() == 0 and w[26:30, 2:8].min() == 1  # reversed box: plain negative
    tiny = np.array([[0.5, 0.5, 2.5, 1.5]])
    cls, _, _ = assign_targets(tiny, np.array([1], np.int8), 128, 4)
    assert cls.sum() == 1  # a box smaller than a cell still gets one positive


def test_clip_boxes_window():
    b = np.array([[0, 0, 10, 10], [5, 5, 40, 40], [50, 50, 60, 60]], float)
    out, kind = clip_boxes(b, np.array([1, 1, 1], np.int8), 4, 4, 16, 16)
    assert len(out) == 2
    np.testing.assert_allclose(out[0], [0, 0, 6, 6])
    assert kind.tolist() == [1, -1]  # the second box keeps less than half of its query extent


def test_orient_and_label():
    img = np.zeros((2, 20, 30), np.float32)
    for i in range(10):
        img[0, 5 + i, 25 - i] = 0.9  # a reversed line
    img[1] = 1
    boxes = np.array([[5, 16, 15, 26]], float)
    b, k = label_boxes(img, boxes, np.array([True]), Augment().min_support)
    assert k.tolist() == [0]
    img2, boxes2, rev2 = orient(img, boxes, np.array([True]), "ref")
    assert rev2.tolist() == [False]
    b2, k2 = label_boxes(np.ascontiguousarray(img2), boxes2, rev2, Augment().min_support)
    assert k2.tolist() == [1]
    img3, boxes3, rev3 = orient(img2, boxes2, rev2, "ref")
    np.testing.assert_array_equal(img3, img)
    np.testing.assert_allclose(boxes3, boxes)
    _, b4, r4 = orient(img, boxes, np.array([True]), "both")
    assert r4.tolist() == [True] and b4[0, 0] == 20 - 15


def test_engine_benchmarks_with_evaluation_footage_are_refused():
    from vidtrace.train.mapdata import DEFAULT_VIDEOS, _eval_footage

    assert _eval_footage({"split": "train", "references": [{"file": "again.mkv"}]}) == set()
    assert _eval_footage({"split": "eval", "references": [{"file": "elf.mp4"}, {"file": "synth5000.mp4"}]}) >= \
        {"elf.mp4"}
    synthetic = _eval_footage({"split": "eval", "references": [{"file": "synth5000.mp4"}]})
    if Path(DEFAULT_VIDEOS).is_dir():
        assert synthetic == set()  # footage generated in code is no evaluation footage
    else:  # without the corpus nothing but a train-split benchmark is known to be safe
        assert synthetic == {"synth5000.mp4"}
