from __future__ import annotations

import numpy as np
import pytest

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError

from .helpers import check_record, make_clip


def test_compose_chains_time_mappings_back_to_the_original():
    clip = make_clip()
    out, rec = vt.Compose((vt.Speed(factor=2.0), vt.Reverse(), vt.HorizontalFlip()))(clip)
    np.testing.assert_array_equal(rec.source_index, [6, 4, 2, 0])
    np.testing.assert_array_equal(out.frames, clip.frames[[6, 4, 2, 0]][:, :, ::-1])
    assert [c.name for c in rec.children] == ["speed", "reverse", "hflip"]
    check_record(clip, out, rec)


def test_flips_are_tracked_into_segments():
    clip = make_clip()
    _, rec = vt.Compose((vt.HorizontalFlip(), vt.Reverse()))(clip)
    assert rec.flipped
    (seg,) = rec.segments()
    assert seg.flipped and seg.reversed and seg.to_segment().flipped
    _, rec = vt.Compose((vt.HorizontalFlip(), vt.RandomApply(vt.HorizontalFlip(), p=1.0)))(clip)
    assert not rec.flipped and not rec.segments()[0].flipped
    assert not vt.Rotate()(clip, 0)[1].flipped


def test_reverse_twice_is_identity_in_time():
    clip = make_clip()
    out, rec = vt.Compose((vt.Reverse(), vt.Reverse()))(clip)
    assert rec.is_identity_in_time
    np.testing.assert_array_equal(out.frames, clip.frames)


def test_compose_keeps_filler_through_later_steps():
    clip = make_clip(t=24)
    tsd = vt.TemporalShuffleDropout(p_shuffle=0.0, p_drop=0.5, fill="black")
    out, rec = vt.Compose((tsd, vt.Speed(factor=0.5), vt.Brightness(factor=1.5)))(clip, 5)
    check_record(clip, out, rec)
    first = rec.children[0]
    expected = np.repeat(first.source_index, 2)
    np.testing.assert_array_equal(rec.source_index, expected)


def test_empty_compose_and_identity_copy():
    clip = make_clip()
    for t in (vt.Compose(), vt.Identity()):
        out, rec = t(clip)
        np.testing.assert_array_equal(out.frames, clip.frames)
        assert not np.shares_memory(out.frames, clip.frames) and rec.is_identity_in_time


def test_random_choice_picks_k_distinct():
    options = (vt.Brightness(factor=0.5), vt.Reverse(), vt.Greyscale(), vt.HorizontalFlip())
    rc = vt.RandomChoice(options, k=2)
    seen = set()
    for seed in range(20):
        _, rec = rc(make_clip(), seed)
        chosen = rec.params["chosen"]
        assert len(chosen) == 2 and len(set(chosen)) == 2
        assert [c.name for c in rec.children] == chosen
        seen.add(tuple(chosen))
    assert len(seen) > 3
    _, rec = vt.RandomChoice(options, weights=(0.0, 0.0, 1.0, 0.0))(make_clip(), 1)
    assert rec.params["chosen"] == ["greyscale"]
    with pytest.raises(ConfigError):
        vt.RandomChoice()(make_clip())
    with pytest.raises(ConfigError):
        vt.RandomChoice(options, weights=(1.0,))(make_clip())


def test_random_apply():
    clip = make_clip()
    out, rec = vt.RandomApply(vt.Reverse(), p=0.0)(clip)
    assert rec.params == {"applied": False} and rec.is_identity_in_time and rec.children == ()
    out, rec = vt.RandomApply(vt.Reverse(), p=1.0)(clip)
    assert rec.params == {"applied": True}
    np.testing.assert_array_equal(rec.source_index, 7 - np.arange(8))
    hits = sum(vt.RandomApply(vt.Reverse(), p=0.3)(clip, s)[1].params["applied"] for s in range(200))
    assert 30 < hits < 90


def test_montage_inside_a_pipeline():
    clip = make_clip(t=30)
    pipe = vt.Compose((vt.Trim(frames=20), vt.Montage(segment_duration=1.0, gap=0.5), vt.Speed(factor=2.0)))
    out, rec = pipe(clip, 6)
    check_record(clip, out, rec)
    (seg,) = rec.segments()
    assert seg.source_end - seg.source_start == pytest.approx(2 * (seg.output_end - seg.output_start), abs=0.11)


def test_nested_config_round_trip():
    pipe = vt.Compose((vt.RandomApply(vt.Rotate(degrees=(-5.0, 5.0)), p=0.5),
                       vt.RandomChoice((vt.Speed(factor=(0.5, 2.0)), vt.Reverse()), k=1)))
    cfg = pipe.config()
    assert cfg["name"] == "compose" and cfg["params"]["transforms"][0]["name"] == "random_apply"
    again = vt.from_config(cfg)
    assert again == pipe
    a, b = pipe(make_clip(), 3), again(make_clip(), 3)
    np.testing.assert_array_equal(a[0].frames, b[0].frames)
