"""Geometric transforms, applied the same way to every frame.

Sizes are in pixels, angles in degrees, fractions relative to the input
frame. Every transform returns uint8 [T, H', W', 3] frames at the input
timestamps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidtrace.transforms import _image
from vidtrace.transforms.base import (
    FrameTransform,
    Range,
    register,
    sample_choice,
    sample_color,
    sample_float,
)
from vidtrace.types import Clip


@register("resized_crop", "spatial")
@dataclass(frozen=True)
class ResizedCrop(FrameTransform):
    """Crop a random box and scale it to `size` (torchvision RandomResizedCrop).

    scale: area of the box as a fraction of the frame; ratio: width/height
    of the box (sampled log-uniformly); size: output (height, width) in
    pixels, None for the input size.
    """

    scale: Range = (0.5, 1.0)
    ratio: Range = (3 / 4, 4 / 3)
    size: tuple[int, int] | None = None

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        h, w = clip.frames.shape[1:3]
        area = h * w
        lo, hi = (self.ratio if isinstance(self.ratio, tuple) else (self.ratio, self.ratio))
        for _ in range(10):
            target = area * sample_float(rng, self.scale)
            aspect = math.exp(sample_float(rng, (math.log(lo), math.log(hi))))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                top = int(rng.integers(0, h - ch + 1))
                left = int(rng.integers(0, w - cw + 1))
                break
        else:  # central crop with the ratio clamped into range
            aspect = w / h
            if aspect < lo:
                cw, ch = w, int(round(w / lo))
            elif aspect > hi:
                cw, ch = int(round(h * hi)), h
            else:
                cw, ch = w, h
            top, left = (h - ch) // 2, (w - cw) // 2
        out_h, out_w = self.size if self.size is not None else (h, w)
        return {"top": top, "left": left, "height": ch, "width": cw, "out_height": int(out_h), "out_width": int(out_w)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        box = frames[:, p["top"]:p["top"] + p["height"], p["left"]:p["left"] + p["width"]]
        return _image.resize(box, p["out_height"], p["out_width"])


@register("hflip", "spatial")
@dataclass(frozen=True)
class HorizontalFlip(FrameTransform):
    """Mirror every frame left to right (the record's params say
    ``mirrored: True``, which makes ``record.flipped`` true)."""

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {"mirrored": True}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return np.ascontiguousarray(frames[:, :, ::-1])


@register("rotate", "spatial")
@dataclass(frozen=True)
class Rotate(FrameTransform):
    """Rotate about the frame centre by `degrees` (positive: clockwise),
    keeping the frame size; uncovered corners are filled with `fill` (RGB).
    Bilinear (FFmpeg ``rotate`` filter)."""

    degrees: Range = (-15.0, 15.0)
    fill: tuple[int, int, int] = (0, 0, 0)

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {"degrees": sample_float(rng, self.degrees)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        r, g, b = self.fill
        args = f"angle={math.radians(p['degrees']):.9f}:fillcolor=0x{r:02x}{g:02x}{b:02x}"
        return _image.ffmpeg_filter(frames, "rotate", args)


@register("rescale", "spatial")
@dataclass(frozen=True)
class Rescale(FrameTransform):
    """Scale the frames down or up by `factor` (both axes; the output size
    changes to round(factor * size), at least 2 pixels)."""

    factor: Range = (0.5, 1.5)

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        f = sample_float(rng, self.factor, "rescale factor", 0.0, low_open=True)
        h, w = clip.frames.shape[1:3]
        return {"factor": f, "out_height": max(2, int(round(h * f))), "out_width": max(2, int(round(w * f)))}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return _image.resize(frames, p["out_height"], p["out_width"])


BORDER_KINDS = ("letterbox", "pillarbox", "windowbox")


@register("borders", "spatial")
@dataclass(frozen=True)
class Borders(FrameTransform):
    """Add letterbox (top/bottom), pillarbox (left/right) or windowbox (all
    sides) bars.

    kind: one of BORDER_KINDS or a tuple to choose from; fraction: share of
    the output height (letterbox) or width (pillarbox), or of both
    (windowbox), covered by the bars, split evenly between the two sides;
    color: bar RGB, None for a random colour; keep_size: True scales the
    picture down so the output keeps the input size, False pads (the output
    grows by 1 / (1 - fraction)).
    """

    kind: str | tuple[str, ...] = ("letterbox", "pillarbox")
    fraction: Range = (0.1, 0.3)
    color: tuple[int, int, int] | None = (0, 0, 0)
    keep_size: bool = True

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        kind = sample_choice(rng, self.kind, "borders kind", BORDER_KINDS)
        frac = sample_float(rng, self.fraction, "borders fraction", 0.0, 1.0, high_open=True)
        h, w = clip.frames.shape[1:3]
        fy = frac if kind in ("letterbox", "windowbox") else 0.0
        fx = frac if kind in ("pillarbox", "windowbox") else 0.0
        if self.keep_size:
            out_h, out_w = h, w
            in_h, in_w = max(1, int(round(h * (1 - fy)))), max(1, int(round(w * (1 - fx))))
        else:
            in_h, in_w = h, w
            out_h, out_w = int(round(h / (1 - fy))), int(round(w / (1 - fx)))
        return {"kind": kind, "fraction": frac, "color": sample_color(rng, self.color),
                "top": (out_h - in_h) // 2, "left": (out_w - in_w) // 2,
                "inner_height": in_h, "inner_width": in_w, "out_height": out_h, "out_width": out_w}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        inner = _image.resize(frames, p["inner_height"], p["inner_width"])
        out = np.empty((len(frames), p["out_height"], p["out_width"], 3), dtype=np.uint8)
        out[:] = np.asarray(p["color"], dtype=np.uint8)
        out[:, p["top"]:p["top"] + p["inner_height"], p["left"]:p["left"] + p["inner_width"]] = inner
        return out
