from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError
from vidtrace.transforms.base import frame_step, hold_index, sample_choice, sample_float, sample_int
from vidtrace.types import Segment

from .helpers import make_clip


@given(lo=st.floats(-100, 100), width=st.floats(0, 100), seed=st.integers(0, 1000))
def test_sample_float_stays_in_range(lo, width, seed):
    rng = np.random.default_rng(seed)
    v = sample_float(rng, (lo, lo + width))
    assert lo <= v <= lo + width
    assert sample_float(rng, 3.5) == 3.5


def test_sampling_helpers():
    rng = np.random.default_rng(0)
    assert {sample_int(rng, (2, 4)) for _ in range(100)} == {2, 3, 4}
    assert sample_choice(rng, "a") == "a"
    assert {sample_choice(rng, ("a", "b")) for _ in range(50)} == {"a", "b"}
    with pytest.raises(ConfigError):
        sample_float(rng, (2.0, 1.0))
    with pytest.raises(ConfigError):
        sample_int(rng, (5, 1))


def test_frame_step_and_hold_index():
    assert frame_step(np.array([0.0])) == pytest.approx(1 / 30)
    assert frame_step(np.array([0.0, 0.04, 0.08, 0.2])) == pytest.approx(0.04)
    ts = np.array([0.0, 0.1, 0.2])
    np.testing.assert_array_equal(hold_index(ts, np.array([-1.0, 0.0, 0.05, 0.1, 0.3])), [0, 0, 0, 1, 2])


def test_create_and_registry_errors():
    assert vt.create("speed", factor=2.0) == vt.Speed(factor=2.0)
    with pytest.raises(ConfigError):
        vt.create("nope")
    with pytest.raises(ConfigError):
        vt.create("speed", velocity=2)
    with pytest.raises(ConfigError):
        vt.register("speed", "temporal")(type("Other", (vt.Transform,), {}))


def test_record_json_is_plain():
    _, rec = vt.Compose((vt.Speed(factor=2.0), vt.TemporalShuffleDropout(p_drop=0.5, fill="black")))(make_clip(t=20), 1)
    text = json.dumps(rec.to_json(mapping=True))
    back = json.loads(text)
    assert back["name"] == "compose" and [c["name"] for c in back["children"]] == ["speed", "shuffle_dropout"]
    assert len(back["times"]) == len(rec.times)


def test_segments_of_basic_mappings():
    clip = make_clip()  # 8 frames, 0.1 s each: [0, 0.8)
    (seg,) = vt.Reverse()(clip)[1].segments()
    assert seg.reversed and (seg.source_start, seg.source_end) == pytest.approx((0.0, 0.8))
    assert (seg.output_start, seg.output_end) == pytest.approx((0.0, 0.8))
    (seg,) = vt.Speed(factor=2.0)(clip)[1].segments()
    assert (seg.output_start, seg.output_end) == pytest.approx((0.0, 0.4))
    assert (seg.source_start, seg.source_end) == pytest.approx((0.0, 0.7))  # frames 0..6 shown
    (seg,) = vt.Pause(at=0.5, duration=1.0)(clip)[1].segments()  # repeated frames stay in one segment
    assert (seg.output_start, seg.output_end) == pytest.approx((0.0, 1.8)) and not seg.reversed
    assert seg.to_segment() == Segment(seg.output_start, seg.output_end, seg.source_start, seg.source_end, 1.0)


def test_segments_split_on_direction_change_jump_and_filler():
    clip = make_clip(t=10)
    index = np.array([0, 1, 2, 3, 2, 3, 4, -1, 8, 9])
    rec = vt.TransformRecord.mapped("x", {}, clip, index, 0.1 * np.arange(10))
    segs = rec.segments()
    assert [s.reversed for s in segs] == [False, False, False]
    assert [(s.source_start, s.source_end) for s in segs] == [pytest.approx(v) for v in [(0.0, 0.4), (0.2, 0.5), (0.8, 1.0)]]
    assert [(s.output_start, s.output_end) for s in segs] == [pytest.approx(v) for v in [(0.0, 0.4), (0.4, 0.7), (0.8, 1.0)]]
    jump = vt.TransformRecord.mapped("x", {}, clip, np.array([0, 1, 8, 9]), 0.1 * np.arange(4))
    assert len(jump.segments(max_gap=0.5)) == 2 and len(jump.segments(max_gap=1.0)) == 1
    assert vt.TransformRecord.mapped("x", {}, clip, np.array([-1, -1]), np.array([0.0, 0.1])).segments() == ()


def test_segments_of_a_boomerang():
    clip = make_clip()
    rec = vt.TransformRecord.mapped("x", {}, clip, np.array([0, 1, 2, 3, 2, 1, 0]), 0.1 * np.arange(7))
    fwd, back = rec.segments()
    assert not fwd.reversed and (fwd.source_start, fwd.source_end) == pytest.approx((0.0, 0.4))
    assert back.reversed and (back.source_start, back.source_end) == pytest.approx((0.0, 0.3))
    assert (back.output_start, back.output_end) == pytest.approx((0.4, 0.7))
