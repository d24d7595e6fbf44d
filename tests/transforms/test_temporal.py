from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError
from vidtrace.types import Clip

from .helpers import check_record, check_timestamps, make_clip


def test_trim_fraction_and_exact_frames():
    clip = make_clip(start=5.0)
    out, rec = vt.Trim(keep=0.5, start=1.0)(clip)
    np.testing.assert_array_equal(rec.source_index, [4, 5, 6, 7])
    np.testing.assert_array_equal(out.frames, clip.frames[4:])
    np.testing.assert_allclose(out.timestamps, [5.0, 5.1, 5.2, 5.3])
    assert rec.params["start"] == pytest.approx(5.4) and rec.params["duration"] == pytest.approx(0.4)
    out, rec = vt.Trim(frames=3)(clip, 8)
    first = rec.params["first"]
    np.testing.assert_array_equal(rec.source_index, [first, first + 1, first + 2])
    assert len(vt.Trim(frames=100)(clip)[0]) == 8
    with pytest.raises(ConfigError):
        vt.Trim(keep=0.0)(clip)


def test_speed_x2_halves_duration():
    clip = make_clip()
    out, rec = vt.Speed(factor=2.0)(clip)
    np.testing.assert_array_equal(rec.source_index, [0, 2, 4, 6])
    np.testing.assert_array_equal(out.frames, clip.frames[::2])
    assert out.duration == pytest.approx(clip.duration / 2)
    np.testing.assert_allclose(np.diff(out.timestamps), 0.1)


def test_speed_half_doubles_duration():
    clip = make_clip()
    out, rec = vt.Speed(factor=0.5)(clip)
    np.testing.assert_array_equal(rec.source_index, np.repeat(np.arange(8), 2))
    assert out.duration == pytest.approx(clip.duration * 2)
    with pytest.raises(ConfigError):
        vt.Speed(factor=0.0)(clip)


def test_frame_drop():
    clip = make_clip()
    out, rec = vt.FrameDrop(p=0.0)(clip)
    np.testing.assert_array_equal(out.frames, clip.frames)
    out, rec = vt.FrameDrop(p=1.0)(clip, 4)
    assert len(out) == 1 and rec.params["dropped"] == 7
    out, rec = vt.FrameDrop(p=0.5)(clip, 2)
    np.testing.assert_array_equal(out.timestamps, clip.timestamps[rec.source_index])  # times kept
    assert (np.diff(rec.source_index) > 0).all() and len(out) + rec.params["dropped"] == 8


def test_frame_rate_keeps_duration():
    clip = make_clip()  # 10 fps, 0.8 s
    low, rec = vt.FrameRate(fps=5.0)(clip)
    np.testing.assert_array_equal(rec.source_index, [0, 2, 4, 6])
    np.testing.assert_allclose(low.timestamps, [0.0, 0.2, 0.4, 0.6])
    high, rec = vt.FrameRate(fps=20.0)(clip)
    assert len(high) == 16 and high.duration == pytest.approx(clip.duration)
    np.testing.assert_array_equal(rec.source_index, np.repeat(np.arange(8), 2))


def test_pause_repeats_one_frame_and_shifts_the_rest():
    clip = make_clip()
    out, rec = vt.Pause(at=3 / 7, duration=0.3)(clip)
    np.testing.assert_array_equal(rec.source_index, [0, 1, 2, 3, 3, 3, 3, 4, 5, 6, 7])
    np.testing.assert_allclose(out.timestamps, 0.1 * np.arange(11))
    assert rec.params["repeats"] == 3 and rec.params["at"] == pytest.approx(0.3)
    assert out.duration == pytest.approx(clip.duration + 0.3)


def test_reverse_maps_i_to_last_minus_i():
    clip = make_clip(start=2.0)
    out, rec = vt.Reverse()(clip)
    np.testing.assert_array_equal(rec.source_index, 7 - np.arange(8))
    np.testing.assert_array_equal(out.frames, clip.frames[::-1])
    np.testing.assert_allclose(out.timestamps, clip.timestamps)
    np.testing.assert_allclose(rec.source_times, clip.timestamps[::-1])


def test_reverse_irregular_timeline_is_mirrored():
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    out, _ = vt.Reverse()(Clip(frames, np.array([1.0, 1.1, 1.5])))
    np.testing.assert_allclose(out.timestamps, [1.0, 1.4, 1.5])


def test_shuffle_dropout_without_shuffle_or_drop_is_identity():
    clip = make_clip(t=20)
    out, rec = vt.TemporalShuffleDropout(p_shuffle=0.0, p_drop=0.0)(clip, 1)
    np.testing.assert_array_equal(out.frames, clip.frames)
    chunks = rec.params["chunks"]
    lengths = [b - a for a, b in chunks]
    assert all(4 <= n <= 10 for n in lengths[:-1]) and sum(lengths) == 20


def test_shuffle_dropout_shuffle_keeps_chunks_contiguous():
    clip = make_clip(t=40)
    out, rec = vt.TemporalShuffleDropout(p_shuffle=1.0, p_drop=0.0, max_len=6)(clip, 3)
    assert rec.params["shuffled"] and sorted(rec.source_index.tolist()) == list(range(40))
    chunks = [np.arange(a, b) for a, b in rec.params["chunks"]]
    np.testing.assert_array_equal(rec.source_index, np.concatenate([chunks[k] for k in rec.params["order"]]))
    assert len(rec.segments(max_gap=0.05)) >= 2


@pytest.mark.parametrize("fill", ["black", "noise", "discard"])
def test_shuffle_dropout_fills(fill):
    clip = make_clip(t=24)
    out, rec = vt.TemporalShuffleDropout(p_shuffle=0.0, p_drop=0.5, fill=fill)(clip, 5)
    dropped = rec.params["dropped"]
    assert dropped and len(dropped) < len(rec.params["chunks"])
    filler = rec.source_index < 0
    if fill == "discard":
        assert not filler.any() and len(out) < 24
    else:
        assert len(out) == 24 and filler.sum() == sum(b - a for k, (a, b) in enumerate(rec.params["chunks"]) if k in dropped)
        assert np.isnan(rec.source_times[filler]).all()
        if fill == "black":
            assert (out.frames[filler] == 0).all()
        else:
            assert out.frames[filler].std() > 50
    check_timestamps(out)


def test_shuffle_dropout_keeps_a_chunk():
    out, rec = vt.TemporalShuffleDropout(p_drop=1.0, fill="discard")(make_clip(t=16), 0)
    assert len(out) >= 1 and len(rec.params["dropped"]) == len(rec.params["chunks"]) - 1


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 30), seed=st.integers(0, 10**6),
       name=st.sampled_from(["trim", "speed", "frame_drop", "frame_rate", "pause", "reverse", "shuffle_dropout"]))
def test_temporal_mapping_invariants(t, seed, name):
    clip = make_clip(t=t, h=4, w=6, seed=seed % 7)
    out, rec = vt.create(name)(clip, seed)
    check_timestamps(out)
    check_record(clip, out, rec)
    ok = rec.source_index >= 0
    np.testing.assert_array_equal(out.frames[ok], clip.frames[rec.source_index[ok]])  # whole frames copied
