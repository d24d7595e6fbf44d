"""Lossy compression round trips, done in memory with PyAV (FFmpeg)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vidtrace.transforms import _image
from vidtrace.transforms.base import FrameTransform, IntRange, Range, frame_step, register, sample_choice, sample_float, sample_int
from vidtrace.types import Clip


@register("jpeg", "codec")
@dataclass(frozen=True)
class Jpeg(FrameTransform):
    """Re-encode every frame as a JPEG (FFmpeg mjpeg, 4:2:0) and decode it.

    qscale: FFmpeg JPEG quantiser scale (``-q:v``), 2 (best) .. 31 (worst,
    smallest files, strongest blocking).
    """

    qscale: IntRange = (8, 31)

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {"qscale": sample_int(rng, self.qscale, "jpeg qscale", 1, 31)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        return _image.encode_decode(frames, "mjpeg", "mjpeg", "yuvj420p", 30.0, qscale=p["qscale"])


_DECODERS = {"libx264": "h264", "mpeg4": "mpeg4"}


@register("reencode", "codec")
@dataclass(frozen=True)
class Reencode(FrameTransform):
    """Encode the clip as a low-bitrate video stream and decode it back.

    codec: "libx264" or "mpeg4" (or a tuple to choose from); bitrate: target
    kilobits per second at the clip's frame rate; preset: x264 speed preset.
    Frame count and timestamps are kept (odd sizes are padded for the
    encoder and cropped back).
    """

    codec: str | tuple[str, ...] = "libx264"
    bitrate: Range = (100.0, 500.0)
    preset: str = "veryfast"

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        codec = sample_choice(rng, self.codec, "reencode codec", tuple(_DECODERS))
        kbps = sample_float(rng, self.bitrate, "reencode bitrate", 0.0, low_open=True)
        return {"codec": codec, "bitrate": kbps, "fps": 1.0 / frame_step(clip.timestamps)}

    def render(self, frames: np.ndarray, p: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        codec = p["codec"]
        # mbtree off keeps x264 deterministic (same frames, same bytes).
        options = {"preset": self.preset, "mbtree": "0"} if codec == "libx264" else None
        return _image.encode_decode(frames, codec, _DECODERS[codec], "yuv420p", p["fps"],
                                    bit_rate=int(p["bitrate"] * 1000), options=options)
