"""Writing video files (for the demo, the tests and the benchmarks).

`write_video` encodes RGB frames with PyAV, choosing the codec from the file
extension:

=========  ==========  =============================================
extension  container   codec (pixel format)
=========  ==========  =============================================
.mp4 .m4v  mp4         libx264 (yuv420p; yuv444p when a side is odd)
.mov       mov         libx264 (as .mp4)
.mkv       matroska    libx264 (as .mp4)
.webm      webm        libvpx-vp9 (yuv420p); codec="libvpx" for VP8
.avi       avi         mpeg4 (yuv420p)
.gif       gif         gif (pal8: fixed 6x7x6 colour cube, ordered dither)
=========  ==========  =============================================

Odd frame sizes: H.264 cannot code 4:2:0 (or 4:2:2) pictures of odd size, so
libx264 switches to yuv444p by default when a side is odd; the file keeps the
exact size. Only when the caller forces a subsampled pix_fmt for libx264 are
the frames padded (last row / column repeated) to even size, and the file is
then one pixel wider and/or taller. VP8, VP9, MPEG-4 part 2 and GIF take odd
sizes as they are.

Timestamps: every frame gets an explicit presentation time (seconds, shifted
so the first frame is at 0), written as pts in a fine time base (1/90000 s;
Matroska/WebM store milliseconds), so variable frame rate round-trips. AVI has
no timestamps and MPEG-4 part 2 a coarse time base: with them, times are
rounded to the 1/fps grid. GIF stores delays in 1/100 s.

Rotation: `rotation` (clockwise display rotation, degrees) is written as a
display matrix (AV_PKT_DATA_DISPLAYMATRIX coded side data) with PyAV's
`VideoStream.set_display_rotation` (PyAV >= 18); mp4/mov store it in the track
header matrix and Matroska/WebM as projection pose, and decoders report it on
every frame as `VideoFrame.rotation` (counter-clockwise degrees, so a
clockwise 90 reads back as -90; `read_rotation` converts back). FFmpeg >= 7
no longer honours the old `rotate` stream metadata tag, so it is not used.
AVI and GIF cannot store a rotation.

Files are written to a temporary name in the same folder and renamed into
place when complete, so a path that exists is a finished file.

`read_all_frames` and `read_rotation` are small helpers for tests (full
decode of small files); the engine's decoder lives elsewhere.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from vidtrace.types import Clip

__all__ = ["gif_palette", "read_all_frames", "read_rotation", "write_video"]

# extension -> (container format, default codec)
_CONTAINERS = {
    ".mp4": ("mp4", "libx264"),
    ".m4v": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
    ".avi": ("avi", "mpeg4"),
    ".gif": ("gif", "gif"),
}
_ROTATABLE = {"mp4", "mov", "matroska", "webm"}
_FINE_TIME_BASE = Fraction(1, 90000)
_GIF_TIME_BASE = Fraction(1, 100)
_GIF_LEVELS = (6, 7, 6)  # palette levels of R, G, B (252 colours)
_BAYER4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], dtype=np.float32) / 16.0 - 0.5


def gif_palette() -> np.ndarray:
    """uint8 [256, 4] ARGB palette of the GIF writer: a 6x7x6 RGB cube
    (index = 42 r + 6 g + b) followed by 4 unused black entries."""
    lr, lg, lb = _GIF_LEVELS
    r, g, b = np.meshgrid(np.arange(lr), np.arange(lg), np.arange(lb), indexing="ij")
    cube = np.stack([r / (lr - 1), g / (lg - 1), b / (lb - 1)], axis=-1).reshape(-1, 3)
    pal = np.zeros((256, 4), dtype=np.uint8)
    pal[:, 0] = 255
    pal[: cube.shape[0], 1:] = np.round(cube * 255.0).astype(np.uint8)
    return pal


def _quantise_gif(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W] palette indices (see gif_palette) of uint8 [H, W, 3] RGB,
    with 4x4 ordered dithering."""
    h, w = rgb.shape[:2]
    dither = np.tile(_BAYER4, ((h + 3) // 4, (w + 3) // 4))[:h, :w, None]
    levels = np.array(_GIF_LEVELS, dtype=np.float32) - 1.0
    q = np.floor(rgb.astype(np.float32) * (levels / 255.0) + 0.5 + dither)
    q = np.clip(q, 0.0, levels).astype(np.uint8)
    lr, lg, lb = _GIF_LEVELS
    return q[..., 0] * (lg * lb) + q[..., 1] * lb + q[..., 2]


def _frame_source(frames, timestamps, fps) -> tuple[Iterator[np.ndarray], np.ndarray | None, float | None]:
    """(frame iterator, timestamps float64 [T] or None, fps or None) from the
    write_video arguments."""
    if isinstance(frames, Clip):
        if timestamps is None:
            timestamps = frames.timestamps
        frames = frames.frames
    if timestamps is not None:
        timestamps = np.asarray(timestamps, dtype=np.float64)
        if timestamps.ndim != 1:
            raise ValueError(f"timestamps must be 1-D seconds, got shape {timestamps.shape}")
        if timestamps.size and not np.all(np.isfinite(timestamps)):
            raise ValueError("timestamps must be finite seconds")
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"frames must be uint8 [T, H, W, 3], got shape {frames.shape}")
        if timestamps is not None and len(timestamps) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(timestamps)} timestamps")
    return iter(frames), timestamps, fps


def _nominal_rate(fps: float | None, timestamps: np.ndarray | None) -> Fraction:
    """Stream frame rate (frames per second) as a fraction."""
    if fps is None:
        if timestamps is not None and timestamps.size >= 2:
            step = float(np.median(np.diff(timestamps)))
            fps = 1.0 / step if step > 0 else 25.0
        else:
            fps = 25.0
    if not (fps > 0 and np.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _codec_options(codec: str, crf: float | None, bitrate: int | None, width: int, height: int,
                   rate: Fraction) -> tuple[dict[str, str], int | None]:
    """(encoder options, bit_rate) for quality settings; see write_video."""
    if codec == "libx264":
        # mbtree off: with it x264's output bytes vary between runs on the same frames.
        opts = {"preset": "fast", "mbtree": "0"}
        if bitrate is None:
            opts["crf"] = str(20 if crf is None else crf)
        return opts, bitrate
    if codec == "libvpx-vp9":
        opts = {"deadline": "good", "cpu-used": "5", "row-mt": "1"}
        if bitrate is None:
            opts.update({"crf": str(32 if crf is None else int(crf)), "b": "0"})
        return opts, bitrate
    if codec == "libvpx":
        # VP8's crf is constrained quality: it needs a bit-rate ceiling.
        rate_bps = bitrate or int(0.5 * width * height * float(rate))
        opts = {"deadline": "good", "cpu-used": "4", "crf": str(10 if crf is None else int(crf))}
        return opts, rate_bps
    if codec == "mpeg4":
        if bitrate is None:
            # crf means qscale here (2 best .. 31 worst): global_quality = q * FF_QP2LAMBDA.
            q = 3 if crf is None else int(crf)
            return {"flags": "+qscale", "global_quality": str(q * 118)}, None
        return {}, bitrate
    return {}, bitrate


def _pts(timestamps: np.ndarray, time_base: Fraction, path: Path) -> np.ndarray:
    """int64 [T] pts in time_base units of timestamps (seconds, made relative
    to the first); raises ValueError when they do not strictly increase."""
    rel = timestamps - timestamps[0] if timestamps.size else timestamps
    pts = np.round(rel / float(time_base)).astype(np.int64)
    if pts.size > 1 and np.any(np.diff(pts) <= 0):
        i = int(np.nonzero(np.diff(pts) <= 0)[0][0])
        raise ValueError(
            f"{path}: timestamps must increase by at least {float(time_base):.6g} s "
            f"(frames {i} and {i + 1}: {timestamps[i]:.6f} s, {timestamps[i + 1]:.6f} s)")
    return pts


@dataclass(frozen=True)
class _Encoding:
    """How write_video encodes one file (chosen by _plan_encoding)."""

    fmt: str  # FFmpeg container format
    codec: str
    pix_fmt: str
    rate: Fraction  # declared frames per second
    time_base: Fraction  # of the encoder's pts
    pad_h: int  # rows / columns added to reach even sizes (0 or 1)
    pad_w: int
    options: dict[str, str]
    bit_rate: int | None
    gop: int | None
    b_frames: bool


def _plan_encoding(path: Path, codec: str | None, pix_fmt: str | None, crf: float | None, bitrate: int | None,
                   gop: int | None, rotation: int, width: int, height: int, fps: float | None,
                   timestamps: np.ndarray | None, options: dict[str, str] | None) -> _Encoding:
    """Check write_video's settings and choose codec, pixel format, time base
    and encoder options for a width x height stream."""
    ext = path.suffix.lower()
    if ext not in _CONTAINERS:
        raise ValueError(f"{path}: unsupported extension {ext!r} (use one of {', '.join(sorted(_CONTAINERS))})")
    fmt, default_codec = _CONTAINERS[ext]
    codec = codec or default_codec
    if rotation not in (0, 90, 180, 270):
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    if rotation and fmt not in _ROTATABLE:
        raise ValueError(f"{path}: {fmt} cannot store rotation metadata")
    rate = _nominal_rate(fps, timestamps)
    if fmt == "gif":
        time_base, pix_fmt = _GIF_TIME_BASE, "pal8"
    elif fmt == "avi" or codec == "mpeg4":
        time_base = 1 / rate  # MPEG-4 part 2 limits the time base to 16 bits; AVI has no timestamps
    else:
        time_base = _FINE_TIME_BASE
    if timestamps is None and rate * time_base > 1:
        raise ValueError(f"{path}: {fmt} stores times in steps of {time_base} s, so fps must be <= {1 / time_base}")
    odd = bool(width % 2 or height % 2)
    if pix_fmt is None:
        pix_fmt = "yuv444p" if (codec == "libx264" and odd) else "yuv420p"
    # x264 cannot code chroma-subsampled pictures of odd size: pad to even.
    pad = codec == "libx264" and odd and pix_fmt not in ("yuv444p", "yuvj444p", "yuv444p10le", "gbrp", "rgb24")
    uniform = timestamps is None or timestamps.size < 3 or float(np.ptp(np.diff(timestamps))) < 1e-6
    opts, bit_rate = _codec_options(codec, crf, bitrate, width, height, rate)
    return _Encoding(fmt=fmt, codec=codec, pix_fmt=pix_fmt, rate=rate, time_base=time_base,
                     pad_h=height % 2 if pad else 0, pad_w=width % 2 if pad else 0,
                     options={**opts, **(options or {})}, bit_rate=bit_rate,
                     gop=None if fmt == "gif" else (int(gop) if gop else max(1, int(round(2 * float(rate))))),
                     # Without B-frames dts == pts, so mp4's duration and
                     # average rate come out right for variable frame rate.
                     b_frames=uniform or codec != "libx264")


def write_video(path: str | Path, frames: Clip | np.ndarray | Iterable[np.ndarray], fps: float | None = None, *,
                codec: str | None = None, pix_fmt: str | None = None, crf: float | None = None,
                bitrate: int | None = None, gop: int | None = None, rotation: int = 0,
                timestamps: Sequence[float] | np.ndarray | None = None,
                options: dict[str, str] | None = None) -> Path:
    """Encode RGB frames into a video file; returns the path.

    frames: a Clip (its timestamps are used unless `timestamps` is given), a
    uint8 [T, H, W, 3] array, or an iterable of uint8 [H, W, 3] arrays (all
    the same size; streamed, so long videos need not fit in memory).
    fps: nominal frame rate (frames per second). Without timestamps, frame i
    is at i / fps (fps defaults to 25). With timestamps it defaults to
    1 / median step and only sets the stream's declared rate.
    timestamps: float [T] seconds, strictly increasing (shifted so the first
    frame is at 0): variable frame rate.
    codec: FFmpeg encoder name; default from the extension (module docstring).
    pix_fmt: encoder pixel format; default yuv420p (yuv444p for libx264 at
    odd sizes, pal8 for GIF). A chroma-subsampled pix_fmt forced on libx264
    at an odd size pads the frames to even size (last row / column repeated).
    crf: quality, lower is better -- libx264 CRF (default 20), VP9 CRF
    (default 32), VP8 CRF within a bit-rate ceiling (default 10), MPEG-4
    qscale 2..31 (default 3); ignored for GIF. bitrate: bits per second,
    replaces crf where the codec supports it.
    gop: maximum frames between keyframes (default: about 2 s of frames).
    rotation: clockwise display rotation in degrees (0, 90, 180, 270), stored
    as display-matrix side data (mp4, mov, mkv, webm only). The frames are
    stored as given; a player shows them turned clockwise by `rotation`.
    options: extra encoder options (strings), applied last.
    Raises ValueError for bad arguments or frames; nothing is left at `path`
    (an existing file there is kept) unless the whole video was written.
    """
    import av

    path = Path(path)
    frame_iter, timestamps, fps = _frame_source(frames, timestamps, fps)
    first = next(frame_iter, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    first = np.asarray(first)
    if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"frames must be uint8 [H, W, 3] RGB, got {first.dtype} {first.shape}")
    height, width = first.shape[:2]
    rotation = int(rotation) % 360
    enc = _plan_encoding(path, codec, pix_fmt, crf, bitrate, gop, rotation, width, height, fps, timestamps, options)
    if timestamps is not None:
        pts = _pts(timestamps, enc.time_base, path)
    else:
        pts = None
        step = 1 / (enc.rate * enc.time_base)  # pts units per frame
    palette = gif_palette() if enc.fmt == "gif" else None

    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with av.open(str(tmp), "w", format=enc.fmt) as container:
            stream = container.add_stream(enc.codec, rate=enc.rate, options=enc.options)
            stream.width, stream.height = width + enc.pad_w, height + enc.pad_h
            stream.pix_fmt = enc.pix_fmt
            ctx = stream.codec_context
            ctx.time_base = enc.time_base
            if enc.gop:
                ctx.gop_size = enc.gop
            if enc.bit_rate:
                ctx.bit_rate = int(enc.bit_rate)
            if not enc.b_frames:
                ctx.max_b_frames = 0
            if rotation:
                if not hasattr(stream, "set_display_rotation"):
                    raise RuntimeError("writing rotation metadata needs PyAV >= 18 (VideoStream.set_display_rotation)")
                stream.set_display_rotation(-rotation)  # takes counter-clockwise degrees

            n = 0
            for img in itertools.chain([first], frame_iter):
                img = np.asarray(img)
                if img.shape != (height, width, 3) or img.dtype != np.uint8:
                    raise ValueError(f"frame {n}: expected uint8 {(height, width, 3)}, got {img.dtype} {img.shape}")
                if pts is not None and n >= len(pts):
                    raise ValueError(f"{path}: more frames than timestamps ({len(pts)})")
                if enc.pad_h or enc.pad_w:
                    img = np.pad(img, ((0, enc.pad_h), (0, enc.pad_w), (0, 0)), mode="edge")
                if palette is not None:
                    frame = av.VideoFrame.from_ndarray((_quantise_gif(img), palette), format="pal8")
                else:
                    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                frame.pts = int(pts[n]) if pts is not None else int(round(n * step))
                frame.time_base = enc.time_base
                container.mux(stream.encode(frame))
                n += 1
            if pts is not None and n != len(pts):
                raise ValueError(f"{path}: {n} frames but {len(pts)} timestamps")
            container.mux(stream.encode(None))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_all_frames(path: str | Path, *, apply_rotation: bool = False) -> Clip:
    """Decode every frame of the first video stream (small files, tests only).

    Returns a Clip: uint8 [T, H, W, 3] RGB as coded (rotation metadata not
    applied unless apply_rotation, which turns each frame clockwise by the
    stream's display rotation), timestamps float64 [T] = the frames' pts in
    seconds as decoded.
    """
    import av

    frames, times = [], []
    rotation = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 25
        for i, frame in enumerate(container.decode(stream)):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.time) if frame.time is not None else i / float(rate))
            if i == 0:
                rotation = _clockwise(frame)
    if not frames:
        return Clip(np.zeros((0, 0, 0, 3), dtype=np.uint8), np.zeros(0))
    arr = np.stack(frames)
    if apply_rotation and rotation:
        arr = np.ascontiguousarray(np.rot90(arr, k=-(rotation // 90), axes=(1, 2)))
    return Clip(arr, np.asarray(times, dtype=np.float64))


def read_rotation(path: str | Path) -> int:
    """Clockwise display rotation in degrees (0, 90, 180, 270) of the first
    video stream, from the display matrix reported on its first frame."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            return _clockwise(frame)
    return 0


def _clockwise(frame) -> int:
    """Clockwise display rotation (0, 90, 180, 270) of a decoded VideoFrame
    (PyAV reports counter-clockwise degrees in [-180, 180])."""
    return (-int(round(getattr(frame, "rotation", 0) / 90.0)) * 90) % 360
