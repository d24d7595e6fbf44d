"""Colour, blur and noise transforms.

Global colour changes (brightness, contrast, gamma, hue, saturation,
greyscale) are applied identically to every frame; blur can hit a random
subset of frames and noise is drawn independently per frame, as the S2VS
"frame transformations". Pixel values are in 0..255.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidtrace.transforms import _image
from vidtrace.transforms.base import FrameTransform, Range, register, sample_float
from vidtrace.types import Clip

_LEVELS = np.arange(256, dtype=np.float64)

# RGB <-> YIQ (NTSC); hue is a rotation of the IQ plane
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)
_LUMA_ROWS = np.repeat(_RGB_TO_YIQ[:1], 3, axis=0)  # every output channel = luma


class _FactorTransform(FrameTransform):
    """A global colour change controlled by one sampled number `factor`."""

    factor: Range

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {"factor": sample_float(rng, self.factor, f"{self.name} factor", 0.0)}


@register("brightness", "photometric")
@dataclass(frozen=True)
class Brightness(_FactorTransform):
    """Multiply every pixel value by `factor` (1 = unchanged)."""

    factor: Range = (0.6, 1.4)

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return _image.apply_lut(frames, _image.to_uint8(_LEVELS * p["factor"]))


@register("contrast", "photometric")
@dataclass(frozen=True)
class Contrast(_FactorTransform):
    """Scale the distance of every value from the clip's mean luma by
    `factor` (1 = unchanged, 0 = flat grey)."""

    factor: Range = (0.6, 1.4)

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        mean = float(_image.luma(frames[:: max(1, len(frames) // 8)]).mean())
        return _image.apply_lut(frames, _image.to_uint8(mean + (_LEVELS - mean) * p["factor"]))


@register("gamma", "photometric")
@dataclass(frozen=True)
class Gamma(FrameTransform):
    """out = 255 * (in / 255) ** gamma (gamma > 1 darkens)."""

    gamma: Range = (0.6, 1.6)

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {"gamma": sample_float(rng, self.gamma, "gamma", 0.0, low_open=True)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return _image.apply_lut(frames, _image.to_uint8(255.0 * (_LEVELS / 255.0) ** p["gamma"]))


@register("hue", "photometric")
@dataclass(frozen=True)
class Hue(FrameTransform):
    """Rotate hue by `degrees` (a rotation of the YIQ chroma plane; luma kept)."""

    degrees: Range = (-45.0, 45.0)

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {"degrees": sample_float(rng, self.degrees)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        a = math.radians(p["degrees"])
        rot = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
        return _image.apply_color_matrix(frames, _YIQ_TO_RGB @ rot @ _RGB_TO_YIQ)


@register("saturation", "photometric")
@dataclass(frozen=True)
class Saturation(_FactorTransform):
    """Blend each pixel with its grey value: 0 = greyscale, 1 = unchanged,
    > 1 = more saturated."""

    factor: Range = (0.3, 1.7)

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        f = p["factor"]
        return _image.apply_color_matrix(frames, f * np.eye(3) + (1 - f) * _LUMA_ROWS)


@register("greyscale", "photometric")
@dataclass(frozen=True)
class Greyscale(FrameTransform):
    """Replace every pixel by its BT.601 luma (still 3 channels)."""

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return np.repeat(_image.luma(frames)[..., None], 3, axis=-1)


@register("blur", "photometric")
@dataclass(frozen=True)
class Blur(FrameTransform):
    """Gaussian blur with standard deviation `sigma` pixels (FFmpeg gblur).

    frame_p: probability that each frame is blurred (1 = all frames; below
    1 mimics the S2VS per-frame blur). The same sigma serves every frame.
    """

    sigma: Range = (0.5, 3.0)
    frame_p: float = 1.0

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        sigma = sample_float(rng, self.sigma, "blur sigma", 0.0)
        which = rng.random(len(clip)) < self.frame_p
        return {"sigma": sigma, "frames": np.flatnonzero(which).tolist()}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        which = np.zeros(len(frames), dtype=bool)
        which[p["frames"]] = True
        if p["sigma"] == 0:
            return frames.copy()
        return _image.ffmpeg_filter(frames, "gblur", f"sigma={p['sigma']:.6f}:steps=2", which)


@register("noise", "photometric")
@dataclass(frozen=True)
class Noise(FrameTransform):
    """Add Gaussian noise of standard deviation `sigma` (0..255 units),
    independent per pixel, channel and frame."""

    sigma: Range = (2.0, 20.0)

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {"sigma": sample_float(rng, self.sigma, "noise sigma", 0.0)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        sigma = np.float32(p["sigma"])

        def add(part: np.ndarray, _start: int) -> np.ndarray:
            return _image.to_uint8(part + sigma * rng.standard_normal(part.shape, dtype=np.float32))

        return _image.map_chunks(frames, add)
