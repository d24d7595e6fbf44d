"""The transform interface: records, registry, parameter sampling.

A transform is a frozen dataclass whose fields are its parameters. A field is
either a fixed value or a range ``(low, high)`` (or a tuple of choices) that
is sampled afresh on every call from the numpy Generator passed in, so that
one transform object describes a whole family of concrete edits and the same
seed always gives the same edit.

Calling a transform, ``out, record = transform(clip, rng)``, returns a new
:class:`~vidtrace.types.Clip` (the caller's arrays are never written) and a
:class:`TransformRecord` holding the concrete parameters and, for every
output frame, the input frame it came from. Ground truth for copy detection
(which output interval shows which source interval) is derived from that
per-frame mapping by :meth:`TransformRecord.segments`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, Mapping, Sequence, TypeVar, Union

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.types import Clip, Segment

Range = Union[float, tuple[float, float]]
"""A fixed float, or ``(low, high)`` sampled uniformly on each call."""

IntRange = Union[int, tuple[int, int]]
"""A fixed int, or ``(low, high)`` sampled uniformly (both ends included)."""

Seed = Union[np.random.Generator, int, None]
"""What a transform accepts as randomness: a Generator, an int seed, or None (fresh entropy)."""

DEFAULT_STEP = 1.0 / 30.0
"""Frame period (seconds) assumed for clips with fewer than two frames."""

REGISTRY: dict[str, type["Transform"]] = {}
"""Transform classes by registry name (filled by :func:`register`)."""

T = TypeVar("T", bound=type)


# --------------------------------------------------------------------------- sampling


def as_generator(rng: Seed) -> np.random.Generator:
    """Return `rng` itself when it is a Generator, else a Generator seeded with it."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _in_bounds(value: float, what: str, low: float, high: float, low_open: bool, high_open: bool) -> None:
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        lo = "-inf" if low == -np.inf else f"{low:g}"
        hi = "inf" if high == np.inf else f"{high:g}"
        raise ConfigError(f"{what} must be in {'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}, got {value:g}")


def sample_float(rng: np.random.Generator, spec: Range, what: str = "value", low: float = -np.inf,
                 high: float = np.inf, low_open: bool = False, high_open: bool = False) -> float:
    """A float from `spec`: the value itself, or uniform in ``[low, high]`` of
    the range; ConfigError unless it lies within the bounds `low`..`high`
    (open at an end when asked), naming it `what`."""
    if isinstance(spec, tuple):
        lo, hi = float(spec[0]), float(spec[1])
        if hi < lo:
            raise ConfigError(f"{what}: range {spec} has high < low")
        value = lo if lo == hi else float(rng.uniform(lo, hi))
    else:
        value = float(spec)
    _in_bounds(value, what, low, high, low_open, high_open)
    return value


def sample_int(rng: np.random.Generator, spec: IntRange, what: str = "value", low: float = -np.inf,
               high: float = np.inf) -> int:
    """An int from `spec`: the value itself, or uniform in ``low..high`` of
    the range (inclusive); ConfigError unless within `low`..`high`."""
    if isinstance(spec, tuple):
        lo, hi = int(spec[0]), int(spec[1])
        if hi < lo:
            raise ConfigError(f"{what}: range {spec} has high < low")
        value = lo if lo == hi else int(rng.integers(lo, hi + 1))
    else:
        value = int(spec)
    _in_bounds(value, what, low, high, False, False)
    return value


def sample_choice(rng: np.random.Generator, spec: Any, what: str = "choice", allowed: Sequence[Any] | None = None) -> Any:
    """One of the options when `spec` is a tuple of options, else `spec`
    itself; ConfigError unless it is one of `allowed` (when given)."""
    if isinstance(spec, tuple):
        if not spec:
            raise ConfigError(f"{what}: empty tuple of choices")
        value = spec[int(rng.integers(len(spec)))]
    else:
        value = spec
    if allowed is not None and value not in allowed:
        raise ConfigError(f"{what} must be one of {tuple(allowed)}, got {value!r}")
    return value


def sample_color(rng: np.random.Generator, spec: "tuple[int, int, int] | None") -> tuple[int, int, int]:
    """An RGB colour: `spec` itself, or a random one when `spec` is None."""
    if spec is None:
        r, g, b = (int(v) for v in rng.integers(0, 256, size=3))
        return (r, g, b)
    return (int(spec[0]), int(spec[1]), int(spec[2]))


def frame_step(timestamps: np.ndarray) -> float:
    """Median frame period in seconds (DEFAULT_STEP for fewer than two frames)."""
    if len(timestamps) < 2:
        return DEFAULT_STEP
    step = float(np.median(np.diff(timestamps)))
    return step if step > 0 else DEFAULT_STEP


def _jsonable(value: Any) -> Any:
    if isinstance(value, Transform):
        return value.config()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------- records


def _split_direction_changes(joined: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Drop the joins (bool [n-1], between frames p and p+1) where the
    direction of travel (sign [n-1] of the source-time step; 0 = repeated
    frame) turns around within a run; the new run starts with no direction."""
    out = joined.copy()
    direction = 0
    for p, (j, s) in enumerate(zip(joined.tolist(), sign.tolist())):
        if not j:
            direction = 0
        elif s != 0:
            if direction == 0:
                direction = s
            elif s != direction:
                out[p] = False
                direction = 0
    return out


@dataclass(frozen=True)
class MappedSegment:
    """One stretch of output that shows one stretch of a source clip.

    output [output_start, output_end) and source [source_start, source_end)
    in seconds, start < end on both axes; source: index of the source clip
    (0 unless several sources were spliced); reversed: the source plays
    backwards in the output; flipped: the output is mirrored left-right.
    """

    source: int
    output_start: float
    output_end: float
    source_start: float
    source_end: float
    reversed: bool = False
    flipped: bool = False

    def to_segment(self, score: float = 1.0) -> Segment:
        """The same interval pair as a vidtrace Segment (query = output, reference = source)."""
        return Segment(self.output_start, self.output_end, self.source_start, self.source_end,
                       score, reversed=self.reversed, flipped=self.flipped)


@dataclass(frozen=True)
class TransformRecord:
    """What one call of a transform did.

    name: registry name; params: the concrete sampled parameters (plain
    Python values; times in seconds, sizes in pixels); children: records of
    the inner transforms of a wrapper (Compose, RandomChoice ...), in order.

    The time mapping, one entry per output frame (T_out frames):
    times: float64 [T_out] the output clip's timestamps, seconds;
    source_index: int64 [T_out] index of the input frame each output frame
    was made from, -1 for inserted filler frames; source_clip: int64 [T_out]
    which input clip that frame belongs to (0 for single-input transforms),
    -1 for filler; source_times: float64 [T_out] timestamp (seconds) of that
    source frame, NaN for filler. source_steps: median frame period
    (seconds) of each input clip, to turn frame times into intervals.
    """

    name: str
    params: Mapping[str, Any]
    times: np.ndarray
    source_index: np.ndarray
    source_clip: np.ndarray
    source_times: np.ndarray
    source_steps: tuple[float, ...]
    children: tuple["TransformRecord", ...] = ()

    @classmethod
    def identity(cls, name: str, params: Mapping[str, Any], clip: Clip,
                 children: tuple["TransformRecord", ...] = ()) -> "TransformRecord":
        """Record of a transform that keeps every frame at its time."""
        n = len(clip)
        return cls(name, dict(params), np.array(clip.timestamps, dtype=np.float64),
                   np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                   np.array(clip.timestamps, dtype=np.float64), (frame_step(clip.timestamps),), children)

    @classmethod
    def mapped(cls, name: str, params: Mapping[str, Any], clip: Clip, source_index: np.ndarray,
               times: np.ndarray) -> "TransformRecord":
        """Record of a single-input transform whose output frame k shows input
        frame ``source_index[k]`` (-1: filler) at ``times[k]``."""
        idx = np.asarray(source_index, dtype=np.int64)
        ok = idx >= 0
        src_t = np.full(len(idx), np.nan)
        src_t[ok] = clip.timestamps[idx[ok]]
        return cls(name, dict(params), np.asarray(times, dtype=np.float64), idx,
                   np.where(ok, 0, -1).astype(np.int64), src_t, (frame_step(clip.timestamps),))

    def then(self, after: "TransformRecord", name: str = "compose", params: Mapping[str, Any] | None = None,
             children: tuple["TransformRecord", ...] | None = None) -> "TransformRecord":
        """The record of applying this transform and then `after` (whose input
        was this one's output). `after` must be a single-input transform."""
        idx = after.source_index
        ok = idx >= 0
        src_index = np.full(len(idx), -1, dtype=np.int64)
        src_clip = np.full(len(idx), -1, dtype=np.int64)
        src_times = np.full(len(idx), np.nan)
        src_index[ok] = self.source_index[idx[ok]]
        src_clip[ok] = self.source_clip[idx[ok]]
        src_times[ok] = self.source_times[idx[ok]]
        return TransformRecord(
            name=name,
            params=dict(params or {}),
            times=after.times,
            source_index=src_index,
            source_clip=src_clip,
            source_times=src_times,
            source_steps=self.source_steps,
            children=(self, after) if children is None else children,
        )

    @property
    def flipped(self) -> bool:
        """True when the output is mirrored left-right relative to the source:
        an odd number of records in this tree have ``params["mirrored"]``."""
        count = int(bool(self.params.get("mirrored", False))) + sum(c.flipped for c in self.children)
        return count % 2 == 1

    @property
    def is_identity_in_time(self) -> bool:
        """True when output frame k is input frame k at the same time (to 1 ns), for every k."""
        n = len(self.source_index)
        return bool(np.array_equal(self.source_index, np.arange(n))
                    and np.allclose(self.times, self.source_times, rtol=0, atol=1e-9))

    def segments(self, max_gap: float = 0.5) -> tuple[MappedSegment, ...]:
        """Ground-truth interval pairs derived from the per-frame mapping.

        A segment is a maximal run of output frames taken from one source clip
        that play in one direction (forward or reversed; repeated frames
        allowed) with no jump of more than `max_gap` seconds of source time
        between consecutive frames. Filler frames, a change of source clip, a
        change of direction or a larger jump end a segment. Each output frame
        lasts until the next one (the last one for the median output period);
        each source frame lasts its clip's median period.
        """
        n = len(self.times)
        if n == 0:
            return ()
        clip_id, src_t, out_t = self.source_clip, self.source_times, self.times
        valid = clip_id >= 0
        diff = np.diff(src_t)
        joined = valid[1:] & valid[:-1] & (clip_id[1:] == clip_id[:-1]) & (np.abs(np.nan_to_num(diff, nan=np.inf)) <= max_gap)
        joined = _split_direction_changes(joined, np.sign(np.nan_to_num(diff)).astype(np.int64))

        out_dur = np.empty(n)
        out_dur[:-1] = np.diff(out_t)
        out_dur[-1] = frame_step(out_t)
        starts = np.flatnonzero(np.concatenate([[True], ~joined]))
        ends = np.concatenate([starts[1:], [n]])
        result = []
        flipped = self.flipped
        for a, b in zip(starts, ends):
            if not valid[a]:
                continue
            c = int(clip_id[a])
            run_t = src_t[a:b]
            step = self.source_steps[c] if c < len(self.source_steps) else DEFAULT_STEP
            result.append(MappedSegment(
                source=c,
                output_start=float(out_t[a]),
                output_end=float(out_t[b - 1] + out_dur[b - 1]),
                source_start=float(run_t.min()),
                source_end=float(run_t.max() + step),
                reversed=bool(run_t[-1] < run_t[0]),
                flipped=flipped,
            ))
        return tuple(result)

    def to_json(self, mapping: bool = False) -> dict:
        """Name, params and children as plain JSON values; with `mapping`, the
        per-frame arrays too (NaN written as None)."""
        out: dict[str, Any] = {"name": self.name, "params": _jsonable(self.params)}
        if self.children:
            out["children"] = [c.to_json(mapping) for c in self.children]
        if mapping:
            out["times"] = self.times.tolist()
            out["source_index"] = self.source_index.tolist()
            out["source_clip"] = self.source_clip.tolist()
            out["source_times"] = [None if np.isnan(v) else float(v) for v in self.source_times]
        return out


# --------------------------------------------------------------------------- interface


class Transform:
    """Base of all transforms. Subclasses are frozen dataclasses decorated
    with :func:`register` and implement :meth:`apply`.

    name: registry name; family: "spatial", "photometric", "codec",
    "overlay", "temporal", "montage" or "wrapper".
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""

    def __call__(self, clip: Clip, rng: Seed = None) -> tuple[Clip, TransformRecord]:
        """Apply to `clip` with randomness from `rng`; returns (new clip, record)."""
        return self.apply(clip, as_generator(rng))

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        raise NotImplementedError

    def config(self) -> dict:
        """``{"name": ..., "params": {...}}`` of plain values (inner transforms
        as nested configs; clip-valued fields such as a PiP host are left
        out); :func:`from_config` builds the transform back."""
        return {"name": self.name,
                "params": {f.name: _jsonable(getattr(self, f.name)) for f in fields(self) if f.repr}}  # type: ignore[arg-type]


def register(name: str, family: str) -> Callable[[T], T]:
    """Class decorator: record the class in REGISTRY under `name`."""

    def deco(cls: T) -> T:
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ConfigError(f"transform name {name!r} registered twice")
        cls.name = name  # type: ignore[attr-defined]
        cls.family = family  # type: ignore[attr-defined]
        REGISTRY[name] = cls  # type: ignore[assignment]
        return cls

    return deco


def create(name: str, **params: Any) -> Transform:
    """Build the registered transform `name` with the given parameters."""
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown transform {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _from_plain(value: Any) -> Any:
    if isinstance(value, Mapping) and set(value) == {"name", "params"}:
        return from_config(value)
    if isinstance(value, (list, tuple)):
        return tuple(_from_plain(v) for v in value)
    return value


def from_config(config: Mapping[str, Any]) -> Transform:
    """Inverse of :meth:`Transform.config` (JSON lists become tuples)."""
    return create(config["name"], **{k: _from_plain(v) for k, v in config.get("params", {}).items()})


def names(family: str | None = None) -> list[str]:
    """Registered names, sorted; only those of `family` when given."""
    return sorted(n for n, c in REGISTRY.items() if family is None or c.family == family)


# --------------------------------------------------------------------------- helpers for subclasses


class FrameTransform(Transform):
    """A transform that edits pixels and keeps every frame at its time.

    Subclasses implement :meth:`sample` (concrete parameters for this call)
    and :meth:`render` (new frames from those parameters).
    """

    def sample(self, clip: Clip, rng: np.random.Generator) -> dict[str, Any]:
        return {}

    def render(self, frames: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        params = self.sample(clip, rng)
        if len(clip) == 0:
            frames = clip.frames.copy()
        else:
            frames = self.render(clip.frames, params, rng)
        return Clip(frames, clip.timestamps.astype(np.float64, copy=True)), TransformRecord.identity(self.name, params, clip)


class TimeTransform(Transform):
    """A transform that re-times frames without editing pixels.

    Subclasses implement :meth:`plan`: for each output frame, the input frame
    index (-1 for a filler frame) and the output timestamp. Filler frames are
    black unless :meth:`filler` is overridden.
    """

    def plan(self, clip: Clip, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def filler(self, count: int, shape: tuple[int, int], params: dict[str, Any],
               rng: np.random.Generator) -> np.ndarray:
        """uint8 [count, H, W, 3] frames for the filler positions (black)."""
        return np.zeros((count, shape[0], shape[1], 3), dtype=np.uint8)

    def apply(self, clip: Clip, rng: np.random.Generator) -> tuple[Clip, TransformRecord]:
        if len(clip) == 0:
            raise ConfigError(f"{self.name}: cannot re-time an empty clip")
        index, times, params = self.plan(clip, rng)
        index = np.asarray(index, dtype=np.int64)
        frames = clip.frames[np.maximum(index, 0)]  # fancy indexing: always a new array
        fill = index < 0
        if fill.any():
            frames[fill] = self.filler(int(fill.sum()), clip.frames.shape[1:3], params, rng)
        return Clip(frames, np.asarray(times, dtype=np.float64)), TransformRecord.mapped(self.name, params, clip, index, times)


def hold_index(timestamps: np.ndarray, query: np.ndarray) -> np.ndarray:
    """int64 [N]: for each query time (seconds), the last frame shown at that
    time (sample and hold; the first frame before the clip starts)."""
    idx = np.searchsorted(timestamps, np.asarray(query) + 1e-9, side="right") - 1
    return np.clip(idx, 0, len(timestamps) - 1).astype(np.int64)


def regular_times(start: float, step: float, count: int) -> np.ndarray:
    """float64 [count] timestamps ``start + k * step`` (seconds)."""
    return start + step * np.arange(count, dtype=np.float64)


def check_sources(sources: Sequence[Clip]) -> None:
    """Raise ConfigError unless there is at least one non-empty source clip."""
    if not sources or any(len(s) == 0 for s in sources):
        raise ConfigError("need at least one source clip, none of them empty")


__all__ = [
    "DEFAULT_STEP", "REGISTRY", "FrameTransform", "IntRange", "MappedSegment", "Range", "Seed",
    "TimeTransform", "Transform", "TransformRecord", "as_generator", "check_sources", "create", "from_config",
    "frame_step", "hold_index", "names", "register", "regular_times", "sample_choice",
    "sample_color", "sample_float", "sample_int",
]
