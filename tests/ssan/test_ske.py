"""SKE: the teacher's rule, the sparse uniform mask, thumbnails, windows and the selector."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidtrace.errors import ConfigError
from vidtrace.keyframes import SKE_MODEL, fill_intervals, get_selector, make_thumbs, ske_scores, ske_windows, \
    teacher_keyframes
from vidtrace.types import FrameFeatures


def _codes(bits_set: list[int]) -> np.ndarray:
    """uint8 [N, 32] hashes whose first b bits are set, one per entry."""
    out = np.zeros((len(bits_set), 32), np.uint8)
    for i, b in enumerate(bits_set):
        bits = np.zeros(256, np.uint8)
        bits[:b] = 1
        out[i] = np.packbits(bits)
    return out


def test_teacher_threshold_time_limits_and_quality():
    t = np.arange(12) / 8.0
    #            0   1   2   3   4    5    6    7    8    9   10   11
    bits = [0, 50, 50, 50, 50, 100, 100, 100, 100, 100, 100, 100]
    q = np.full(12, 90)
    q[5] = 10  # the change happens on a low-quality frame: deferred to the next good one
    keep = teacher_keyframes(_codes(bits), q, t, min_distance=40, min_gap=0.375, max_gap=1.0)
    # frame 0 first; 1 differs by 50 but only 0.125 s later (< min_gap); 3 is 0.375 s later and differs: kept;
    # 5 is low quality; 6 differs from 3 by 50 and is 0.375 s later: kept; 11 is 0.625 s after 6 with no change.
    assert np.flatnonzero(keep).tolist() == [0, 3, 6]
    keep = teacher_keyframes(_codes([0] * 20), np.full(20, 90), np.arange(20) / 8.0, max_gap=1.0)
    assert np.flatnonzero(keep).tolist() == [0, 8, 16]  # static: one per max_gap
    assert not teacher_keyframes(_codes([0] * 5), np.zeros(5), np.arange(5) / 8.0).any()


def test_fill_intervals_example():
    keep = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    scores = np.array([0, 0.1, 0.2, 0.9, 0.3, 0.4, 0.5, 0.2, 0.1, 0.0])
    out = fill_intervals(keep, scores, 3)
    assert np.flatnonzero(out).tolist() == [0, 3, 6, 9]
    assert np.flatnonzero(fill_intervals(keep, scores, 0)).tolist() == [0]
    eligible = np.ones(10, bool)
    eligible[3:6] = False
    assert np.flatnonzero(fill_intervals(keep, scores, 3, eligible)).tolist() == [0, 6, 9]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 200), interval=st.integers(1, 20), seed=st.integers(0, 10_000))
def test_fill_intervals_keeps_one_per_interval(n, interval, seed):
    rng = np.random.default_rng(seed)
    keep = rng.random(n) < 0.05
    scores = rng.random(n)
    eligible = rng.random(n) < 0.8
    out = fill_intervals(keep, scores, interval, eligible)
    assert np.all(out[keep])  # never drops a keyframe
    for a in range(0, n, interval):
        if eligible[a:a + interval].any() or keep[a:a + interval].any():
            assert out[a:a + interval].any()
        added = out[a:a + interval] & ~keep[a:a + interval]
        assert added.sum() <= 1 and not (added & ~eligible[a:a + interval]).any()


def test_make_thumbs_shapes_and_values():
    frames = [np.full((48, 64, 3), 200, np.uint8), np.zeros((7, 5, 3), np.uint8)]
    th = make_thumbs(frames, 16)
    assert th.shape == (2, 16, 16) and th.dtype == np.uint8
    assert np.all(th[0] == 200) and np.all(th[1] == 0)
    grad = np.tile(np.linspace(0, 255, 64, dtype=np.float32)[None, :, None], (32, 1, 3)).astype(np.uint8)
    g = make_thumbs([grad], 8)[0]
    assert np.all(np.diff(g[0].astype(int)) > 0)  # left-to-right gradient survives the area average


def test_windows_and_scores_with_fake_student():
    assert ske_windows(0, 16) == []
    assert ske_windows(40, 16) == [(0, 16), (16, 32), (32, 40)]
    thumbs = np.zeros((40, 4, 4), np.uint8)
    thumbs[::5] = 255

    def run(batch):  # logit = +4 for a bright frame, -4 otherwise
        assert batch.shape[1:] == (16, 4, 4)
        return np.where(batch.mean(axis=(2, 3)) > 0.5, 4.0, -4.0)

    s = ske_scores(thumbs, run, 4)
    assert s.shape == (40,)
    np.testing.assert_allclose(s[::5], 1 / (1 + np.exp(-4.0)))
    assert np.all(s[1::5] < 0.05)


needs_model = pytest.mark.skipif(not SKE_MODEL.is_file(), reason="no shipped SKE model")


@needs_model
def test_selector_on_synthetic_features():
    sel = get_selector("ske")
    n = 100
    rng = np.random.default_rng(1)
    thumbs = np.repeat(rng.integers(0, 256, (5, sel.thumb_size, sel.thumb_size), dtype=np.uint8), 20, axis=0)
    feats = FrameFeatures("pdq", "binary", np.arange(n) / 8.0, np.full(n, 90, np.int16),
                          np.zeros((n, 32), np.uint8), thumbs=thumbs)
    keep = sel.select(feats)
    assert keep.dtype == bool and keep.shape == (n,)
    for a in range(0, n, sel.interval):
        assert keep[a:a + sel.interval].any()
    assert keep.mean() < 0.6  # five static shots: far fewer than all frames
    assert sel.config()["name"] == "ske"


@needs_model
def test_selector_needs_thumbnails_and_valid_params():
    sel = get_selector("ske")
    feats = FrameFeatures("pdq", "binary", np.arange(3) / 8.0, np.full(3, 90, np.int16), np.zeros((3, 32), np.uint8))
    with pytest.raises(ConfigError):
        sel.select(feats)
    with pytest.raises(ConfigError):
        sel.scores(np.zeros((3, 5, 5), np.uint8))
    with pytest.raises(ConfigError):
        get_selector("ske", threshold=1.5)
    with pytest.raises(ConfigError):
        get_selector("ske", model="/nonexistent/ske.onnx")


@needs_model
def test_library_with_ske_keyframes_stores_only_keyframes_and_finds_copy(tmp_path):
    """Index time: thumbnails are made during extraction, only SKE keyframes
    (plus the sparse uniform mask) are stored, and a query still finds the copy."""
    from vidtrace.library import Library, LibraryConfig
    from vidtrace.search import SearchParams, search_file
    from vidtrace.synth import render_video
    from vidtrace.videoio import write_video

    write_video(tmp_path / "ref.mp4", render_video(seed=11, duration_s=12.0, width=192, height=144, shots=3))
    cfg = LibraryConfig(fps=8.0, keyframes={"name": "ske"})
    with Library.open(tmp_path / "lib", writable=True, create=True, config=cfg) as lib:
        res = lib.index_files([str(tmp_path / "ref.mp4")], workers=1)
        assert [r.status for r in res] == ["indexed"]
        rec = lib.videos()[0]
        n_basis = int(round(rec.duration * 8))
        assert rec.n_frames < 0.6 * n_basis  # keyframes only, not every basis frame
        assert rec.n_frames >= n_basis // 8  # at least one per mask interval
        times = lib.frame_times(rec.id)
        # the sparse uniform mask: every interval of 8 basis frames (1 s) keeps a frame
        assert set(np.floor(times + 1e-6).astype(int)) >= set(range(n_basis // 8))
        hit = search_file(lib, tmp_path / "ref.mp4", SearchParams())
    assert hit.matches and hit.matches[0].segments


@needs_model
def test_library_refuses_ske_at_another_fps(tmp_path):
    from vidtrace.library import Library, LibraryConfig

    with pytest.raises(ConfigError, match="8 fps"):
        Library.create(tmp_path / "lib", LibraryConfig(fps=2.0, keyframes={"name": "ske"}))
    assert not (tmp_path / "lib").exists() or not any((tmp_path / "lib").iterdir())
