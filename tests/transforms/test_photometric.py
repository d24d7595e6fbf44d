from __future__ import annotations

import numpy as np
import pytest

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError

from .helpers import make_clip, solid_clip


def diff(a, b):
    return np.abs(a.astype(int) - b.astype(int))


def test_brightness():
    clip = make_clip()
    np.testing.assert_array_equal(vt.Brightness(factor=1.0)(clip)[0].frames, clip.frames)
    assert (vt.Brightness(factor=0.0)(clip)[0].frames == 0).all()
    out, rec = vt.Brightness(factor=2.0)(solid_clip((100, 10, 200)))
    np.testing.assert_array_equal(out.frames[0, 0, 0], [200, 20, 255])
    assert rec.params == {"factor": 2.0}


def test_contrast():
    clip = make_clip()
    np.testing.assert_array_equal(vt.Contrast(factor=1.0)(clip)[0].frames, clip.frames)
    flat = vt.Contrast(factor=0.0)(clip)[0].frames
    assert len(np.unique(flat)) == 1
    assert abs(int(flat[0, 0, 0, 0]) - clip.frames.mean()) < 10
    assert vt.Contrast(factor=1.5)(clip)[0].frames.std() > clip.frames.std()


def test_gamma():
    clip = make_clip()
    np.testing.assert_array_equal(vt.Gamma(gamma=1.0)(clip)[0].frames, clip.frames)
    out, _ = vt.Gamma(gamma=2.0)(solid_clip((128, 0, 255)))
    np.testing.assert_array_equal(out.frames[0, 0, 0], [64, 0, 255])
    with pytest.raises(ConfigError):
        vt.Gamma(gamma=0.0)(clip)


def test_hue():
    clip = make_clip(smooth=True)
    assert diff(vt.Hue(degrees=0.0)(clip)[0].frames, clip.frames).max() <= 1
    assert diff(vt.Hue(degrees=360.0)(clip)[0].frames, clip.frames).max() <= 1
    grey = solid_clip((90, 90, 90))
    assert diff(vt.Hue(degrees=77.0)(grey)[0].frames, grey.frames).max() <= 1
    red = solid_clip((200, 30, 30))
    turned = vt.Hue(degrees=120.0)(red)[0].frames[0, 0, 0]
    assert turned[1] > turned[0]  # red moves towards green


def test_saturation_and_greyscale():
    clip = make_clip(smooth=True)
    assert diff(vt.Saturation(factor=1.0)(clip)[0].frames, clip.frames).max() <= 1
    grey = vt.Saturation(factor=0.0)(clip)[0].frames
    assert diff(grey[..., 0], grey[..., 1]).max() <= 1 and diff(grey[..., 1], grey[..., 2]).max() <= 1
    g = vt.Greyscale()(clip)[0].frames
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    assert diff(g, grey).max() <= 2
    flat = solid_clip((77, 77, 77))
    np.testing.assert_array_equal(vt.Greyscale()(flat)[0].frames, flat.frames)


def test_blur_smooths_noise_and_keeps_flat_frames():
    clip = make_clip()
    out, rec = vt.Blur(sigma=2.0)(clip)
    assert out.frames.astype(float).std() < 0.5 * clip.frames.astype(float).std()
    assert rec.params["frames"] == list(range(8))
    flat = solid_clip((40, 80, 120))
    assert diff(vt.Blur(sigma=3.0)(flat)[0].frames, flat.frames).max() <= 1


def test_blur_per_frame_probability():
    clip = make_clip()
    np.testing.assert_array_equal(vt.Blur(sigma=2.0, frame_p=0.0)(clip)[0].frames, clip.frames)
    out, rec = vt.Blur(sigma=2.0, frame_p=0.5)(clip, 1)
    hit = set(rec.params["frames"])
    assert 0 < len(hit) < 8
    for i in range(8):
        assert np.array_equal(out.frames[i], clip.frames[i]) == (i not in hit)


def test_noise():
    clip = solid_clip((128, 128, 128), t=4, h=64, w=64)
    np.testing.assert_array_equal(vt.Noise(sigma=0.0)(clip)[0].frames, clip.frames)
    out, rec = vt.Noise(sigma=10.0)(clip, 0)
    delta = out.frames.astype(float) - 128
    assert abs(delta.std() - 10) < 0.5 and abs(delta.mean()) < 0.5
    assert not np.array_equal(out.frames[0], out.frames[1])  # independent per frame
    with pytest.raises(ConfigError):
        vt.Noise(sigma=-1.0)(clip)
