from __future__ import annotations

import numpy as np
import pytest

import vidtrace.transforms as vt
from vidtrace.errors import ConfigError
from vidtrace.transforms import _font
from vidtrace.transforms.overlay import shape_sprite
from vidtrace.types import Clip

from .helpers import make_clip, solid_clip


def changed_box(a, b):
    ys, xs = np.nonzero((a != b).any(axis=(0, 3)))
    return ys.min(), ys.max() + 1, xs.min(), xs.max() + 1


def test_text_mask_geometry():
    assert _font.text_mask("AB", 1).shape == (7, 11)
    assert _font.text_mask("AB", 3).shape == (21, 33)
    np.testing.assert_array_equal(_font.text_mask("abc"), _font.text_mask("ABC"))
    np.testing.assert_array_equal(_font.text_mask("~"), _font.text_mask("?"))
    assert not _font.text_mask(" ").any() and _font.text_mask("I").any()
    assert set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") <= set(_font.CHARSET)


def test_text_overlay_draws_inside_its_box_in_its_colour():
    clip = solid_clip((0, 0, 0), h=40, w=80)
    t = vt.TextOverlay(text="HI", height=0.35, color=(255, 255, 0), opacity=1.0, box_p=0.0)
    out, rec = t(clip, 3)
    p = rec.params
    assert p["text"] == "HI" and p["scale"] == 2 and (p["height"], p["width"]) == (14, 22)
    top, bottom, left, right = changed_box(out.frames, clip.frames)
    assert p["top"] <= top and bottom <= p["top"] + p["height"]
    assert p["left"] <= left and right <= p["left"] + p["width"]
    lit = out.frames[0][(out.frames[0] != 0).any(axis=-1)]
    assert (lit == [255, 255, 0]).all()
    assert (out.frames == out.frames[0]).all()  # same in every frame


def test_text_overlay_random_text_and_box():
    out, rec = vt.TextOverlay(length=5, box_p=1.0, opacity=1.0)(make_clip(), 1)
    assert len(rec.params["text"]) == 5 and rec.params["box"] is True


def test_every_shape_is_drawn():
    for shape in vt.SHAPES:
        rgb, alpha = shape_sprite(shape, 24, (10, 20, 30))
        assert rgb.shape == (24, 24, 3) and alpha.shape == (24, 24)
        assert 0.2 < alpha.mean() < 0.95, shape
        assert alpha.min() >= 0 and alpha.max() <= 1
    rgb, _ = shape_sprite("smiley", 24, (0, 0, 0))
    np.testing.assert_array_equal(rgb[12, 3], [255, 204, 0])
    with pytest.raises(ConfigError):
        shape_sprite("cat", 10, (0, 0, 0))


def test_emoji_overlay_places_shapes():
    clip = solid_clip((0, 0, 0))
    out, rec = vt.EmojiOverlay(shape="square", count=2, size=0.25, opacity=1.0, color=(9, 9, 9))(clip, 2)
    items = rec.params["shapes"]
    assert len(items) == 2 and all(i["size"] == 8 for i in items)
    mask = np.zeros((32, 48), bool)
    for i in items:
        mask[i["top"]:i["top"] + 8, i["left"]:i["left"] + 8] = True
    changed = (out.frames[0] != 0).any(axis=-1)
    assert changed.any() and not (changed & ~mask).any()


def test_pip_donor_is_scaled_input():
    clip = make_clip(smooth=True)
    out, rec = vt.PictureInPicture(scale=0.5, host_kind="black")(clip, 4)
    p = rec.params
    assert out.frames.shape == clip.frames.shape and (p["height"], p["width"]) == (16, 24)
    inner = out.frames[:, p["top"]:p["top"] + 16, p["left"]:p["left"] + 24]
    expected = vt.Rescale(factor=0.5)(clip)[0].frames
    np.testing.assert_array_equal(inner, expected)
    outside = out.frames.copy()
    outside[:, p["top"]:p["top"] + 16, p["left"]:p["left"] + 24] = 0
    assert (outside == 0).all()
    assert rec.is_identity_in_time


def test_pip_with_host_clip():
    host = solid_clip((0, 255, 0), t=3, h=60, w=100)
    clip = make_clip()
    out, rec = vt.PictureInPicture(scale=0.5, host=host, host_size=True, x=0.0, y=0.0)(clip, 1)
    assert out.frames.shape == (8, 60, 100, 3) and rec.params["host"] == "clip"
    assert (out.frames[:, -1, -1] == [0, 255, 0]).all()
    # donor keeps its aspect ratio inside a 30x50 box
    assert (rec.params["height"], rec.params["width"]) == (30, 45)
    same_size, _ = vt.PictureInPicture(scale=0.5, host=host)(clip, 1)
    assert same_size.frames.shape == clip.frames.shape
    with pytest.raises(ConfigError):
        vt.PictureInPicture(host=Clip(np.zeros((0, 4, 4, 3), np.uint8), np.zeros(0)))(clip)
