"""Temporal transforms: they choose, repeat, drop or reorder whole frames.

Output frames are exact copies of input frames (or filler frames), so the
record's per-frame mapping is exact. Unless said otherwise the output is
laid on a regular grid that starts at the input's first timestamp and has
the input's median frame period ("step", seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vidtrace.transforms.base import (
    Range,
    TimeTransform,
    frame_step,
    hold_index,
    register,
    regular_times,
    sample_choice,
    sample_float,
    sample_int,
)
from vidtrace.types import Clip

Plan = tuple[np.ndarray, np.ndarray, dict[str, Any]]


@register("trim", "temporal")
@dataclass(frozen=True)
class Trim(TimeTransform):
    """Keep one run of consecutive frames (S2VS temporal crop).

    keep: fraction of the frames kept; start: where the run starts, as a
    fraction of the frames left over (None: uniform); frames: keep exactly
    this many frames instead of a fraction (all when the clip is shorter).
    Output timestamps are the kept ones shifted to begin at the input's
    first timestamp.
    """

    keep: Range = (0.5, 0.9)
    start: Range | None = None
    frames: int | None = None

    def plan(self, clip: Clip, rng: np.random.Generator) -> Plan:
        t = len(clip)
        if self.frames is not None:
            n = min(t, max(1, int(self.frames)))
        else:
            frac = sample_float(rng, self.keep, "trim keep", 0.0, 1.0, low_open=True)
            n = min(t, max(1, int(round(frac * t))))
        where = rng.random() if self.start is None else sample_float(rng, self.start, "trim start", 0.0, 1.0)
        first = min(t - n, int(round(where * (t - n))))
        index = np.arange(first, first + n)
        ts = clip.timestamps
        times = ts[index] - ts[first] + ts[0]
        step = frame_step(ts)
        return index, times, {"first": first, "frames": n, "start": float(ts[first]), "duration": n * step}


@register("speed", "temporal")
@dataclass(frozen=True)
class Speed(TimeTransform):
    """Play faster (factor > 1: fast forward, frames skipped) or slower
    (factor < 1: slow motion, frames repeated) at the same frame rate; the
    duration becomes duration / factor."""

    factor: Range = (0.5, 2.0)

    def plan(self, clip: Clip, rng: np.random.Generator) -> Plan:
        f = sample_float(rng, self.factor, "speed factor", 0.0, low_open=True)
        ts = clip.timestamps
        step = frame_step(ts)
        n = max(1, int(round(len(clip) / f)))
        times = regular_times(float(ts[0]), step, n)
        index = hold_index(ts, ts[0] + (times - ts[0]) * f)
        return index, times, {"factor": f}


@register("frame_drop", "temporal")
@dataclass(frozen=True)
class FrameDrop(TimeTransform):
    """Drop each frame with probability `p` (at least one frame is kept);
    the kept frames keep their timestamps, so the timeline has holes."""

    p: Range = (0.1, 0.5)

    def plan(self, clip: Clip, rng: np.random.Generator) -> Plan:
        p = sample_float(rng, self.p, "frame_drop p", 0.0, 1.0)
        keep = rng.random(len(clip)) >= p
        if not keep.any():
            keep[int(rng.integers(len(clip)))] = True
        index = np.flatnonzero(keep)
        return index, clip.timestamps[index], {"p": p, "dropped": int((~keep).sum())}


@register("frame_rate", "temporal")
@dataclass(frozen=True)
class FrameRate(TimeTransform):
    """Resample to `fps` frames per second keeping the duration (each output
    frame shows the last input frame at or before its time)."""

    fps: Range = (5.0, 30.0)

    def plan(self, clip: Clip, rng: np.random.Generator) -> Plan:
        fps = sample_float(rng, self.fps, "frame_rate fps", 0.0, low_open=True)
        ts = clip.timestamps
        duration = float(ts[-1] - ts[0]) + frame_step(ts)
        n = max(1, int(round(duration * fps)))
        times = regular_times(float(ts[0]), 1.0 / fps, n)
        return hold_index(ts, times), times, {"fps": fps}


@register("pause", "temporal")
@dataclass(frozen=True)
class Pause(TimeTransform):
    """Freeze one frame: it is repeated for `duration` seconds, and everything
    after it is shifted later by that much.

    at: which frame, as a fraction of the clip (0 = first, 1 = last);
    duration: seconds of pause (at least one extra frame).
    """

    at: Range = (0.1, 0.9)
    duration: Range = (0.5, 2.0)

    def plan(self, clip: Clip, rng: np.random.Generator) -> Plan:
        t = len(clip)
        ts = clip.timestamps
        step = frame_step(ts)
        i = int(round(sample_float(rng, self.at, "pause at", 0.0, 1.0) * (t - 1)))
        i = min(max(i, 0), t - 1)
        extra = max(1, int(round(sample_float(rng, self.duration, "pause duration", 0.0) / step)))
        index = np.concatenate([np.arange(i + 1), np.full(extra, i), np.arange(i + 1, t)])
        times = np.concatenate([ts[:i + 1], ts[i] + step * np.arange(1, extra + 1), ts[i + 1:] + extra * step])
        return index, times, {"frame": i, "at": float(ts[i]), "repeats": extra, "duration": extra * step}


@register("reverse", "temporal")
@dataclass(frozen=True)
class Reverse(TimeTransform):
    """Play backwards: output frame i is input frame T-1-i (timeline mirrored)."""

    def plan(self, clip: Clip, rng: np.random.Generator) -> Plan:
        ts = clip.timestamps
        index = np.arange(len(clip) - 1, -1, -1)
        return index, ts[0] + (ts[-1] - ts[::-1]), {}


TSD_FILLS = ("discard", "black", "noise")


@register("shuffle_dropout", "temporal")
@dataclass(frozen=True)
class TemporalShuffleDropout(TimeTransform):
    """S2VS Temporal Shuffle-Dropout.

    The clip is cut into chunks whose lengths are drawn from
    ``min_len .. max_len`` frames (max_len None: T // 2); with probability
    p_shuffle the chunk order is shuffled; then each chunk is dropped with
    probability p_drop and replaced according to `fill`: "discard" (removed),
    "black" or "noise" filler frames (or a tuple to choose from, once per
    call). At least one chunk survives. The output is on a regular grid.
    """

    min_len: int = 4
    max_len: int | None = None
    p_shuffle: float = 0.5
    p_drop: float = 0.1
    fill: str | tuple[str, ...] = TSD_FILLS

    def plan(self, clip: Clip, rng: np.random.Generator) -> Plan:
        t = len(clip)
        lo = max(1, self.min_len)
        hi = max(lo, self.max_len if self.max_len is not None else t // 2)
        fill = sample_choice(rng, self.fill, "shuffle_dropout fill", TSD_FILLS)
        bounds = [0]
        while bounds[-1] < t:
            bounds.append(min(t, bounds[-1] + sample_int(rng, (lo, hi))))
        chunks = [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        shuffled = bool(rng.random() < self.p_shuffle)
        order = rng.permutation(len(chunks)) if shuffled else np.arange(len(chunks))
        dropped = rng.random(len(chunks)) < self.p_drop
        if dropped.all():
            dropped[int(rng.integers(len(chunks)))] = False
        parts = []
        for k in order:
            if not dropped[k]:
                parts.append(chunks[k])
            elif fill != "discard":
                parts.append(np.full(len(chunks[k]), -1))
        index = np.concatenate(parts)
        times = regular_times(float(clip.timestamps[0]), frame_step(clip.timestamps), len(index))
        return index, times, {"chunks": [[int(c[0]), int(c[-1]) + 1] for c in chunks],
                              "order": order.tolist(), "shuffled": shuffled,
                              "dropped": np.flatnonzero(dropped).tolist(), "fill": fill}

    def filler(self, count: int, shape: tuple[int, int], params: dict[str, Any],
               rng: np.random.Generator) -> np.ndarray:
        if params["fill"] == "noise":
            return rng.integers(0, 256, size=(count, shape[0], shape[1], 3), dtype=np.uint8)
        return super().filler(count, shape, params, rng)
