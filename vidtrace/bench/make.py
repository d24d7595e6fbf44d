"""``vidtrace bench make``: a segment-level copy-detection benchmark from a folder of real videos.

Input: a folder of videos grouped into families (:mod:`vidtrace.bench.sources`);
only the families of one split ("eval" for benchmarks, "train" for training
data) are used. Output (``--out DIR``, which must be new or empty)::

    DIR/refs.txt             one reference per line: references/<file> (or an absolute path with --refs list)
    DIR/references/          the reference files, byte for byte (hard links where allowed, else copies)
    DIR/queries/qNNN.mp4     the query videos (H.264, constant frame rate)
    DIR/ground_truth.csv     VSC2022 matching CSV: query_id,ref_id,query_start,query_end,ref_start,ref_end
    DIR/manifest.json        what was done to make each query (plan, transform records, segments)

Design:

- References are family roots, used as they are (never re-encoded); ref id =
  file stem, query id = file stem (``q000`` ...; ids say nothing about the
  query's kind, the manifest does).
- A seeded part of the split's families is *held out*: never indexed, used
  only as unrelated footage (filler around copies, montage gaps, negative
  queries). Families are put in similar-scene groups by their root's frame
  size and frame rate (same camera set-up: e.g. the ASL clips, the MDN toy
  clips); in each group of two or more families about ``holdout`` of them
  are held out, so that negatives made from them ("hard negatives") show
  scenes much like indexed ones without sharing footage. Filler is also
  rendered with :mod:`vidtrace.synth` (``synth_filler`` of the time).
- Positive queries: "copy" (one excerpt of a reference between two filler
  stretches), "multi" (two excerpts of different references), "montage"
  (several excerpts spliced by the Montage preset of one strength). Every
  excerpt gets 0-2 transformations of different families (spatial,
  photometric, overlay, temporal, codec, applied in that order), dealt so
  that every family, every transformation of it and montage appear at both
  strengths when there are enough excerpts (:func:`coverage`, :func:`missing_coverage`).
- Negative queries: "negative" (held-out or synthetic footage) and
  "hard_negative" (held-out clips of a group with indexed members).
- Ground truth comes from the per-frame time mapping (transform records
  composed through montage, fitting and the query's frame grid) of the exact
  frames written: query frame k is at k / fps seconds; reference times are
  those the decoder reports for the reference's frames. Each copied
  stretch is a segment as :meth:`vidtrace.transforms.TransformRecord.segments`
  defines it (a speed change is one segment, a reversed copy one segment,
  shuffled chunks several).
- Same seed, same inputs => byte-identical ground truth and manifest (and
  query files: encoders run single-threaded, x264 without macroblock-tree
  rate control, which is not deterministic).
- Query frames are fitted into the query size (aspect kept, black bars)
  after the transformations; the query's aspect ratio follows its first
  reference, its longer side is drawn from ``long_side``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from vidtrace.errors import ConfigError, VideoError

FORMAT = "vidtrace-bench"
VERSION = 1
COPY_FAMILIES = ("spatial", "photometric", "overlay", "temporal", "codec")
"""Transformation families applied to single excerpts, in the order they are applied."""
REQUIRED_TEMPORAL = ("speed", "reverse", "frame_drop", "pause")
"""Temporal transformations that must appear at both strengths (with every other one when possible)."""
POSITIVE_KINDS = ("copy", "multi", "montage")
NEGATIVE_KINDS = ("negative", "hard_negative")
ENCODER_OPTIONS = {"threads": "1", "mbtree": "0", "preset": "veryfast"}
"""x264 options of the query files: one thread and no macroblock-tree, so that
the same frames always give the same bytes."""
SYNTH_LONG_SIDE = 320
"""Synthetic filler is rendered at this longer side (pixels) and scaled up (rendering is the slow part)."""


# --------------------------------------------------------------------------- options and plan


@dataclass(frozen=True)
class MakeOptions:
    """How big and how varied the benchmark is.

    split: families used ("eval" or "train"); queries: total number of
    queries, negatives included; negatives: queries with no copied footage
    (about half of them hard negatives when the split allows);
    montage_fraction / multi_fraction: share of the positive queries that
    are montages / hold two excerpts (at least two montages, one per
    strength, when there are three positives or more); copy_seconds:
    (min, max) length of an excerpt, seconds (cut to the reference);
    filler_seconds: (min, max) length of a filler stretch, seconds;
    min_query_seconds: filler is lengthened up to this query length;
    negative_seconds: (min, max) length of a negative query, seconds;
    long_side: (min, max) longer side of a query in pixels; fps_choices:
    query frame rates (frames per second); holdout: fraction of each
    similar-scene group held out of the references; synth_filler:
    probability that a filler stretch is synthetic rather than held-out
    footage; refs: "copy" (hard-link or copy into DIR/references) or "list"
    (absolute paths in refs.txt); crf: x264 quality of the queries;
    workers: queries rendered in parallel.
    """

    split: str = "eval"
    queries: int = 50
    negatives: int = 10
    montage_fraction: float = 0.15
    multi_fraction: float = 0.25
    copy_seconds: tuple[float, float] = (2.0, 8.0)
    filler_seconds: tuple[float, float] = (1.0, 5.0)
    min_query_seconds: float = 5.0
    negative_seconds: tuple[float, float] = (5.0, 15.0)
    long_side: tuple[int, int] = (384, 512)
    fps_choices: tuple[float, ...] = (24.0, 25.0, 30.0)
    holdout: float = 0.34
    synth_filler: float = 0.3
    refs: str = "copy"
    crf: int = 20
    workers: int = 1

    def __post_init__(self) -> None:
        if self.split not in ("eval", "train"):
            raise ConfigError(f"--split must be eval or train, got {self.split!r}")
        if self.queries < 1:
            raise ConfigError(f"--queries must be >= 1, got {self.queries}")
        if not 0 <= self.negatives <= self.queries:
            raise ConfigError(f"--negatives must be within 0..{self.queries} (--queries), got {self.negatives}")
        for name in ("copy_seconds", "filler_seconds", "negative_seconds", "long_side"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ConfigError(f"{name} must be MIN:MAX with 0 < MIN <= MAX, got {lo}:{hi}")
        if self.long_side[0] < 32:
            raise ConfigError(f"long_side must be at least 32 pixels, got {self.long_side[0]}")
        if not self.fps_choices or min(self.fps_choices) <= 0:
            raise ConfigError(f"fps_choices must be positive frame rates, got {self.fps_choices}")
        if not 0.0 <= self.holdout < 1.0:
            raise ConfigError(f"--holdout must be within [0, 1), got {self.holdout}")
        if not 0.0 <= self.synth_filler <= 1.0:
            raise ConfigError(f"synth_filler must be within [0, 1], got {self.synth_filler}")
        if self.refs not in ("copy", "list"):
            raise ConfigError(f"--refs must be copy or list, got {self.refs!r}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")


@dataclass(frozen=True)
class SourceVideo:
    """One usable file of the source folder.

    name: file name in the folder; family: its family's root; group:
    similar-scene key ("WIDTHxHEIGHT@FPS" of the family root); duration:
    seconds; width, height: display size in pixels; fps: frames per second.
    """

    name: str
    family: str
    group: str
    duration: float
    width: int
    height: int
    fps: float

    @property
    def stem(self) -> str:
        return Path(self.name).stem


@dataclass(frozen=True)
class TransformPick:
    """One transformation chosen for an excerpt: ``family_transforms(family,
    strength)[index]`` (registry name `name`)."""

    family: str
    strength: str
    index: int
    name: str

    def build(self):
        from vidtrace.transforms import family_transforms

        return family_transforms(self.family, self.strength)[self.index]


@dataclass(frozen=True)
class Excerpt:
    """Footage taken from `source` (a file name in the source folder; None:
    a synthetic scene sequence rendered from `seed`), from `start` for
    `duration` seconds."""

    source: str | None
    start: float
    duration: float
    seed: int = 0


@dataclass(frozen=True)
class CopySpec:
    """An excerpt of a reference and the transformations applied to it, in order."""

    excerpt: Excerpt
    picks: tuple[TransformPick, ...] = ()


@dataclass(frozen=True)
class PieceSpec:
    """One stretch of a query, in playing order.

    kind "filler": the `filler` footage; "copy": copies[0], transformed;
    "montage": the copies spliced by the montage preset of `strength`
    (one segment per copy) with the `filler` footage in the gaps.
    """

    kind: str
    filler: Excerpt | None = None
    copies: tuple[CopySpec, ...] = ()
    strength: str = ""


@dataclass(frozen=True)
class QuerySpec:
    """Everything needed to render one query: id (file stem), kind (one of
    POSITIVE_KINDS or NEGATIVE_KINDS), frame size in pixels, frame rate
    (frames per second), seed of the transformations' randomness, pieces."""

    id: str
    kind: str
    width: int
    height: int
    fps: float
    seed: int
    pieces: tuple[PieceSpec, ...]

    def copies(self) -> list[CopySpec]:
        return [c for p in self.pieces for c in p.copies]


@dataclass(frozen=True)
class BenchPlan:
    """The whole benchmark before any pixel is made: references, held-out
    footage and query specs."""

    seed: int
    options: MakeOptions
    references: tuple[SourceVideo, ...]
    holdout: tuple[SourceVideo, ...]
    queries: tuple[QuerySpec, ...]


# --------------------------------------------------------------------------- coverage


def coverage(plan: BenchPlan) -> dict[str, dict[str, int]]:
    """How often each family and each transformation appears per strength:
    {"family:name" or "family": {"weak": n, "strong": n}} (montage counts
    montage queries)."""
    counts: dict[str, dict[str, int]] = {}

    def add(key: str, strength: str) -> None:
        counts.setdefault(key, {"weak": 0, "strong": 0})[strength] += 1

    for q in plan.queries:
        for piece in q.pieces:
            if piece.kind == "montage":
                add("montage", piece.strength)
            for c in piece.copies:
                for p in c.picks:
                    add(p.family, p.strength)
                    add(f"{p.family}:{p.name}", p.strength)
    return dict(sorted(counts.items()))


def missing_coverage(plan: BenchPlan) -> list[str]:
    """"family at strength" (and "temporal:name at strength" for
    REQUIRED_TEMPORAL) entries the plan never uses; empty when every
    family, montage included, and every required temporal edit appears at
    both strengths."""
    from vidtrace.transforms import STRENGTHS

    have = coverage(plan)
    keys = list(COPY_FAMILIES) + ["montage"] + [f"temporal:{n}" for n in REQUIRED_TEMPORAL]
    return [f"{k} at {s}" for k in keys for s in STRENGTHS if have.get(k, {}).get(s, 0) == 0]


# --------------------------------------------------------------------------- planning


def _uniform(rng, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return float(lo if lo == hi else rng.uniform(lo, hi))


def _ordered_tokens(rng) -> list[TransformPick]:
    """Every transformation of every copy family at both strengths, ordered
    so that any prefix spreads over families: round-robin over the
    (family, strength) pairs in a seeded order, each pair's transforms
    shuffled (REQUIRED_TEMPORAL first)."""
    from vidtrace.transforms import STRENGTHS, family_transforms

    queues = []
    for family in COPY_FAMILIES:
        for strength in STRENGTHS:
            options = family_transforms(family, strength)
            order = [int(i) for i in rng.permutation(len(options))]
            if family == "temporal":
                order.sort(key=lambda i: options[i].name not in REQUIRED_TEMPORAL)
            queues.append([TransformPick(family, strength, i, options[i].name) for i in order])
    queues = [queues[int(i)] for i in rng.permutation(len(queues))]
    out: list[TransformPick] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _random_pick(rng, family: str) -> TransformPick:
    from vidtrace.transforms import STRENGTHS, family_transforms

    strength = STRENGTHS[int(rng.integers(len(STRENGTHS)))]
    options = family_transforms(family, strength)
    i = int(rng.integers(len(options)))
    return TransformPick(family, strength, i, options[i].name)


def deal_transforms(slots: int, rng) -> list[tuple[TransformPick, ...]]:
    """0-2 picks of different families for each of `slots` excerpts, covering
    as much of :func:`_ordered_tokens` as the slots hold; returned in
    COPY_FAMILIES order per excerpt."""
    capacity = [int(c) for c in rng.choice(3, size=slots, p=[0.15, 0.35, 0.5])]
    tokens = _ordered_tokens(rng)
    # Too little room for every token: grow 1 -> 2, then 0 -> 1 -> 2, keeping a few plain copies.
    for want in (2, 1, 2):
        for i in range(slots):
            if sum(capacity) >= len(tokens):
                break
            if capacity[i] == want - 1 and (want == 2 or i % 8 != 0):
                capacity[i] = want
    picks: list[list[TransformPick]] = [[] for _ in range(slots)]
    for token in tokens:
        free = [i for i in range(slots)
                if len(picks[i]) < capacity[i] and all(p.family != token.family for p in picks[i])]
        if not free:
            continue
        most = max(capacity[i] - len(picks[i]) for i in free)
        free = [i for i in free if capacity[i] - len(picks[i]) == most]
        picks[free[int(rng.integers(len(free)))]].append(token)
    for i in range(slots):
        while len(picks[i]) < capacity[i]:
            left = [f for f in COPY_FAMILIES if all(p.family != f for p in picks[i])]
            picks[i].append(_random_pick(rng, left[int(rng.integers(len(left)))]))
    rank = {f: k for k, f in enumerate(COPY_FAMILIES)}
    return [tuple(sorted(p, key=lambda t: rank[t.family])) for p in picks]


def _query_kinds(options: MakeOptions, hard_ok: bool, rng) -> list[str]:
    positives = options.queries - options.negatives
    montages = min(positives, max(2 if positives >= 3 else 0, int(round(options.montage_fraction * positives))))
    multis = min(positives - montages, int(round(options.multi_fraction * positives)))
    hard = (options.negatives + 1) // 2 if hard_ok else 0
    kinds = (["copy"] * (positives - montages - multis) + ["multi"] * multis + ["montage"] * montages
             + ["hard_negative"] * hard + ["negative"] * (options.negatives - hard))
    return [kinds[int(i)] for i in rng.permutation(len(kinds))]


class _Planner:
    """Seeded choices of one plan (references round-robin, excerpts, filler)."""

    def __init__(self, refs: Sequence[SourceVideo], holdout: Sequence[SourceVideo], options: MakeOptions, rng):
        self.refs, self.holdout, self.options, self.rng = list(refs), list(holdout), options, rng
        self._ref_queue: list[SourceVideo] = []

    def seed(self) -> int:
        return int(self.rng.integers(2**31))

    def next_refs(self, n: int) -> list[SourceVideo]:
        """n references, distinct when there are enough, spreading use evenly."""
        out: list[SourceVideo] = []
        while len(out) < n:
            if not self._ref_queue:
                self._ref_queue = [self.refs[int(i)] for i in self.rng.permutation(len(self.refs))]
            pick = next((r for r in self._ref_queue if r not in out), self._ref_queue[0])
            self._ref_queue.remove(pick)
            out.append(pick)
        return out

    def excerpt(self, video: SourceVideo, seconds: tuple[float, float]) -> Excerpt:
        length = min(_uniform(self.rng, seconds), video.duration)
        start = _uniform(self.rng, (0.0, max(0.0, video.duration - length)))
        return Excerpt(video.name, round(start, 3), round(length, 3))

    def filler(self, seconds: float) -> Excerpt:
        """Held-out footage (a group, then a family, then a file, each
        uniformly) or, with probability synth_filler, a synthetic scene."""
        if self.holdout and self.rng.random() >= self.options.synth_filler:
            video = self.holdout
            for key in ("group", "family"):
                values = sorted({getattr(v, key) for v in video})
                chosen = values[int(self.rng.integers(len(values)))]
                video = [v for v in video if getattr(v, key) == chosen]
            return self.excerpt(video[int(self.rng.integers(len(video)))], (seconds, seconds))
        return Excerpt(None, 0.0, round(seconds, 3), self.seed())

    def footage(self, seconds: float, most: int = 6) -> list[Excerpt]:
        """Filler excerpts, one after the other, until they last `seconds`
        (held-out files can be shorter than asked; at most `most` excerpts)."""
        out = [self.filler(seconds)]
        while len(out) < most and sum(e.duration for e in out) < seconds - 0.1:
            out.append(self.filler(seconds - sum(e.duration for e in out)))
        return out

    def fillers(self, total: float, count: int) -> list[list[Excerpt]]:
        """`count` filler stretches of about `total` seconds in all."""
        weights = self.rng.uniform(0.5, 1.5, count)
        return [self.footage(max(0.5, total * w / weights.sum())) for w in weights]

    def size(self, aspect: float) -> tuple[int, int]:
        """(width, height) of a query, even sizes, longer side from long_side."""
        lo, hi = self.options.long_side
        side = int(self.rng.integers(lo, hi + 1))
        other = side / aspect if aspect >= 1 else side * aspect
        long_, short = 2 * (side // 2), max(16, 2 * int(round(other / 2)))
        return (long_, short) if aspect >= 1 else (short, long_)


def choose_holdout(videos: Sequence[SourceVideo], fraction: float, rng) -> set[str]:
    """Families (root names) held out of the references: in every
    similar-scene group of two or more families, round(fraction * size)
    of them (at least one, never all), drawn from the shorter half of the
    group so that the longer footage stays indexed."""
    groups: dict[str, list[SourceVideo]] = {}
    for v in videos:
        if v.name == v.family:
            groups.setdefault(v.group, []).append(v)
    held: set[str] = set()
    if fraction <= 0:
        return held
    for key in sorted(groups):
        roots = sorted(groups[key], key=lambda v: (v.duration, v.name))
        if len(roots) < 2:
            continue
        n = min(len(roots) - 1, max(1, int(round(fraction * len(roots)))))
        shorter = roots[:max(n, (len(roots) + 1) // 2)]
        held.update(shorter[int(i)].family for i in rng.permutation(len(shorter))[:n])
    return held


def plan_benchmark(videos: Sequence[SourceVideo], seed: int, options: MakeOptions | None = None) -> BenchPlan:
    """Choose references, held-out footage and every query (no pixels).

    videos: every usable file of the split's families (roots and members).
    """
    import numpy as np

    from vidtrace.transforms import family_transforms

    options = options or MakeOptions()
    rng = np.random.default_rng([int(seed), 0xB3AC])
    held = choose_holdout(videos, options.holdout, rng)
    refs = tuple(v for v in videos if v.name == v.family and v.family not in held)
    holdout = tuple(v for v in videos if v.family in held)
    if not refs:
        raise ConfigError("no reference family left (the split has no usable family)")
    ref_groups = {r.group for r in refs}
    hard_pool = [v for v in holdout if v.group in ref_groups]
    planner = _Planner(refs, holdout, options, rng)
    kinds = _query_kinds(options, bool(hard_pool), rng)

    # Which excerpts each positive query holds, then deal the transformations over all of them.
    layouts: list[list[int]] = []  # per query: copies per piece
    montage_strengths = []
    for kind in kinds:
        if kind == "copy":
            layouts.append([1])
        elif kind == "multi":
            layouts.append([1, 1])
        elif kind == "montage":
            strength = ("weak", "strong")[len(montage_strengths) % 2]
            montage_strengths.append(strength)
            preset = family_transforms("montage", strength)[0]
            lo, hi = preset.segments if isinstance(preset.segments, tuple) else (2, 3)
            layouts.append([int(rng.integers(lo, hi + 1))])
        else:
            layouts.append([])
    strengths = iter([montage_strengths[int(i)] for i in rng.permutation(len(montage_strengths))])
    picks = iter(deal_transforms(sum(sum(x) for x in layouts), rng))

    queries = []
    for k, (kind, layout) in enumerate(zip(kinds, layouts)):
        qid = f"q{k:03d}"
        if kind in NEGATIVE_KINDS:
            queries.append(_plan_negative(qid, kind, planner, hard_pool))
            continue
        pieces: list[PieceSpec] = []
        aspect = None
        for n in layout:
            refs_here = planner.next_refs(n)
            aspect = aspect or refs_here[0].width / refs_here[0].height
            if kind == "montage":
                copies = tuple(CopySpec(planner.excerpt(r, (options.copy_seconds[1],) * 2), next(picks))
                               for r in refs_here)
                gap_filler = planner.filler(options.filler_seconds[1])
                pieces.append(PieceSpec("montage", gap_filler, copies, next(strengths)))
            else:
                pieces.append(PieceSpec("copy", copies=(CopySpec(planner.excerpt(refs_here[0], options.copy_seconds),
                                                                 next(picks)),)))
        if kind != "montage":
            copied = sum(p.copies[0].excerpt.duration for p in pieces)
            gaps = len(pieces) + 1
            total = sum(_uniform(rng, options.filler_seconds) for _ in range(gaps))
            total = max(total, options.min_query_seconds - copied)
            fill = [[PieceSpec("filler", e) for e in gap] for gap in planner.fillers(total, gaps)]
            pieces = [x for i, p in enumerate(pieces) for x in fill[i] + [p]] + fill[-1]
        w, h = planner.size(aspect)
        fps = float(options.fps_choices[int(rng.integers(len(options.fps_choices)))])
        queries.append(QuerySpec(qid, kind, w, h, fps, planner.seed(), tuple(pieces)))
    return BenchPlan(int(seed), options, refs, holdout, tuple(queries))


def _plan_negative(qid: str, kind: str, planner: _Planner, hard_pool: list[SourceVideo]) -> QuerySpec:
    """A query of held-out footage only: clips of one similar-scene group
    with indexed members (hard_negative), or any filler (negative)."""
    rng, options = planner.rng, planner.options
    target = _uniform(rng, options.negative_seconds)
    fill: list[Excerpt] = []
    if kind == "hard_negative":
        group = hard_pool[int(rng.integers(len(hard_pool)))].group
        pool = [v for v in hard_pool if v.group == group]
        for i in rng.permutation(len(pool)):
            if sum(e.duration for e in fill) >= target:
                break
            fill.append(planner.excerpt(pool[int(i)], (target, target)))
        aspect = pool[0].width / pool[0].height
        short = options.negative_seconds[0] - sum(e.duration for e in fill)
        if short > 0:  # the group's held-out footage is too short: top up with any filler
            fill += planner.footage(short)
    else:
        fill = [e for gap in planner.fillers(target, int(rng.integers(1, 4))) for e in gap]
        real = [v for e in fill for v in planner.holdout if v.name == e.source]
        aspect = real[0].width / real[0].height if real else (16 / 9, 4 / 3)[int(rng.integers(2))]
    w, h = planner.size(aspect)
    fps = float(options.fps_choices[int(rng.integers(len(options.fps_choices)))])
    return QuerySpec(qid, kind, w, h, fps, planner.seed(), tuple(PieceSpec("filler", e) for e in fill))


# --------------------------------------------------------------------------- source folder


def _group_key(width: int, height: int, fps: float) -> str:
    return f"{width}x{height}@{fps:.0f}"


def scan_sources(src_dir: str | Path, split: str) -> tuple[list[SourceVideo], list[str]]:
    """(usable videos of the split's families, warnings about skipped files).

    A family whose root cannot be read is skipped as a whole."""
    from vidtrace.bench.sources import split_families
    from vidtrace.decode import probe

    src = Path(src_dir)
    if not src.is_dir():
        raise ConfigError(f"--from {src}: not a folder of videos")
    videos: list[SourceVideo] = []
    warnings: list[str] = []
    for fam in split_families(src, split):
        key = None
        for name in fam.members:
            try:
                info = probe(src / name)
            except VideoError as exc:
                warnings.append(f"skipped {exc}")
                if name == fam.root:
                    break
                continue
            duration = info.duration if info.duration > 0 else _decoded_duration(src / name)
            if key is None:
                key = _group_key(info.width, info.height, info.fps)
            videos.append(SourceVideo(name, fam.root, key, round(duration, 6), info.width, info.height, info.fps))
    if not videos:
        raise ConfigError(f"--from {src}: no readable video of the {split!r} split")
    stems = [v.stem for v in videos if v.name == v.family]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise ConfigError(f"--from {src}: several family roots share the file stem {dup[0]!r} (ids must be unique)")
    return videos, warnings


def _decoded_duration(path: Path) -> float:
    """Seconds of a file whose container gives no duration (decodes it all)."""
    from vidtrace.decode import DecodeOptions, DecodeStats, iter_frames

    stats = DecodeStats()
    for _ in iter_frames(path, DecodeOptions(fps=1.0, max_size=64, strict=False), stats):
        pass
    return stats.duration


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _Mapped:
    """Frames with their origin: clip (uint8 [T, H, W, 3], timestamps float64
    [T] seconds); copy int64 [T]: the query's copy number each frame shows
    (-1: not copied); ref_time float64 [T]: its time in that reference
    (seconds, NaN when not copied); ref_frame int64 [T]: its decode index in
    the reference (-1)."""

    clip: Any
    copy: Any
    ref_time: Any
    ref_frame: Any

    @classmethod
    def unrelated(cls, clip) -> _Mapped:
        import numpy as np

        n = len(clip)
        return cls(clip, np.full(n, -1, np.int64), np.full(n, np.nan), np.full(n, -1, np.int64))

    def take(self, index, clip) -> _Mapped:
        """The origin of `clip`, whose frame k shows this one's frame index[k] (-1: new filler)."""
        import numpy as np

        index = np.asarray(index, np.int64)
        ok = index >= 0
        safe = np.where(ok, index, 0)
        return _Mapped(clip, np.where(ok, self.copy[safe], -1), np.where(ok, self.ref_time[safe], np.nan),
                       np.where(ok, self.ref_frame[safe], -1))


def _decode_excerpt(path: Path, start: float, duration: float, max_side: int):
    """(Clip of the frames of `path` in [start, start + duration) seconds,
    int64 [T] their decode indices); frames scaled to at most `max_side`
    pixels. When the file ends before `start`, its last `duration` seconds."""
    import numpy as np

    from vidtrace.decode import DecodeOptions, iter_frames
    from vidtrace.types import Clip

    frames, times, index = [], [], []
    last = 0.0
    opts = DecodeOptions(fps=None, max_size=max_side, strict=False)
    for i, fr in enumerate(iter_frames(path, opts)):
        last = fr.timestamp
        if fr.timestamp < start - 1e-9:
            continue
        if fr.timestamp >= start + duration - 1e-9 and frames:
            break
        frames.append(fr.rgb)
        times.append(fr.timestamp)
        index.append(i)
    if not frames:
        if start <= 0:
            raise VideoError(str(path), "no decodable frames")
        return _decode_excerpt(path, max(0.0, last - duration), duration, max_side)
    return Clip(np.stack(frames), np.asarray(times, np.float64)), np.asarray(index, np.int64)


def fit_frames(frames, height: int, width: int):
    """uint8 [T, height, width, 3]: the frames scaled to fit inside the size
    with their aspect ratio kept, centred on black (scaled to fill when the
    aspect ratios agree to within two pixels)."""
    import numpy as np

    from vidtrace.transforms._image import resize

    t, h, w, _ = frames.shape
    if (h, w) == (height, width):
        return frames
    scale = min(height / h, width / w)
    nh, nw = max(2, int(round(h * scale))), max(2, int(round(w * scale)))
    if abs(nh - height) <= 2 and abs(nw - width) <= 2:
        return resize(frames, height, width)
    out = np.zeros((t, height, width, 3), np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    out[:, top:top + nh, left:left + nw] = resize(frames, nh, nw)
    return out


def _on_grid(m: _Mapped, fps: float) -> _Mapped:
    """The footage shown on a regular grid of `fps` frames per second from 0
    (each grid frame shows the last frame at or before its time)."""
    import numpy as np

    from vidtrace.transforms.base import frame_step, hold_index
    from vidtrace.types import Clip

    ts = m.clip.timestamps
    seconds = float(ts[-1] - ts[0]) + frame_step(ts)
    n = max(1, int(round(seconds * fps)))
    grid = np.arange(n, dtype=np.float64) / fps
    idx = hold_index(ts, ts[0] + grid)
    return m.take(idx, Clip(m.clip.frames[idx], grid))


class _Renderer:
    """Renders the pieces of one query; remembers each copy's reference,
    frame period and transform record."""

    def __init__(self, spec: QuerySpec, src_dir: Path, ref_ids: dict[str, str]):
        import numpy as np

        self.spec, self.src_dir, self.ref_ids = spec, src_dir, ref_ids
        self.rng = np.random.default_rng(spec.seed)
        self.copies: list[dict] = []  # per copy number: manifest entry
        self.steps: list[float] = []  # per copy number: reference frame period (s)

    def footage(self, e: Excerpt):
        """Unrelated footage as a Clip at the query size (and, for synthetic scenes, frame rate)."""
        from vidtrace.synth import render_video
        from vidtrace.types import Clip

        h, w = self.spec.height, self.spec.width
        if e.source is None:
            scale = min(1.0, SYNTH_LONG_SIDE / max(w, h))
            clip = render_video(e.seed, e.duration, self.spec.fps, max(16, int(round(w * scale))),
                                max(16, int(round(h * scale))), shots=max(1, int(round(e.duration / 4))))
        else:
            clip, _ = _decode_excerpt(self.src_dir / e.source, e.start, e.duration, max(w, h))
        return Clip(fit_frames(clip.frames, h, w), clip.timestamps)

    def copy(self, c: CopySpec) -> tuple[_Mapped, dict]:
        """One excerpt of a reference, transformed and fitted to the query size."""
        import numpy as np

        from vidtrace.transforms import Compose
        from vidtrace.transforms.base import frame_step
        from vidtrace.types import Clip

        e = c.excerpt
        clip, frame_idx = _decode_excerpt(self.src_dir / e.source, e.start, e.duration,
                                          max(self.spec.width, self.spec.height))
        number = len(self.copies)
        m = _Mapped(clip, np.full(len(clip), number, np.int64), clip.timestamps.copy(), frame_idx)
        out, record = Compose(tuple(p.build() for p in c.picks))(clip, self.rng)
        m = m.take(record.source_index, Clip(fit_frames(out.frames, self.spec.height, self.spec.width),
                                             out.timestamps))
        entry = {"copy": number, "ref": self.ref_ids[e.source], "source_start": float(clip.timestamps[0]),
                 "source_end": float(clip.timestamps[-1]) + frame_step(clip.timestamps),
                 "transforms": [asdict(p) for p in c.picks], "flipped": record.flipped,
                 "record": record.to_json()}
        self.copies.append(entry)
        self.steps.append(frame_step(clip.timestamps))
        return m, entry

    def piece(self, p: PieceSpec) -> tuple[_Mapped, dict]:
        """The piece on the query's frame grid, and its manifest entry."""
        import numpy as np

        from vidtrace.transforms import family_transforms
        from vidtrace.types import Clip

        fps = self.spec.fps
        if p.kind == "filler":
            m = _Mapped.unrelated(self.footage(p.filler))
            return _on_grid(m, fps), {"kind": "filler", **_excerpt_json(p.filler)}
        if p.kind == "copy":
            m, entry = self.copy(p.copies[0])
            return _on_grid(m, fps), {"kind": "copy", "copies": [entry]}
        sources = [self.copy(c) for c in p.copies]
        filler = _on_grid(_Mapped.unrelated(self.footage(p.filler)), fps).clip
        preset = family_transforms("montage", p.strength)[0]
        montage = replace(preset, segments=None, size=(self.spec.height, self.spec.width), fps=fps,
                          filler_clip=filler)
        out, record = montage.splice([m.clip for m, _ in sources], self.rng)
        n = len(out)
        copy, ref_time, ref_frame = np.full(n, -1, np.int64), np.full(n, np.nan), np.full(n, -1, np.int64)
        for k, (m, _) in enumerate(sources):
            at = record.source_clip == k
            idx = record.source_index[at]
            copy[at], ref_time[at], ref_frame[at] = m.copy[idx], m.ref_time[idx], m.ref_frame[idx]
        mapped = _Mapped(Clip(out.frames, out.timestamps), copy, ref_time, ref_frame)
        entry = {"kind": "montage", "strength": p.strength, "filler": _excerpt_json(p.filler),
                 "record": record.to_json(), "copies": [e for _, e in sources]}
        return _on_grid(mapped, fps), entry


def _excerpt_json(e: Excerpt) -> dict:
    if e.source is None:
        return {"source": None, "synthetic_seed": e.seed, "duration": e.duration}
    return {"source": e.source, "source_start": e.start, "duration": e.duration}


def render_query(spec: QuerySpec, src_dir: str | Path, out_path: str | Path, ref_ids: dict[str, str],
                 crf: int = 20) -> tuple[dict, list, Any]:
    """Write one query video; returns (manifest entry, ground-truth
    MatchRows, the query's TransformRecord).

    ref_ids: reference file name -> reference id. In the record, frame k of
    the query (at k / fps seconds) shows frame source_index[k] (decode
    index) at source_times[k] seconds of copy number source_clip[k] (-1:
    not copied; the manifest entry's segments name each copy's reference).
    Pieces are rendered one at a time while the encoder consumes them, so
    memory holds one piece."""
    import numpy as np

    from vidtrace.transforms import TransformRecord
    from vidtrace.types import MatchRow
    from vidtrace.videoio import write_video

    r = _Renderer(spec, Path(src_dir), ref_ids)
    parts: list[_Mapped] = []
    entries: list[dict] = []
    frames_done = 0

    def frames() -> Iterator:
        nonlocal frames_done
        for p in spec.pieces:
            m, entry = r.piece(p)
            entry = {"start": round(frames_done / spec.fps, 6), "end": round((frames_done + len(m.clip)) / spec.fps, 6),
                     **entry}
            frames_done += len(m.clip)
            parts.append(replace(m, clip=None))
            entries.append(entry)
            yield from m.clip.frames

    write_video(out_path, frames(), fps=spec.fps, crf=crf, options=dict(ENCODER_OPTIONS))
    n = frames_done
    copy = np.concatenate([m.copy for m in parts])
    record = TransformRecord("query", {}, np.arange(n, dtype=np.float64) / spec.fps,
                             np.concatenate([m.ref_frame for m in parts]), copy,
                             np.concatenate([m.ref_time for m in parts]), tuple(r.steps))
    rows, segments = [], []
    for s in record.segments():
        info = r.copies[s.source]
        rows.append(MatchRow(spec.id, info["ref"], s.output_start, s.output_end, s.source_start, s.source_end))
        segments.append({"copy": s.source, "ref": info["ref"], "query_start": s.output_start,
                         "query_end": s.output_end, "ref_start": s.source_start, "ref_end": s.source_end,
                         "reversed": s.reversed, "flipped": info["flipped"]})
    entry = {"id": spec.id, "file": f"queries/{spec.id}.mp4", "kind": spec.kind, "frames": n,
             "duration": round(n / spec.fps, 6), "fps": spec.fps, "width": spec.width, "height": spec.height,
             "seed": spec.seed, "pieces": entries, "segments": segments}
    return entry, rows, record


def _render_job(args: tuple) -> tuple[dict, list]:
    """render_query for a worker process: (manifest entry, ground-truth rows)."""
    entry, rows, _ = render_query(*args)
    return entry, rows


# --------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class MakeSummary:
    """What `make_benchmark` wrote: the folder, query and reference counts,
    ground-truth rows, seconds of query video, coverage gaps and warnings."""

    out: Path
    queries: int
    references: int
    gt_rows: int
    query_seconds: float
    missing: tuple[str, ...]
    warnings: tuple[str, ...]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(f"--out {out}: folder is not empty; choose a new one")
    (out / "queries").mkdir(parents=True, exist_ok=True)


def _place_references(plan: BenchPlan, src: Path, out: Path) -> list[str]:
    """Hard-link or copy the references into out/references (or list their
    absolute paths); returns the lines of refs.txt."""
    lines = []
    if plan.options.refs == "list":
        return [str((src / r.name).resolve()) for r in plan.references]
    (out / "references").mkdir(exist_ok=True)
    for r in plan.references:
        target = out / "references" / r.name
        try:
            os.link(src / r.name, target)
        except OSError:
            shutil.copyfile(src / r.name, target)
        lines.append(f"references/{r.name}")
    return lines


def manifest_json(plan: BenchPlan, src: Path, entries: list[dict]) -> dict:
    """The manifest: options, references (with SHA-256), held-out footage,
    coverage and one entry per query (see render_query)."""
    return {
        "format": FORMAT, "version": VERSION, "seed": plan.seed, "split": plan.options.split,
        "options": {k: v for k, v in asdict(plan.options).items() if k != "workers"},
        "references": [{"id": r.stem, "file": r.name, "sha256": _sha256(src / r.name), "duration": r.duration,
                        "width": r.width, "height": r.height, "fps": r.fps, "group": r.group}
                       for r in plan.references],
        "holdout": [{"file": v.name, "family": v.family, "group": v.group, "duration": v.duration}
                    for v in plan.holdout],
        "coverage": coverage(plan),
        "missing_coverage": missing_coverage(plan),
        "queries": entries,
    }


def make_benchmark(src_dir: str | Path, out_dir: str | Path, seed: int, options: MakeOptions | None = None,
                   progress: Callable[[str], None] | None = None) -> MakeSummary:
    """Build a benchmark in `out_dir` from the videos of `src_dir` (see the module docstring)."""
    from vidtrace.types import write_match_csv

    options = options or MakeOptions()
    src, out = Path(src_dir), Path(out_dir)
    videos, warnings = scan_sources(src, options.split)
    plan = plan_benchmark(videos, seed, options)
    ref_ids = {r.name: r.stem for r in plan.references}
    clash = sorted(set(ref_ids.values()) & {q.id for q in plan.queries})
    if clash:
        raise ConfigError(f"--from {src}: reference id {clash[0]!r} clashes with a query id")
    _prepare_out(out)
    jobs = [(q, src, out / "queries" / f"{q.id}.mp4", ref_ids, options.crf) for q in plan.queries]
    results: list[tuple[dict, list]] = []
    if options.workers == 1:
        for job in jobs:
            results.append(_render_job(job))
            if progress:
                progress(f"{job[0].id} {job[0].kind:13s} {results[-1][0]['duration']:6.2f} s")
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(options.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for job, res in zip(jobs, pool.map(_render_job, jobs)):
                results.append(res)
                if progress:
                    progress(f"{job[0].id} {job[0].kind:13s} {res[0]['duration']:6.2f} s")
    lines = _place_references(plan, src, out)
    (out / "refs.txt").write_text("".join(f"{line}\n" for line in lines))
    rows = sorted((r for _, rs in results for r in rs),
                  key=lambda r: (r.query_id, r.query_start, r.ref_id, r.ref_start))
    write_match_csv(rows, out / "ground_truth.csv", with_score=False)
    entries = [e for e, _ in results]
    manifest = manifest_json(plan, src, entries)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return MakeSummary(out, len(entries), len(plan.references), len(rows), sum(e["duration"] for e in entries),
                       tuple(manifest["missing_coverage"]), tuple(warnings))


def read_manifest(bench_dir: str | Path) -> dict:
    """The manifest of a benchmark folder; ConfigError when it is not one."""
    path = Path(bench_dir) / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--bench {bench_dir}: not a benchmark folder (no manifest.json)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc})") from None
    if data.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a vidtrace benchmark manifest")
    if int(data.get("version", 0)) > VERSION:
        raise ConfigError(f"{path}: made by a newer vidtrace (version {data['version']})")
    return data


def say(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)
