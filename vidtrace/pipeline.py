"""Decode -> features for one video file, streaming in batches."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from vidtrace.decode import DecodeOptions, DecodeStats, iter_frames, probe
from vidtrace.features.base import FrameExtractor
from vidtrace.keyframes import make_thumbs
from vidtrace.types import FrameFeatures, VideoInfo


@dataclass(frozen=True)
class ExtractedVideo:
    """A decoded and described video: container info (duration corrected to
    the decoded one when the container has none), per-frame features, and
    optional query variants {name: descriptors [N, ...]} for searching."""

    info: VideoInfo
    features: FrameFeatures
    variants: dict


def extract_video(path: str | os.PathLike, extractor: FrameExtractor, opts: DecodeOptions,
                  variants: tuple[str, ...] = (), batch: int = 64, thumb_size: int | None = None
                  ) -> ExtractedVideo:
    """Decode `path` at opts.fps and describe every sampled frame.

    thumb_size: also keep uint8 [N, s, s] grey thumbnails of the sampled
    frames (FrameFeatures.thumbs) for a keyframe selector that needs them.
    Memory stays bounded by `batch` frames; raises VideoError naming the file
    on unusable input.
    """
    path = str(path)
    info = probe(path)
    stats = DecodeStats()
    times: list[float] = []
    descs: list[np.ndarray] = []
    quals: list[np.ndarray] = []
    var_parts: dict[str, list[np.ndarray]] = {}
    thumbs: list[np.ndarray] = []
    buf: list[np.ndarray] = []

    def flush() -> None:
        if not buf:
            return
        if thumb_size:
            thumbs.append(make_thumbs(buf, thumb_size))
        d, q, var = extractor.describe(buf, variants)
        for k, v in var.items():
            var_parts.setdefault(k, []).append(v)
        descs.append(d)
        quals.append(q)
        buf.clear()

    for fr in iter_frames(path, opts, stats):
        times.append(fr.timestamp)
        buf.append(fr.rgb)
        if len(buf) >= batch:
            flush()
    flush()
    duration = info.duration if info.duration > 0 else stats.duration
    duration = max(duration, stats.duration) if stats.duration < 1.5 * max(info.duration, 1e-9) else duration
    info = VideoInfo(info.path, info.width, info.height, info.fps or stats.native_fps, float(duration),
                     info.rotation, info.codec, info.container)
    feats = FrameFeatures(
        name=extractor.name,
        kind=extractor.kind,
        timestamps=np.asarray(times, dtype=np.float64),
        quality=np.concatenate(quals).astype(np.int16),
        descriptors=np.concatenate(descs),
        thumbs=np.concatenate(thumbs) if thumb_size else None,
    )
    return ExtractedVideo(info, feats, {k: np.concatenate(v) for k, v in var_parts.items()})
