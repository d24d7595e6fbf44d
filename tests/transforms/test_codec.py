from __future__ import annotations

import numpy as np
import pytest

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError

from .helpers import make_clip


def err(a, b):
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def test_jpeg_quality_orders_error():
    clip = make_clip(smooth=True)
    fine, rec = vt.Jpeg(qscale=2)(clip)
    coarse, _ = vt.Jpeg(qscale=31)(clip)
    assert rec.params == {"qscale": 2}
    assert fine.frames.shape == clip.frames.shape
    assert err(fine.frames, clip.frames) < 6
    assert err(fine.frames, clip.frames) < err(coarse.frames, clip.frames)


def test_jpeg_odd_size_and_bad_qscale():
    clip = make_clip(t=2, h=31, w=47, smooth=True)
    out, _ = vt.Jpeg(qscale=5)(clip)
    assert out.frames.shape == (2, 31, 47, 3)
    with pytest.raises(ConfigError):
        vt.Jpeg(qscale=40)(clip)


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_reencode_keeps_frames_and_times(codec):
    clip = make_clip(t=12, h=33, w=49, smooth=True)
    out, rec = vt.Reencode(codec=codec, bitrate=800.0)(clip)
    assert out.frames.shape == clip.frames.shape
    np.testing.assert_array_equal(out.timestamps, clip.timestamps)
    assert rec.params["codec"] == codec and rec.params["fps"] == pytest.approx(10.0)
    assert err(out.frames, clip.frames) < 25


def test_reencode_low_bitrate_is_lossier():
    clip = make_clip(t=12, h=64, w=96, seed=1)
    high, _ = vt.Reencode(bitrate=20000.0)(clip)
    low, _ = vt.Reencode(bitrate=20.0)(clip)
    assert err(high.frames, clip.frames) < err(low.frames, clip.frames)


def test_reencode_rejects_unknown_codec():
    with pytest.raises(ConfigError):
        vt.Reencode(codec="vp9")(make_clip())
