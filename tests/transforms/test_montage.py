from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError

from .helpers import check_timestamps, make_clip, solid_clip


def placements_as_segments(rec):
    return [vt.MappedSegment(p["source"], p["output_start"], p["output_end"], p["source_start"], p["source_end"])
            for p in rec.params["placements"]]


def assert_same_segments(derived, planned):
    assert len(derived) == len(planned)
    for d, p in zip(derived, planned):
        assert d.source == p.source and not d.reversed
        for name in ("output_start", "output_end", "source_start", "source_end"):
            assert getattr(d, name) == pytest.approx(getattr(p, name))


def test_single_source_montage():
    clip = make_clip(t=30)
    out, rec = vt.Montage(segment_duration=1.0, gap=0.5, filler="black")(clip, 2)
    (p,) = rec.params["placements"]
    assert p["frames"] == 10
    np.testing.assert_allclose(out.timestamps, 0.1 * np.arange(len(out)))
    assert len(out) == 5 + 10 + 5
    seg = rec.source_index >= 0
    np.testing.assert_array_equal(out.frames[seg], clip.frames[p["first_frame"]:p["first_frame"] + 10])
    assert (out.frames[~seg] == 0).all()
    assert p["output_start"] == pytest.approx(0.5) and p["output_end"] == pytest.approx(1.5)
    assert p["source_end"] - p["source_start"] == pytest.approx(1.0)
    assert_same_segments(rec.segments(), placements_as_segments(rec))


def test_splice_several_sources_of_other_sizes():
    a = make_clip(t=40, seed=1)
    b = make_clip(t=25, h=20, w=30, step=0.05, seed=2)
    c = solid_clip((0, 0, 255), t=12, h=64, w=96)
    out, rec = vt.Montage(segment_duration=(0.5, 2.0), gap=(0.2, 1.0)).splice([a, b, c], rng=4)
    assert out.frames.shape[1:] == (32, 48, 3)
    check_timestamps(out)
    assert sorted(p["source"] for p in rec.params["placements"]) == [0, 1, 2]
    assert rec.source_steps == pytest.approx((0.1, 0.05, 0.1))
    assert_same_segments(rec.segments(), placements_as_segments(rec))
    for k, src in enumerate([a, b, c]):
        at = rec.source_clip == k
        np.testing.assert_array_equal(rec.source_times[at], src.timestamps[rec.source_index[at]])
    blue = rec.source_clip == 2
    assert (np.abs(out.frames[blue].astype(int) - [0, 0, 255]) <= 1).all()
    # source b (20 fps) is played at the output's 10 fps: every other frame
    assert (np.diff(rec.source_index[rec.source_clip == 1]) == 2).all()


def test_more_segments_than_sources_reuses_each_once_per_round():
    out, rec = vt.Montage(segments=5, segment_duration=0.3).splice([make_clip(t=20), make_clip(t=20, seed=3)], 0)
    used = [p["source"] for p in rec.params["placements"]]
    assert len(used) == 5 and sorted(used[:2]) == [0, 1] and sorted(used[2:4]) == [0, 1]


def test_filler_clip_size_and_fps():
    filler = solid_clip((255, 0, 0), t=3, h=10, w=10)
    out, rec = vt.Montage(filler_clip=filler, size=(24, 40), fps=25.0, gap=0.2)(make_clip(), 1)
    assert out.frames.shape[1:3] == (24, 40) and rec.params["fps"] == pytest.approx(25.0)
    fill = rec.source_index < 0
    assert (out.frames[fill] == [255, 0, 0]).all() and rec.params["filler"] == "clip"
    np.testing.assert_allclose(np.diff(out.timestamps), 0.04)


def test_montage_errors():
    with pytest.raises(ConfigError):
        vt.Montage().splice([])
    with pytest.raises(ConfigError):
        vt.Montage(filler="lava")(make_clip())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3))
def test_segments_reproduce_placements(seed, n):
    sources = [make_clip(t=10 + 7 * k, h=8, w=12, seed=k) for k in range(n)]
    out, rec = vt.Montage(segments=(1, 4)).splice(sources, seed)
    assert_same_segments(rec.segments(), placements_as_segments(rec))
