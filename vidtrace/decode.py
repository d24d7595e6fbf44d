"""Decoding: probe a video file and stream sampled RGB frames with exact timestamps.

Frames are never all held in memory: `iter_frames` yields one sampled frame at
a time. Timestamps are the frames' own presentation times in seconds, relative
to the stream start, so variable-frame-rate files keep exact times.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from vidtrace.errors import ConfigError, VideoError
from vidtrace.types import VideoInfo

# Decoded-duration / container-duration ratio under which a file counts as truncated.
_TRUNCATED_RATIO = 0.85


@dataclass(frozen=True)
class SampledFrame:
    """One sampled frame: rgb uint8 [H, W, 3] (display orientation), timestamp in seconds."""

    timestamp: float
    rgb: np.ndarray


@dataclass(frozen=True)
class DecodeOptions:
    """How to sample frames.

    fps: sampling rate in frames per second (the first frame of each 1/fps
    interval is taken; 0 or None = every frame); max_size: longest side in
    pixels of the returned frames (aspect kept; 0 = native size); exact_size:
    (width, height) to resize every frame to, overriding max_size;
    skip_nonref: let the decoder skip non-reference frames when sampling
    sparsely (about 2-3x less decode work, timestamps stay exact);
    strict: raise VideoError on truncated or partly corrupt streams instead
    of returning the frames that decoded.
    """

    fps: float | None = 2.0
    max_size: int = 512
    exact_size: tuple[int, int] | None = None
    skip_nonref: bool = True
    strict: bool = True

    def __post_init__(self) -> None:
        if self.fps is not None and (not math.isfinite(self.fps) or self.fps < 0):
            raise ConfigError(f"sampling fps must be a positive number, got {self.fps!r}")
        if self.max_size < 0:
            raise ConfigError(f"max_size must be >= 0, got {self.max_size!r}")


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise VideoError(path, "file not found")
    if os.path.isdir(path):
        raise VideoError(path, "is a directory, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "empty file (0 bytes)")


def _open(path: str):
    import av

    _check_file(path)
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise VideoError(path, "not a video file, or corrupt/truncated beyond repair (FFmpeg found no valid data)") from None
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"cannot be opened ({exc.strerror or exc})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(path, f"cannot be opened ({exc})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(path, "contains no video stream")
    return container


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read container metadata without decoding every frame.

    Rotation is read from the first decoded frame's display matrix (PyAV's
    `frame.rotation`), which is where FFmpeg reports it.
    """
    path = str(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        rotation = 0
        width, height = stream.codec_context.width, stream.codec_context.height
        try:
            for frame in container.decode(stream):
                rotation = _cw_rotation(frame)
                width, height = frame.width, frame.height
                break
        except Exception:
            pass
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            path=path,
            width=int(width),
            height=int(height),
            fps=fps,
            duration=duration,
            rotation=rotation,
            codec=stream.codec_context.name,
            container=container.format.name,
        )
    finally:
        container.close()


def _cw_rotation(frame) -> int:
    """Clockwise rotation (0/90/180/270) needed to display `frame` upright.

    FFmpeg's display matrix angle is counter-clockwise; the player rotates
    by its negation.
    """
    rot = getattr(frame, "rotation", 0) or 0
    return int(round(-float(rot) / 90.0)) % 4 * 90


def _target_size(width: int, height: int, opts: DecodeOptions, rotated: bool) -> tuple[int, int]:
    """Size (w, h) to convert a decoded frame to, before display rotation."""
    if opts.exact_size is not None:
        w, h = opts.exact_size
        return (h, w) if rotated else (w, h)
    if opts.max_size and max(width, height) > opts.max_size:
        scale = opts.max_size / max(width, height)
        return max(2, int(round(width * scale))), max(2, int(round(height * scale)))
    return width, height


@dataclass
class DecodeStats:
    """Filled in by iter_frames as it goes: frames decoded, last presentation
    time seen (s), native frame rate (fps, 0 if unknown) and the decoded
    duration (s: last time + one native frame)."""

    decoded: int = 0
    last_time: float = 0.0
    native_fps: float = 0.0

    @property
    def duration(self) -> float:
        step = 1.0 / self.native_fps if self.native_fps else 0.0
        return self.last_time + step if self.decoded else 0.0


def sample_times(times: np.ndarray, fps: float) -> np.ndarray:
    """Indices of the frames :func:`iter_frames` keeps when sampling frames at
    ascending ``times`` (seconds) at ``fps``: the first frame of every 1/fps
    interval. Used to thin features described at a denser rate."""
    bucket = np.floor(np.asarray(times, dtype=np.float64) * fps + 1e-6)
    keep = np.r_[True, bucket[1:] > np.maximum.accumulate(bucket)[:-1]] if bucket.size else np.zeros(0, bool)
    return np.flatnonzero(keep)


def iter_frames(path: str | os.PathLike, opts: DecodeOptions | None = None,
                stats: DecodeStats | None = None) -> Iterator[SampledFrame]:
    """Yield sampled frames of `path` in presentation order.

    Raises VideoError naming the file when it cannot be opened, has no video
    stream, yields no frame at all, or (with opts.strict) is truncated or
    corrupt part-way.
    """
    import av

    opts = opts or DecodeOptions()
    path = str(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        native_fps = float(stream.average_rate) if stream.average_rate else 0.0
        stats = stats if stats is not None else DecodeStats()
        stats.native_fps = native_fps
        sample_fps = opts.fps or 0.0
        if opts.skip_nonref and sample_fps and native_fps and sample_fps * 3 <= native_fps:
            stream.codec_context.skip_frame = "NONREF"
        start = stream.start_time if stream.start_time is not None else None
        tb = float(stream.time_base) if stream.time_base is not None else None
        expected = 0.0
        if stream.duration is not None and tb:
            expected = float(stream.duration) * tb
        elif container.duration is not None:
            expected = container.duration / 1_000_000

        next_bucket = -math.inf
        n_decoded = 0
        last_t = 0.0
        yielded = 0
        first_pts = None
        try:
            for frame in container.decode(stream):
                n_decoded += 1
                if frame.pts is not None and tb:
                    if first_pts is None:
                        first_pts = start if start is not None else frame.pts
                        first_pts = min(first_pts, frame.pts)
                    t = (frame.pts - first_pts) * tb
                else:
                    t = (n_decoded - 1) / (native_fps or 25.0)
                last_t = max(last_t, t)
                stats.decoded, stats.last_time = n_decoded, last_t
                if sample_fps:
                    bucket = math.floor(t * sample_fps + 1e-6)
                    if bucket <= next_bucket:
                        continue
                    next_bucket = bucket
                cw = _cw_rotation(frame)
                w, h = _target_size(frame.width, frame.height, opts, rotated=cw in (90, 270))
                rgb = frame.to_ndarray(width=w, height=h, format="rgb24")
                if cw:
                    rgb = np.ascontiguousarray(np.rot90(rgb, k=-cw // 90))
                yielded += 1
                yield SampledFrame(float(t), rgb)
        except av.error.FFmpegError as exc:
            if opts.strict or yielded == 0:
                where = f" after {last_t:.2f} s" if n_decoded else ""
                raise VideoError(path, f"corrupt or truncated video stream{where} ({exc.strerror or exc})") from None
        if yielded == 0:
            raise VideoError(path, "no decodable video frames (truncated, corrupt, or empty stream)")
        if opts.strict and expected > 2.0 and native_fps:
            decoded_span = last_t + 1.0 / native_fps
            if decoded_span < _TRUNCATED_RATIO * expected:
                raise VideoError(
                    path, f"truncated: frames stop at {decoded_span:.2f} s but the container says {expected:.2f} s"
                )
    finally:
        container.close()


def decode_throughput_frames(path: str | os.PathLike, skip_nonref: bool = False) -> int:
    """Decode every frame without conversion (decode-only benchmark); returns the frame count."""
    container = _open(str(path))
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if skip_nonref:
            stream.codec_context.skip_frame = "NONREF"
        return sum(1 for _ in container.decode(stream))
    finally:
        container.close()


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (the library's content key)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .gif .mpg .mpeg .ts .mts .m2ts .flv .wmv .3gp .ogv .y4m".split()
)


def expand_paths(paths: list[str | os.PathLike]) -> list[str]:
    """Files given directly are kept as they are; folders are walked
    recursively for files with a video extension. Order is stable (sorted)."""
    out: list[str] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS:
                    out.append(str(f))
        else:
            out.append(str(p))
    return out
