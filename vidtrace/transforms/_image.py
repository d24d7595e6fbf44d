"""Pixel helpers shared by the transforms.

All functions take and return uint8 [T, H, W, 3] RGB frame stacks unless
said otherwise, and always return new arrays. Scaling, rotation and blur go
through FFmpeg (swscale and filter graphs, via PyAV) because they are an
order of magnitude faster than the numpy equivalents; everything else is
vectorised numpy. PyAV is imported inside the functions that need it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import numpy as np

CHUNK = 16
"""Frames processed at once by float pipelines (bounds temporary memory)."""


def map_chunks(frames: np.ndarray, fn: Callable[[np.ndarray, int], np.ndarray], chunk: int = CHUNK) -> np.ndarray:
    """Apply ``fn(frames[a:b], a)`` on chunks of frames and stack the uint8
    results into a new [T, H', W', 3] array."""
    parts = [fn(frames[a:a + chunk], a) for a in range(0, len(frames), chunk)]
    if not parts:
        return frames.copy()
    return np.concatenate(parts, axis=0)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Round and clip float values to uint8."""
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def apply_lut(frames: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map every byte through a uint8 [256] table."""
    return np.take(lut.astype(np.uint8), frames)


def luma(frames: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W] BT.601 luma, computed in 8.8 fixed point."""
    f = frames.astype(np.uint16)
    y = (77 * f[..., 0] + 150 * f[..., 1] + 29 * f[..., 2] + 128) >> 8
    return y.astype(np.uint8)


def apply_color_matrix(frames: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """out[..., i] = sum_j matrix[i, j] * frames[..., j], clipped to uint8."""
    m = np.asarray(matrix, dtype=np.float32).T.copy()
    return map_chunks(frames, lambda part, _a: to_uint8(part.astype(np.float32) @ m))


def _video_frame(array: np.ndarray):
    import av

    return av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")


def resize(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (swscale) resize of every frame to [height, width]."""
    from av.video.reformatter import VideoReformatter

    t, h, w, _ = frames.shape
    if (h, w) == (height, width):
        return frames.copy()
    out = np.empty((t, height, width, 3), dtype=np.uint8)
    scaler = VideoReformatter()  # one instance keeps its swscale context across frames
    for i in range(t):
        out[i] = scaler.reformat(_video_frame(frames[i]), width=width, height=height,
                                 interpolation="BILINEAR").to_ndarray()
    return out


def ffmpeg_filter(frames: np.ndarray, name: str, args: str, which: np.ndarray | None = None) -> np.ndarray:
    """Run the FFmpeg video filter `name` with option string `args` on every
    frame (or only where bool [T] `which` is set; the rest are copied). The
    filter must keep the frame size."""
    import av

    out = frames.copy()
    if which is None:
        which = np.ones(len(frames), dtype=bool)
    todo = np.flatnonzero(which)
    if len(todo) == 0:
        return out
    _, h, w, _ = frames.shape
    graph = av.filter.Graph()
    src = graph.add_buffer(width=w, height=h, format="rgb24", time_base=Fraction(1, 30))
    node = graph.add(name, args)
    fmt = graph.add("format", "rgb24")
    sink = graph.add("buffersink")
    src.link_to(node)
    node.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    for k, i in enumerate(todo):
        vf = _video_frame(frames[i])
        vf.pts = k
        graph.push(vf)
        out[i] = graph.pull().to_ndarray()
    return out


def encode_decode(frames: np.ndarray, codec: str, decoder: str, pix_fmt: str, fps: float,
                  bit_rate: int | None = None, qscale: int | None = None,
                  options: dict[str, str] | None = None) -> np.ndarray:
    """Encode the frames with FFmpeg encoder `codec` in memory and decode
    them back with `decoder`; returns uint8 [T, H, W, 3]. Odd sizes are
    edge-padded to even for the encoder and cropped back. The encoder runs
    single-threaded so the result does not depend on the machine's cores."""
    import av

    t, h, w, _ = frames.shape
    ph, pw = h % 2, w % 2
    padded = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge") if (ph or pw) else frames
    rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
    enc = av.CodecContext.create(codec, "w")
    enc.width, enc.height = w + pw, h + ph
    enc.pix_fmt = pix_fmt
    enc.thread_count = 1  # threaded encoders cut slices per thread: output would depend on the machine
    enc.framerate = rate
    enc.time_base = 1 / rate
    if bit_rate is not None:
        enc.bit_rate = int(bit_rate)
    if qscale is not None:
        enc.qmin = enc.qmax = int(qscale)
    if options:
        enc.options = dict(options)
    enc.open()
    dec = av.CodecContext.create(decoder, "r")
    out = np.empty((t, h, w, 3), dtype=np.uint8)
    n = 0

    def drain(packets) -> None:
        nonlocal n
        for packet in packets:
            for frame in dec.decode(packet):
                if n < t:
                    out[n] = frame.to_ndarray(format="rgb24")[:h, :w]
                n += 1

    for i in range(t):
        vf = _video_frame(padded[i])
        vf.pts = i
        drain(enc.encode(vf))
    drain(enc.encode(None))
    for frame in dec.decode(None):
        if n < t:
            out[n] = frame.to_ndarray(format="rgb24")[:h, :w]
        n += 1
    if n != t:
        raise RuntimeError(f"{codec} round trip returned {n} frames for {t}")
    return out


def blend(frames: np.ndarray, top: int, left: int, rgb: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """Paste `rgb` (uint8 or float [h, w, 3], or [T, h, w, 3] per frame) with
    opacity `alpha` (float [h, w] in [0, 1], or a scalar) so that its top-left
    corner lands at (top, left); parts outside the frame are cut off."""
    out = frames.copy()
    _, fh, fw, _ = frames.shape
    h, w = rgb.shape[-3:-1]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, fh), min(left + w, fw)
    if y0 >= y1 or x0 >= x1:
        return out
    patch = rgb[..., y0 - top:y1 - top, x0 - left:x1 - left, :].astype(np.float32)
    if np.isscalar(alpha):
        a = np.float32(alpha)
    else:
        a = np.asarray(alpha, dtype=np.float32)[y0 - top:y1 - top, x0 - left:x1 - left, None]
    region = frames[:, y0:y1, x0:x1].astype(np.float32)
    out[:, y0:y1, x0:x1] = to_uint8(region + (patch - region) * a)
    return out


def synthetic_frames(kind: str, count: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 [count, height, width, 3] of made-up footage: "black", "color"
    (one random colour), "noise" (a drifting low-frequency texture) or
    "gradient" (a moving two-colour gradient)."""
    if kind == "black":
        return np.zeros((count, height, width, 3), dtype=np.uint8)
    if kind == "color":
        color = rng.integers(0, 256, size=3).astype(np.uint8)
        return np.broadcast_to(color, (count, height, width, 3)).copy()
    if kind == "noise":
        small = rng.integers(0, 256, size=(1, max(2, height // 12), max(2, width // 6), 3)).astype(np.uint8)
        texture = resize(small, height, 2 * width)[0]
        speed = max(1, width // 60)
        cols = (np.arange(count)[:, None] * speed + np.arange(width)[None, :]) % (2 * width)
        return texture[:, cols].transpose(1, 0, 2, 3).copy()
    if kind == "gradient":
        c0, c1 = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        pos = (np.cos(angle) * xx / max(width, 1) + np.sin(angle) * yy / max(height, 1))
        phase = np.arange(count, dtype=np.float32)[:, None, None] * 0.02
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * (pos[None] + phase))
        return to_uint8(c0 + (c1 - c0) * wave[..., None])
    raise ValueError(f"unknown synthetic footage kind {kind!r}")


def loop_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """uint8 [count, H, W, 3]: the frames repeated from the start as often as needed."""
    return frames[np.arange(count) % len(frames)]


def supersampled_mask(size_h: int, size_w: int, inside: Callable[[np.ndarray, np.ndarray], np.ndarray],
                      factor: int = 3) -> np.ndarray:
    """float32 [size_h, size_w] coverage in [0, 1] of the region where
    ``inside(u, v)`` holds, u and v running over [-1, 1] across the box,
    anti-aliased by `factor`x`factor` supersampling."""
    hs, ws = size_h * factor, size_w * factor
    v = (np.arange(hs, dtype=np.float32) + 0.5) / hs * 2 - 1
    u = (np.arange(ws, dtype=np.float32) + 0.5) / ws * 2 - 1
    hit = inside(u[None, :], v[:, None]).astype(np.float32)
    hit = np.broadcast_to(hit, (hs, ws))
    return hit.reshape(size_h, factor, size_w, factor).mean(axis=(1, 3))
