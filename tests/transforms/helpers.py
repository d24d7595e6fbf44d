"""Tiny clips and checks shared by the transform tests."""

from __future__ import annotations

import numpy as np

from vidtrace.transforms import TransformRecord
from vidtrace.types import Clip


def make_clip(t: int = 8, h: int = 32, w: int = 48, step: float = 0.1, seed: int = 0, smooth: bool = False,
              start: float = 0.0) -> Clip:
    """A read-only clip: random pixels (or a smooth moving pattern with
    `smooth`) at `start + k * step` seconds, so any in-place write raises."""
    if smooth:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        k = np.arange(t, dtype=np.float64)[:, None, None]
        r = 128 + 100 * np.sin((xx + 2 * k) / 7.0)
        g = 128 + 100 * np.cos((yy - k) / 5.0)
        b = 128 + 60 * np.sin((xx + yy) / 9.0 + k / 3)
        frames = np.stack([r, g, b], axis=-1).astype(np.uint8)
    else:
        frames = np.random.default_rng(seed).integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)
    ts = start + step * np.arange(t, dtype=np.float64)
    frames.setflags(write=False)
    ts.setflags(write=False)
    return Clip(frames, ts)


def solid_clip(value, t: int = 4, h: int = 32, w: int = 48, step: float = 0.1) -> Clip:
    """A read-only clip of one RGB colour."""
    frames = np.empty((t, h, w, 3), dtype=np.uint8)
    frames[:] = np.asarray(value, dtype=np.uint8)
    frames.setflags(write=False)
    ts = step * np.arange(t, dtype=np.float64)
    ts.setflags(write=False)
    return Clip(frames, ts)


def check_record(clip: Clip, out: Clip, record: TransformRecord) -> None:
    """The invariants every (single-input) record must satisfy against its clips."""
    n = len(out)
    for arr in (record.times, record.source_index, record.source_clip, record.source_times):
        assert arr.shape == (n,)
    assert record.source_index.dtype == np.int64 and record.source_clip.dtype == np.int64
    np.testing.assert_array_equal(record.times, out.timestamps)
    filler = record.source_index < 0
    np.testing.assert_array_equal(filler, record.source_clip < 0)
    assert np.isnan(record.source_times[filler]).all()
    assert (record.source_index[~filler] < len(clip)).all()
    np.testing.assert_array_equal(record.source_times[~filler], clip.timestamps[record.source_index[~filler]])


def check_timestamps(out: Clip) -> None:
    assert out.timestamps.dtype == np.float64
    assert np.isfinite(out.timestamps).all()
    assert (np.diff(out.timestamps) >= 0).all()
