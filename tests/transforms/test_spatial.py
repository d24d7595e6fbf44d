from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError

from .helpers import make_clip, solid_clip


def test_hflip_mirrors_and_is_an_involution():
    clip = make_clip()
    out, rec = vt.HorizontalFlip()(clip)
    np.testing.assert_array_equal(out.frames, clip.frames[:, :, ::-1])
    back, _ = vt.HorizontalFlip()(out)
    np.testing.assert_array_equal(back.frames, clip.frames)
    assert rec.is_identity_in_time


def test_resized_crop_full_box_is_identity():
    clip = make_clip()
    out, rec = vt.ResizedCrop(scale=1.0, ratio=48 / 32)(clip, 0)
    assert rec.params["height"] == 32 and rec.params["width"] == 48
    np.testing.assert_array_equal(out.frames, clip.frames)


def test_resized_crop_output_size_and_content():
    clip = make_clip(smooth=True)
    out, rec = vt.ResizedCrop(scale=0.25, size=(20, 30))(clip, 4)
    assert out.frames.shape == (8, 20, 30, 3)
    p = rec.params
    box = clip.frames[:, p["top"]:p["top"] + p["height"], p["left"]:p["left"] + p["width"]].astype(float)
    assert abs(out.frames.mean() - box.mean()) < 6  # shows the cropped box


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lo=st.floats(0.05, 1.0))
def test_resized_crop_box_inside_frame(seed, lo):
    clip = make_clip(t=1)
    _, rec = vt.ResizedCrop(scale=(lo, 1.0))(clip, seed)
    p = rec.params
    assert 0 <= p["top"] and p["top"] + p["height"] <= 32
    assert 0 <= p["left"] and p["left"] + p["width"] <= 48
    assert p["height"] >= 1 and p["width"] >= 1


def test_rotate_zero_is_identity_and_180_turns_over():
    clip = make_clip(smooth=True)
    same, _ = vt.Rotate(degrees=0.0)(clip)
    np.testing.assert_array_equal(same.frames, clip.frames)
    turned, rec = vt.Rotate(degrees=180.0)(clip)
    assert rec.params["degrees"] == 180.0
    diff = np.abs(turned.frames.astype(int) - clip.frames[:, ::-1, ::-1].astype(int))
    assert np.median(diff) <= 2


def test_rotate_fills_corners():
    out, _ = vt.Rotate(degrees=45.0, fill=(255, 0, 255))(solid_clip((10, 200, 10)))
    np.testing.assert_array_equal(out.frames[:, 0, 0], [[255, 0, 255]] * 4)
    np.testing.assert_array_equal(out.frames[:, 16, 24], [[10, 200, 10]] * 4)


@pytest.mark.parametrize("factor,shape", [(0.5, (16, 24)), (2.0, (64, 96)), (1.0, (32, 48))])
def test_rescale_sizes(factor, shape):
    out, rec = vt.Rescale(factor=factor)(solid_clip((30, 60, 90)))
    assert out.frames.shape[1:3] == shape
    assert (rec.params["out_height"], rec.params["out_width"]) == shape
    assert (np.abs(out.frames.astype(int) - [30, 60, 90]) <= 1).all()


def test_rescale_rejects_nonpositive():
    with pytest.raises(ConfigError):
        vt.Rescale(factor=0.0)(make_clip())


def test_letterbox_keeps_size_and_paints_bars():
    out, rec = vt.Borders(kind="letterbox", fraction=0.25, color=(255, 0, 0))(solid_clip((0, 0, 255)))
    assert out.frames.shape == (4, 32, 48, 3)
    assert rec.params["top"] == 4 and rec.params["inner_height"] == 24
    np.testing.assert_array_equal(out.frames[:, :4], np.broadcast_to([255, 0, 0], (4, 4, 48, 3)))
    np.testing.assert_array_equal(out.frames[:, -4:], np.broadcast_to([255, 0, 0], (4, 4, 48, 3)))
    np.testing.assert_array_equal(out.frames[:, 4:28], np.broadcast_to([0, 0, 255], (4, 24, 48, 3)))


def test_pillarbox_padding_grows_frame_and_keeps_pixels():
    clip = make_clip()
    out, rec = vt.Borders(kind="pillarbox", fraction=0.25, keep_size=False)(clip)
    assert out.frames.shape == (8, 32, 64, 3)
    np.testing.assert_array_equal(out.frames[:, :, 8:56], clip.frames)
    assert (out.frames[:, :, :8] == 0).all() and (out.frames[:, :, 56:] == 0).all()


def test_windowbox_random_colour_and_bad_kind():
    out, rec = vt.Borders(kind="windowbox", fraction=0.5, color=None)(solid_clip((1, 2, 3)), 9)
    assert rec.params["kind"] == "windowbox"
    np.testing.assert_array_equal(out.frames[0, 0, 0], rec.params["color"])
    with pytest.raises(ConfigError):
        vt.Borders(kind="frame")(make_clip())
    with pytest.raises(ConfigError):
        vt.Borders(fraction=1.0)(make_clip())
