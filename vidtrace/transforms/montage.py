"""Montage: segments of one or several source clips spliced into filler footage."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.transforms import _image
from vidtrace.transforms.base import (
    IntRange,
    Range,
    Seed,
    Transform,
    TransformRecord,
    as_generator,
    check_sources,
    frame_step,
    hold_index,
    register,
    regular_times,
    sample_choice,
    sample_float,
    sample_int,
)
from vidtrace.types import Clip

FILLER_KINDS = ("noise", "gradient", "color", "black")


@register("montage", "montage")
@dataclass(frozen=True)
class Montage(Transform):
    """Splice segments of source clips into filler footage:
    ``filler, segment, filler, segment, ..., filler``.

    segments: how many segments (None: one per source); sources are used in
    random order, each once before any is reused. segment_duration: seconds
    per segment (cut to the source's length), played at normal speed from a
    random start frame; gap: seconds of filler before each segment and
    after the last (at least one frame). filler: synthetic filler kind, one
    of FILLER_KINDS or a tuple to choose from; filler_clip: real footage to
    use as filler instead (looped, scaled). size: output (height, width),
    None for the first source's; fps: output frame rate, None for the first
    source's. Output timestamps start at 0.

    Call it on one clip like any transform, or use :meth:`splice` for
    several; the record's ``params["placements"]`` lists each segment's
    source, output interval and source interval (seconds), which
    :meth:`TransformRecord.segments` reproduces from the frame mapping.
    """

    segments: IntRange | None = None
    segment_duration: Range = (1.0, 4.0)
    gap: Range = (0.5, 2.0)
    filler: str | tuple[str, ...] = FILLER_KINDS
    filler_clip: Clip | None = field(default=None, compare=False, repr=False)
    size: tuple[int, int] | None = None
    fps: float | None = None

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        return self.splice([clip], rng)

    def splice(self, sources: Sequence[Clip], rng: Seed = None) -> tuple[Clip, TransformRecord]:
        """Build a montage of `sources`; in the record, source_clip indexes `sources`."""
        rng = as_generator(rng)
        check_sources(sources)
        if self.filler_clip is not None and len(self.filler_clip) == 0:
            raise ConfigError("montage filler_clip is empty")
        height, width = self.size if self.size is not None else sources[0].frames.shape[1:3]
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"montage fps must be > 0, got {self.fps}")
        step = 1.0 / self.fps if self.fps is not None else frame_step(sources[0].timestamps)
        count = len(sources) if self.segments is None else max(1, sample_int(rng, self.segments))
        rounds = math.ceil(count / len(sources))
        order = np.concatenate([rng.permutation(len(sources)) for _ in range(rounds)])[:count]
        kind = "clip" if self.filler_clip is not None else sample_choice(rng, self.filler, "montage filler", FILLER_KINDS)

        index_parts, clip_parts, placements = [], [], []
        cursor = 0

        def add_gap() -> None:
            nonlocal cursor
            n = max(1, int(round(sample_float(rng, self.gap) / step)))
            index_parts.append(np.full(n, -1, dtype=np.int64))
            clip_parts.append(np.full(n, -1, dtype=np.int64))
            cursor += n

        for k in order.tolist():
            add_gap()
            ts = sources[k].timestamps
            src_step = frame_step(ts)
            src_duration = float(ts[-1] - ts[0]) + src_step
            n = max(1, int(round(min(sample_float(rng, self.segment_duration), src_duration) / step)))
            latest = float(ts[0]) + src_duration - n * step
            first = int(rng.integers(int(np.searchsorted(ts, latest + 1e-9, side="right")) or 1))
            idx = hold_index(ts, ts[first] + step * np.arange(n))
            index_parts.append(idx)
            clip_parts.append(np.full(n, k, dtype=np.int64))
            placements.append({"source": k, "output_start": cursor * step, "output_end": (cursor + n) * step,
                               "source_start": float(ts[idx].min()), "source_end": float(ts[idx].max()) + src_step,
                               "first_frame": int(idx[0]), "frames": n})
            cursor += n
        add_gap()

        index = np.concatenate(index_parts)
        clip_of = np.concatenate(clip_parts)
        times = regular_times(0.0, step, len(index))
        frames = np.empty((len(index), height, width, 3), dtype=np.uint8)
        fill = clip_of < 0
        n_fill = int(fill.sum())
        if self.filler_clip is not None:
            frames[fill] = _image.resize(_image.loop_frames(self.filler_clip.frames, n_fill), height, width)
        else:
            frames[fill] = _image.synthetic_frames(kind, n_fill, height, width, rng)
        for k in np.unique(clip_of[~fill]).tolist():
            at = clip_of == k
            frames[at] = _image.resize(sources[k].frames[index[at]], height, width)

        source_times = np.full(len(index), np.nan)
        for k in range(len(sources)):
            at = clip_of == k
            source_times[at] = sources[k].timestamps[index[at]]
        params: dict[str, Any] = {"size": [int(height), int(width)], "fps": 1.0 / step, "filler": kind,
                                  "sources": len(sources), "placements": placements}
        record = TransformRecord(self.name, params, times, index, clip_of, source_times,
                                 tuple(frame_step(s.timestamps) for s in sources))
        return Clip(frames, times.copy()), record
