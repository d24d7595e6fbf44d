"""Overlays: text captions, emoji/logo-like shapes, picture-in-picture.

Positions are fractions (0 = top/left edge, 1 = bottom/right edge) of the
room left once the overlay is placed; sizes are fractions of the frame.
An overlay stays at the same place in every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.transforms import _font, _image
from vidtrace.transforms.base import (
    FrameTransform,
    IntRange,
    Range,
    register,
    sample_choice,
    sample_color,
    sample_float,
    sample_int,
)
from vidtrace.types import Clip

_TEXT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "


def _place(rng: np.random.Generator, x: Range, y: Range, size: tuple[int, int], frame: tuple[int, int]) -> tuple[int, int]:
    """(top, left) pixels of a box of `size` (h, w) placed at fractions x, y of the free room."""
    fx, fy = sample_float(rng, x), sample_float(rng, y)
    return int(round(fy * max(0, frame[0] - size[0]))), int(round(fx * max(0, frame[1] - size[1])))


@register("text", "overlay")
@dataclass(frozen=True)
class TextOverlay(FrameTransform):
    """Draw one line of text with the built-in 5x7 bitmap font.

    text: the caption, None for `length` random letters, digits and spaces;
    height: glyph height as a fraction of the frame height (shrunk when the
    line would not fit the width); x, y: position fractions; color: RGB,
    None for random; opacity: of the glyphs, 0..1; box_p: probability of a
    translucent dark box behind the text (subtitle style).
    """

    text: str | None = None
    length: IntRange = (4, 16)
    height: Range = (0.05, 0.15)
    x: Range = (0.0, 1.0)
    y: Range = (0.0, 1.0)
    color: tuple[int, int, int] | None = None
    opacity: Range = (0.6, 1.0)
    box_p: float = 0.3

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        h, w = clip.frames.shape[1:3]
        if self.text is None:
            n = max(1, sample_int(rng, self.length))
            text = "".join(_TEXT_CHARS[i] for i in rng.integers(0, len(_TEXT_CHARS), size=n))
        else:
            text = self.text
        cols = max(1, 6 * len(text) - 1)
        scale = max(1, int(round(sample_float(rng, self.height) * h / _font.GLYPH_H)))
        scale = max(1, min(scale, w // cols))
        size = (_font.GLYPH_H * scale, cols * scale)
        top, left = _place(rng, self.x, self.y, size, (h, w))
        return {"text": text, "scale": scale, "top": top, "left": left, "height": size[0], "width": size[1],
                "color": sample_color(rng, self.color), "opacity": sample_float(rng, self.opacity),
                "box": bool(rng.random() < self.box_p)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        mask = _font.text_mask(p["text"], p["scale"])
        out = frames
        if p["box"]:
            pad = p["scale"]
            box = np.zeros((mask.shape[0] + 2 * pad, mask.shape[1] + 2 * pad, 3), dtype=np.uint8)
            out = _image.blend(out, p["top"] - pad, p["left"] - pad, box, 0.5)
        color = np.broadcast_to(np.asarray(p["color"], dtype=np.uint8), mask.shape + (3,))
        return _image.blend(out, p["top"], p["left"], color, mask * np.float32(p["opacity"]))


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x, y = 1.2 * u, 0.15 - 1.2 * v
    return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Regular five-pointed star, one tip up, outer radius 1, inner 0.382."""
    r = np.sqrt(u * u + v * v)
    half = math.pi / 5
    phi = np.abs(np.mod(np.arctan2(u, -v) + half, 2 * half) - half)  # angle from the nearest tip, 0..pi/5
    px, py = r * np.cos(phi), r * np.sin(phi)
    bx, by = 0.382 * math.cos(half), 0.382 * math.sin(half)  # inner vertex; the tip is (1, 0)
    return (bx - 1) * py - by * (px - 1) >= 0


_SHAPES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "circle": lambda u, v: u * u + v * v <= 1,
    "ring": lambda u, v: (u * u + v * v <= 1) & (u * u + v * v >= 0.3),
    "square": lambda u, v: (np.abs(u) <= 0.9) & (np.abs(v) <= 0.9),
    "triangle": lambda u, v: (v <= 0.9) & (np.abs(u) <= 0.95 * (v + 0.9) / 1.8),
    "star": _star,
    "heart": _heart,
    "smiley": lambda u, v: u * u + v * v <= 1,
}
SHAPES = tuple(_SHAPES)
"""Shape names EmojiOverlay can draw."""


def _smiley_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    eyes = ((np.abs(u) - 0.35) ** 2 + (v + 0.3) ** 2) <= 0.018
    r = np.sqrt(u * u + (v + 0.05) ** 2)
    mouth = (r >= 0.45) & (r <= 0.6) & (v > 0.15)
    return eyes | mouth


def shape_sprite(shape: str, size: int, color: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 [size, size, 3], coverage float32 [size, size]) of a shape."""
    if shape not in _SHAPES:
        raise ConfigError(f"emoji shape must be one of {SHAPES}, got {shape!r}")
    alpha = _image.supersampled_mask(size, size, _SHAPES[shape])
    rgb = np.empty((size, size, 3), dtype=np.uint8)
    if shape == "smiley":
        dark = _image.supersampled_mask(size, size, _smiley_features)[..., None]
        rgb[:] = _image.to_uint8(np.array([255, 204, 0], np.float32) * (1 - dark) + np.float32(40) * dark)
    else:
        rgb[:] = np.asarray(color, dtype=np.uint8)
    return rgb, alpha


@register("emoji", "overlay")
@dataclass(frozen=True)
class EmojiOverlay(FrameTransform):
    """Paste emoji- or logo-like shapes drawn with numpy.

    shape: one of SHAPES or a tuple to choose from (per pasted shape);
    count: how many; size: side of each as a fraction of min(H, W); x, y:
    position fractions; color: RGB or None for random (smileys are always
    yellow); opacity: 0..1.
    """

    shape: str | tuple[str, ...] = SHAPES
    count: IntRange = 1
    size: Range = (0.1, 0.3)
    x: Range = (0.0, 1.0)
    y: Range = (0.0, 1.0)
    color: tuple[int, int, int] | None = None
    opacity: Range = (0.7, 1.0)

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        h, w = clip.frames.shape[1:3]
        items = []
        for _ in range(max(0, sample_int(rng, self.count))):
            shape = sample_choice(rng, self.shape)
            side = max(2, int(round(sample_float(rng, self.size) * min(h, w))))
            top, left = _place(rng, self.x, self.y, (side, side), (h, w))
            items.append({"shape": shape, "size": side, "top": top, "left": left,
                          "color": sample_color(rng, self.color), "opacity": sample_float(rng, self.opacity)})
        return {"shapes": items}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        out = frames.copy()
        for item in p["shapes"]:
            rgb, alpha = shape_sprite(item["shape"], item["size"], item["color"])
            out = _image.blend(out, item["top"], item["left"], rgb, alpha * np.float32(item["opacity"]))
        return out


HOST_KINDS = ("noise", "gradient", "color", "black")


@register("pip", "overlay")
@dataclass(frozen=True)
class PictureInPicture(FrameTransform):
    """Shrink the clip and show it inside a host picture (S2VS video-in-video:
    the input is the donor, so every output frame is still input frame k).

    scale: the donor fits (aspect kept) in a box of this fraction of the
    host's height and width; host: host footage (looped, scaled to the
    donor's frame size unless host_size is True), None for synthetic
    footage of `host_kind` ("noise", "gradient", "color", "black" or a tuple
    to choose from); x, y: position fractions. The output has the input's
    size, or the host's with host_size.
    """

    scale: Range = (0.3, 0.6)
    x: Range = (0.0, 1.0)
    y: Range = (0.0, 1.0)
    host_kind: str | tuple[str, ...] = ("noise", "gradient", "color")
    host: Clip | None = field(default=None, compare=False, repr=False)
    host_size: bool = False

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        h, w = clip.frames.shape[1:3]
        if self.host is not None and len(self.host) == 0:
            raise ConfigError("pip host clip is empty")
        out_h, out_w = self.host.frames.shape[1:3] if (self.host is not None and self.host_size) else (h, w)
        s = sample_float(rng, self.scale, "pip scale", 0.0, 1.0, low_open=True)
        fit = min(s * out_h / h, s * out_w / w)
        dh, dw = max(1, int(round(h * fit))), max(1, int(round(w * fit)))
        top, left = _place(rng, self.x, self.y, (dh, dw), (out_h, out_w))
        kind = "clip" if self.host is not None else sample_choice(rng, self.host_kind, "pip host_kind", HOST_KINDS)
        return {"scale": s, "host": kind, "top": top, "left": left, "height": dh, "width": dw,
                "out_height": out_h, "out_width": out_w}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        t = len(frames)
        size = (p["out_height"], p["out_width"])
        if self.host is not None:
            out = _image.resize(_image.loop_frames(self.host.frames, t), *size)
        else:
            out = _image.synthetic_frames(p["host"], t, size[0], size[1], rng)
        out[:, p["top"]:p["top"] + p["height"], p["left"]:p["left"] + p["width"]] = \
            _image.resize(frames, p["height"], p["width"])
        return out
