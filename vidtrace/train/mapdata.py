"""Training data for SPD, SKE and SSAN: similarity maps of video pairs with known copied boxes.

Everything comes from the "train" families of the shared corpus
(:func:`vidtrace.bench.sources.split_families`); the evaluation benchmark
uses the "eval" families, so no footage is shared. Each family contributes
its root file.

How a pair is made (all seeded by ``MapDataConfig.seed``):

1. *Source cache* (once per video, :func:`build_source_cache`): every frame
   (decoded at up to ``native_fps`` frames/s, longest side ``max_size`` as
   the library does) is edited by ``appearances`` seeded frame-level
   transformations of :mod:`vidtrace.transforms` (appearance 0 = none; the
   others one or two of crop/rotate/rescale/borders, photometric, codec and
   overlay edits, weak or strong) and described by the engine's PDQ
   extractor with the query variants the search uses. The reference side is
   the untouched file as the library indexes it: the engine's
   :func:`vidtrace.pipeline.extract_video` at the basis rate (8 fps) plus
   grey thumbnails (:func:`vidtrace.keyframes.make_thumbs`) for SKE.
2. *Query programs* (:func:`make_query`): 1-3 excerpts of train videos
   (many of 3 s or less), each with seeded temporal transformations of
   :mod:`vidtrace.transforms` (speed 0.5-2x, reverse, frame drop, pause,
   frame rate, shuffle-dropout) are spliced by :class:`~vidtrace.transforms.Montage`
   into synthetic filler, together with 0-2 excerpts of *other* videos of
   the same scene group when possible (same room ASL clips, the MDN toy
   clips: hard negatives). The transforms run on "index clips" (tiny frames,
   real timestamps), so the composed record maps every output frame to a
   source frame exactly; the query is sampled at 8 fps with the decoder's
   rule (first frame of every 1/8 s) and each sample takes the cached
   descriptors of the frame it shows. Ground truth is
   :meth:`~vidtrace.transforms.TransformRecord.segments` of that record.
3. *Pairs*: the query against every video it copies (positives, boxes =
   that video's segments) and against ``negatives`` unused videos of the
   same group (hard negatives) or any. The map is the engine's dense map
   (:func:`vidtrace.compare.dense_maps`: Hamming distance of the query's
   descriptors and variants to the reference's, similarity 1 - d / 128,
   zero above 76 bits or for low-quality frames) of the query (8 fps) against
   the reference's *basis* frames (8 fps); 2 fps references and keyframe
   references are column subsets of it (:func:`uniform_subset`).

The dataset (:class:`MapDataset`) and the source cache live in a cache
folder (default ``~/.cache/vidtrace/mapdata``) keyed by a hash of the
configuration, so a second run (or another trainer) loads them in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from vidtrace.decode import sample_times

DEFAULT_VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "videos"
FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """$VIDTRACE_CACHE/mapdata, else ~/.cache/vidtrace/mapdata."""
    root = os.environ.get("VIDTRACE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "vidtrace")
    return Path(root) / "mapdata"


@dataclass(frozen=True)
class MapDataConfig:
    """What the training maps are made of.

    video_dir: the corpus folder; split: families used ("train"); seed:
    seeds everything below (the evaluation benchmark uses other seeds and
    the "eval" families); appearances: frame-level edits per source video
    (0 = untouched, the rest random); queries: query programs; max_size:
    longest side (px) of decoded frames (the library's 256); native_fps:
    source frames per second kept for query synthesis; query_fps /
    basis_fps: sampling of queries / reference basis frames (frames/s);
    thumb_size: SKE thumbnail side (px); query_variants: PDQ query variants
    folded into the maps (as the search does, mirroring left out: a mirrored
    copy is found on the flipped map, which looks the same); min_quality,
    max_distance, sim_scale: the search's quality floor, Hamming cut-off
    (bits) and similarity scale; negatives: unrelated references per query;
    short_copy: probability that an excerpt lasts at most 3 s.
    """

    video_dir: str = str(DEFAULT_VIDEOS)
    split: str = "train"
    seed: int = 1729
    appearances: int = 8
    queries: int = 1500
    max_size: int = 256
    native_fps: float = 15.0
    query_fps: float = 8.0
    basis_fps: float = 8.0
    thumb_size: int = 16
    query_variants: tuple[str, ...] = ("halves", "center", "uncropped")
    min_quality: int = 50
    max_distance: int = 76
    sim_scale: float = 128.0
    negatives: int = 2
    short_copy: float = 0.4

    def key(self, *fields_: str) -> str:
        """Short hash of the named fields (all when none), for cache names."""
        d = asdict(self)
        d.pop("video_dir")
        if fields_:
            d = {k: d[k] for k in fields_}
        d["format"] = FORMAT_VERSION
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


SOURCE_FIELDS = ("seed", "appearances", "max_size", "native_fps", "basis_fps", "thumb_size", "query_variants")


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class SourceVideo:
    """Cached descriptors of one train video.

    name: file name; group: similar-scene group (frame size and rate);
    native_times: float64 [T] seconds of the kept decoded frames;
    app_desc: uint8 [A, T, 32] PDQ of each frame under each appearance;
    app_quality: int16 [A, T]; app_variants: {variant: uint8 [A, T, ...]};
    basis_times: float64 [N] seconds of the 8 fps basis frames (engine
    sampling); basis_desc: uint8 [N, 32]; basis_quality: int16 [N];
    thumbs: uint8 [N, s, s] grey thumbnails of the basis frames.
    """

    name: str
    group: str
    native_times: np.ndarray
    app_desc: np.ndarray
    app_quality: np.ndarray
    app_variants: dict
    basis_times: np.ndarray
    basis_desc: np.ndarray
    basis_quality: np.ndarray
    thumbs: np.ndarray

    @property
    def duration(self) -> float:
        t = self.native_times
        return float(t[-1] - t[0] + (np.median(np.diff(t)) if t.size > 1 else 1 / 15))


def appearance_transform(index: int, rng: np.random.Generator):
    """The frame-level edit of appearance ``index`` (0: none) -- one or two
    random transforms of the spatial (no mirroring), photometric, codec and
    overlay families, weak with probability 0.7."""
    from vidtrace import transforms as vt

    if index == 0:
        return vt.Identity()
    picks = []
    families = ["spatial", "photometric", "codec", "overlay"]
    for fam in rng.choice(families, size=int(rng.integers(1, 3)), replace=False).tolist():
        strength = "weak" if rng.random() < 0.7 else "strong"
        options = [t for t in vt.family_transforms(fam, strength) if t.name not in ("hflip",)]
        picks.append(options[int(rng.integers(len(options)))])
    return vt.Compose(tuple(picks))


def _group_of(path: Path) -> str:
    from vidtrace.decode import probe

    info = probe(str(path))
    return f"{info.width}x{info.height}@{round(info.fps or 0)}"


def decode_native(path: Path, cfg: MapDataConfig):
    """Clip of a source's frames at up to ``cfg.native_fps`` (all the first frame's size)."""
    from vidtrace.decode import DecodeOptions, iter_frames
    from vidtrace.types import Clip

    frames, times = [], []
    for f in iter_frames(path, DecodeOptions(fps=cfg.native_fps, max_size=cfg.max_size, skip_nonref=False)):
        frames.append(f.rgb)
        times.append(f.timestamp)
    h, w = frames[0].shape[:2]
    if any(fr.shape[:2] != (h, w) for fr in frames):  # odd streams
        from vidtrace.transforms._image import resize

        frames = [fr if fr.shape[:2] == (h, w) else resize(fr[None], h, w)[0] for fr in frames]
    return Clip(np.stack(frames), np.asarray(times, dtype=np.float64))


def build_source(path: Path, index: int, cfg: MapDataConfig) -> SourceVideo:
    """Decode, edit and describe one source video (see the module docstring)."""
    from vidtrace.decode import DecodeOptions, iter_frames
    from vidtrace.features import get_extractor
    from vidtrace.keyframes import make_thumbs
    from vidtrace.pipeline import extract_video

    ext = get_extractor("pdq", min_quality=cfg.min_quality)
    clip = decode_native(path, cfg)
    descs, quals, vars_ = [], [], {v: [] for v in cfg.query_variants}
    for a in range(cfg.appearances):
        rng = np.random.default_rng([cfg.seed, 7, index, a])
        edited, _ = appearance_transform(a, rng)(clip, rng)
        d, q, var = ext.describe(list(edited.frames), cfg.query_variants)
        descs.append(d)
        quals.append(q)
        for v in cfg.query_variants:
            vars_[v].append(var[v])
    opts = DecodeOptions(fps=cfg.basis_fps, max_size=cfg.max_size)
    basis = extract_video(path, ext, opts)
    thumbs = make_thumbs([f.rgb for f in iter_frames(path, opts)], cfg.thumb_size)
    if len(thumbs) != len(basis.features):
        raise RuntimeError(f"{path}: thumbnails and basis frames differ in number")
    return SourceVideo(path.name, _group_of(path), clip.timestamps, np.stack(descs), np.stack(quals),
                       {v: np.stack(x) for v, x in vars_.items()}, basis.features.timestamps,
                       basis.features.descriptors, basis.features.quality, thumbs)


def _save_source(src: SourceVideo, path: Path) -> None:
    arrays = {k: getattr(src, k) for k in ("native_times", "app_desc", "app_quality", "basis_times", "basis_desc",
                                           "basis_quality", "thumbs")}
    arrays.update({f"var_{k}": v for k, v in src.app_variants.items()})
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, name=np.array(src.name), group=np.array(src.group), **arrays)
    os.replace(tmp, path)


def _load_source(path: Path) -> SourceVideo:
    z = np.load(path)
    variants = {k[4:]: z[k] for k in z.files if k.startswith("var_")}
    return SourceVideo(str(z["name"]), str(z["group"]), z["native_times"], z["app_desc"], z["app_quality"],
                       variants, z["basis_times"], z["basis_desc"], z["basis_quality"], z["thumbs"])


def source_files(cfg: MapDataConfig) -> list[Path]:
    """Root files of the configured split's families, sorted by name."""
    from vidtrace.bench.sources import split_families

    return [Path(cfg.video_dir) / f.root for f in split_families(cfg.video_dir, cfg.split)]


def _per_source(cfg: MapDataConfig, cache_dir: Path | None, suffix: str, build, load, save) -> list:
    """build(path, index) for every source file, cached as NAME + suffix in
    the sources folder of ``cfg`` (load(path) / save(value, path))."""
    cache = Path(cache_dir or default_cache_dir()) / f"sources-{cfg.key(*SOURCE_FIELDS)}"
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for index, path in enumerate(source_files(cfg)):
        target = cache / f"{path.name}{suffix}"
        if not target.is_file():
            save(build(path, index), target)
        out.append(load(target))
    return out


def build_source_cache(cfg: MapDataConfig, cache_dir: Path | None = None, log=print) -> list[SourceVideo]:
    """Source videos of the split, built or loaded from ``cache_dir``."""

    def build(path: Path, index: int) -> SourceVideo:
        t0 = time.perf_counter()
        src = build_source(path, index, cfg)
        log(f"  source {path.name}: {len(src.native_times)} frames x {cfg.appearances} appearances, "
            f"{len(src.basis_times)} basis frames ({time.perf_counter() - t0:.1f} s)")
        return src

    return _per_source(cfg, cache_dir, ".npz", build, _load_source, _save_source)


def native_thumbs(cfg: MapDataConfig, cache_dir: Path | None = None, log=print) -> list[np.ndarray]:
    """uint8 [A, T, s, s] thumbnails of every source's native frames under
    every appearance (the same seeded edits as :func:`build_source`), cached."""
    from vidtrace.keyframes import make_thumbs

    def build(path: Path, index: int) -> np.ndarray:
        clip = decode_native(path, cfg)
        per = []
        for a in range(cfg.appearances):
            rng = np.random.default_rng([cfg.seed, 7, index, a])
            edited, _ = appearance_transform(a, rng)(clip, rng)
            per.append(make_thumbs(list(edited.frames), cfg.thumb_size))
        log(f"  thumbnails {path.name}: {len(per)} x {per[0].shape}")
        return np.stack(per)

    def save(arr: np.ndarray, target: Path) -> None:
        tmp = target.with_suffix(".tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, target)

    return _per_source(cfg, cache_dir, ".thumbs.npy", build, np.load, save)


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    """One synthesised query video, as the engine would describe it.

    times: float64 [Nq] seconds of the 8 fps samples; desc: uint8 [Nq, 32];
    quality: int16 [Nq]; variants: {name: uint8 [Nq, ...]}; segments: the
    copied stretches (MappedSegment, ``source`` = index of the source video
    in the source list); videos: source indices the query shows;
    frame_video, frame_index: int64 [Nq] source video and native frame each
    sample shows (-1: filler); appearance: the edit applied (index).
    """

    times: np.ndarray
    desc: np.ndarray
    quality: np.ndarray
    variants: dict
    segments: tuple
    videos: tuple[int, ...]
    frame_video: np.ndarray
    frame_index: np.ndarray
    appearance: int


def _index_clip(src: SourceVideo):
    from vidtrace.types import Clip

    t = src.native_times
    return Clip(np.zeros((t.size, 2, 2, 3), dtype=np.uint8), t.copy())


def _excerpt_plan(rng: np.random.Generator, src: SourceVideo, cfg: MapDataConfig, hard_negative: bool):
    """Temporal transforms of one excerpt: a Trim to the excerpt's length,
    then seeded temporal edits (none for hard-negative excerpts, which only
    need to look like the scene)."""
    from vidtrace import transforms as vt

    dur = src.duration
    if rng.random() < cfg.short_copy:
        length = rng.uniform(0.5, 3.0)
    else:
        length = rng.uniform(2.0, 10.0)
    n = max(2, int(round(min(length, dur) / dur * len(src.native_times))))
    steps = [vt.Trim(frames=n, start=float(rng.random()))]
    if not hard_negative:
        if rng.random() < 0.35:
            steps.append(vt.Speed(factor=float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))))
        if rng.random() < 0.15:
            steps.append(vt.Reverse())
        if rng.random() < 0.1:
            steps.append(vt.FrameDrop(p=(0.1, 0.4)))
        if rng.random() < 0.1:
            steps.append(vt.Pause(duration=(0.3, 2.0)))
        if rng.random() < 0.08:
            steps.append(vt.FrameRate(fps=(4.0, 15.0)))
        if rng.random() < 0.04:
            steps.append(vt.TemporalShuffleDropout(p_shuffle=0.5, p_drop=0.1, fill="discard"))
    return vt.Compose(tuple(steps))


def make_query(k: int, sources: Sequence[SourceVideo], cfg: MapDataConfig) -> Query:
    """Query program ``k`` (see the module docstring)."""
    from vidtrace import transforms as vt
    from vidtrace.transforms.base import TransformRecord

    rng = np.random.default_rng([cfg.seed, 1, k])
    n_src = len(sources)
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(sources):
        groups.setdefault(s.group, []).append(i)
    n_copies = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    vids: list[int] = []
    for _ in range(n_copies):
        if vids and rng.random() < 0.25:
            vids.append(vids[int(rng.integers(len(vids)))])
        else:
            vids.append(int(rng.integers(n_src)))
    hard = []
    for _ in range(int(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2]))):
        same = [i for i in groups[sources[vids[0]].group] if i not in vids and i not in hard]
        pool = same if same and rng.random() < 0.75 else [i for i in range(n_src) if i not in vids and i not in hard]
        if pool:
            hard.append(int(pool[int(rng.integers(len(pool)))]))
    pieces, piece_recs, piece_vid = [], [], []
    for v, is_hard in [(v, False) for v in vids] + [(v, True) for v in hard]:
        clip, rec = _excerpt_plan(rng, sources[v], cfg, is_hard)(_index_clip(sources[v]), rng)
        pieces.append(clip)
        piece_recs.append(rec)
        piece_vid.append(v)
    montage = vt.Montage(segment_duration=(1e9, 1e9), gap=(0.1, 4.0) if rng.random() < 0.8 else (0.04, 0.5),
                         fps=30.0)
    _, mrec = montage.splice(pieces, rng)
    # Compose: output frame -> (piece, piece frame) -> source frame.
    n_out = len(mrec.times)
    src_index = np.full(n_out, -1, dtype=np.int64)
    src_clip = np.full(n_out, -1, dtype=np.int64)
    for p, rec in enumerate(piece_recs):
        at = np.flatnonzero(mrec.source_clip == p)
        idx = rec.source_index[mrec.source_index[at]]
        ok = idx >= 0
        src_index[at[ok]] = idx[ok]
        src_clip[at[ok]] = piece_vid[p]
    src_times = np.full(n_out, np.nan)
    for v in set(piece_vid):
        at = src_clip == v
        src_times[at] = sources[v].native_times[src_index[at]]
    steps = tuple(float(np.median(np.diff(s.native_times))) if len(s.native_times) > 1 else 1 / 15 for s in sources)
    record = TransformRecord("query", {}, mrec.times, src_index, src_clip, src_times, steps)
    segments = tuple(record.segments(max_gap=1.0))
    # Engine sampling and descriptors.
    keep = sample_times(mrec.times, cfg.query_fps)
    a = int(rng.integers(cfg.appearances))
    n = keep.size
    desc = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    quality = np.where(rng.random(n) < 0.5, 0, 90).astype(np.int16)
    variants = {}
    for v_name in cfg.query_variants:
        shape = sources[0].app_variants[v_name].shape[2:]
        variants[v_name] = rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)
    c, i = src_clip[keep], src_index[keep]
    for v in set(piece_vid):
        at = np.flatnonzero(c == v)
        desc[at] = sources[v].app_desc[a, i[at]]
        quality[at] = sources[v].app_quality[a, i[at]]
        for v_name in cfg.query_variants:
            variants[v_name][at] = sources[v].app_variants[v_name][a, i[at]]
    return Query(mrec.times[keep].astype(np.float64), desc, quality, variants, segments,
                 tuple(sorted(set(piece_vid))), c, i, a)


def _extracted(times, desc, quality, variants, name="x"):
    from vidtrace.pipeline import ExtractedVideo
    from vidtrace.types import FrameFeatures, VideoInfo

    dur = float(times[-1]) + 0.125 if len(times) else 0.0
    info = VideoInfo(name, 0, 0, 0.0, dur, 0, "", "")
    return ExtractedVideo(info, FrameFeatures("pdq", "binary", np.asarray(times, np.float64),
                                              np.asarray(quality, np.int16), desc), variants)


def pair_map(query: Query, ref: SourceVideo, cfg: MapDataConfig) -> np.ndarray:
    """float32 [Nq, Nbasis] the engine's dense map of a query against a reference's basis frames."""
    from vidtrace.compare import dense_maps
    from vidtrace.features import get_extractor
    from vidtrace.search import SearchParams

    params = SearchParams(variants=tuple(cfg.query_variants), max_distance=cfg.max_distance,
                          sim_scale=cfg.sim_scale)
    a = _extracted(query.times, query.desc, query.quality, query.variants, "query")
    b = _extracted(ref.basis_times, ref.basis_desc, ref.basis_quality, {}, ref.name)
    return dense_maps(a, b, get_extractor("pdq", min_quality=cfg.min_quality), params)[0].dense()


# --------------------------------------------------------------------------- the dataset


@dataclass
class MapDataset:
    """Pairs of (query, reference) with their dense maps and copied boxes.

    sources: the source videos (references are their basis frames);
    config: what made it. Per pair p (P pairs): pair_query int64 [P],
    pair_ref int64 [P] (source index), map_offset int64 [P] into maps
    (float16, each map [Nq, Nbasis] row-major). Per query: query_times
    (float64, flat) with query_offset int64 [Q + 1]. Boxes: box_pair int64
    [G], boxes float64 [G, 4] seconds ``[q_start, r_start, q_end, r_end]``,
    box_reversed bool [G].
    """

    sources: list
    config: MapDataConfig
    pair_query: np.ndarray
    pair_ref: np.ndarray
    map_offset: np.ndarray
    maps: np.ndarray
    query_times: np.ndarray
    query_offset: np.ndarray
    box_pair: np.ndarray
    boxes: np.ndarray
    box_reversed: np.ndarray
    _by_pair: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.pair_query.size)

    def qtimes(self, p: int) -> np.ndarray:
        q = int(self.pair_query[p])
        return self.query_times[self.query_offset[q]:self.query_offset[q + 1]]

    def dense(self, p: int) -> np.ndarray:
        """float32 [Nq, Nbasis] map of pair p."""
        nq, nr = self.qtimes(p).size, self.sources[int(self.pair_ref[p])].basis_times.size
        o = int(self.map_offset[p])
        return self.maps[o:o + nq * nr].astype(np.float32).reshape(nq, nr)

    def pair_boxes(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """(boxes float64 [k, 4] seconds, reversed bool [k]) of pair p."""
        if not self._by_pair:
            order = np.argsort(self.box_pair, kind="stable")
            bp = self.box_pair[order]
            for q in np.unique(bp).tolist():
                self._by_pair[q] = order[np.searchsorted(bp, q, "left"):np.searchsorted(bp, q, "right")]
        idx = self._by_pair.get(p, np.zeros(0, np.int64))
        return self.boxes[idx], self.box_reversed[idx]

    def save(self, path: Path) -> None:
        tmp = Path(path).with_suffix(".tmp.npz")
        np.savez(tmp, config=np.array(json.dumps(asdict(self.config))), pair_query=self.pair_query,
                 pair_ref=self.pair_ref, map_offset=self.map_offset, maps=self.maps, query_times=self.query_times,
                 query_offset=self.query_offset, box_pair=self.box_pair, boxes=self.boxes,
                 box_reversed=self.box_reversed, source_names=np.array([s.name for s in self.sources]))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, sources: list) -> "MapDataset":
        z = np.load(path)
        raw = json.loads(str(z["config"]))
        raw["query_variants"] = tuple(raw["query_variants"])
        names = [str(n) for n in z["source_names"]]
        if names != [s.name for s in sources]:
            raise RuntimeError(f"{path}: made from other sources than the cache holds")
        return cls(sources, MapDataConfig(**raw), z["pair_query"], z["pair_ref"], z["map_offset"], z["maps"],
                   z["query_times"], z["query_offset"], z["box_pair"], z["boxes"], z["box_reversed"])


def choose_refs(query: Query, k: int, sources: Sequence[SourceVideo], negatives: int) -> list[int]:
    """References paired with query ``k``: every video it shows, plus
    ``negatives`` it does not show (same scene group first)."""
    rng = np.random.default_rng([k, 99])
    used = set(query.videos)
    groups = {sources[v].group for v in used}
    same = [i for i, s in enumerate(sources) if i not in used and s.group in groups]
    other = [i for i in range(len(sources)) if i not in used and i not in same]
    rng.shuffle(same)
    rng.shuffle(other)
    return sorted(used) + (same + other)[:negatives]


def build_dataset(cfg: MapDataConfig, cache_dir: Path | None = None, log=print) -> MapDataset:
    """The dataset of ``cfg``, built or loaded from the cache."""
    cache = Path(cache_dir or default_cache_dir())
    sources = build_source_cache(cfg, cache, log)
    target = cache / f"maps-{cfg.key()}.npz"
    if target.is_file():
        return MapDataset.load(target, sources)
    t0 = time.perf_counter()
    pq, pr, offs, maps, qtimes, qoff, bpair, boxes, brev = [], [], [], [], [], [0], [], [], []
    off = 0
    for k in range(cfg.queries):
        query = make_query(k, sources, cfg)
        qtimes.append(query.times)
        qoff.append(qoff[-1] + query.times.size)
        for v in choose_refs(query, k, sources, cfg.negatives):
            p = len(pq)
            dense = pair_map(query, sources[v], cfg)
            pq.append(k)
            pr.append(v)
            offs.append(off)
            maps.append(dense.astype(np.float16).reshape(-1))
            off += dense.size
            for s in query.segments:
                if s.source == v:
                    bpair.append(p)
                    boxes.append([s.output_start, s.source_start, s.output_end, s.source_end])
                    brev.append(s.reversed)
        if (k + 1) % 250 == 0:
            log(f"  {k + 1}/{cfg.queries} queries, {len(pq)} pairs ({time.perf_counter() - t0:.0f} s)")
    ds = MapDataset(sources, cfg, np.array(pq, np.int64), np.array(pr, np.int64), np.array(offs, np.int64),
                    np.concatenate(maps), np.concatenate(qtimes), np.array(qoff, np.int64),
                    np.array(bpair, np.int64), np.array(boxes, np.float64).reshape(-1, 4), np.array(brev, bool))
    ds.save(target)
    return ds


def uniform_subset(times: np.ndarray, fps: float) -> np.ndarray:
    """Indices of basis frames a library sampling at ``fps`` would store
    (decoder rule applied to the basis times; at 2 fps from 8 fps basis
    frames this is about every fourth one)."""
    return sample_times(times, fps)


def split_pairs(ds: MapDataset, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) pair indices, split by query so that no query is in both."""
    rng = np.random.default_rng([seed, 5])
    nq = int(ds.query_offset.size - 1)
    val_q = rng.random(nq) < val_fraction
    is_val = val_q[ds.pair_query]
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


# --------------------------------------------------------------------------- maps of the real engine


def search_maps(lib, queries: dict, params) -> list[tuple[str, str, object]]:
    """(query id, reference id, SimilarityMap) of every shortlisted pair, built
    from the kNN hits exactly as :func:`vidtrace.search.search_extracted`
    does; queries: {id: ExtractedVideo}; reference id = file stem."""
    from vidtrace.search import collect_hits, shortlist
    from vidtrace.types import SimilarityMap

    out = []
    names = {v.id: Path(v.path).stem for v in lib.videos()}
    times: dict[int, np.ndarray] = {}
    for qid, q in queries.items():
        hits = collect_hits(lib, q, params)
        for vid, flipped, members in shortlist(hits, params.max_candidates):
            if vid not in times:
                times[vid] = lib.frame_times(vid)
            out.append((qid, names[vid], SimilarityMap(q.features.timestamps, times[vid], hits.qi[members],
                                                       hits.ri[members], hits.sim[members], flipped)))
    return out


def extract_queries(files: Sequence[Path], config, params) -> dict:
    """{file stem: ExtractedVideo} of query files described as ``search_file`` does."""
    from dataclasses import replace

    from vidtrace.pipeline import extract_video
    from vidtrace.search import usable_variants

    ext = config.extractor()
    opts = replace(config.decode_options(), fps=max(params.query_fps or config.fps, config.fps))
    return {Path(f).stem: extract_video(f, ext, opts, variants=usable_variants(ext, params)) for f in files}


@dataclass(frozen=True)
class EngineMap:
    """A map the engine itself built on a rendered benchmark of train footage.

    query / ref: ids; smap: the SimilarityMap (``flipped`` for the mirrored
    query's map); boxes: float64 [k, 4] seconds ``[q_start, r_start, q_end,
    r_end]`` of the copies this map should show (mirrored copies on the
    flipped map, the others on the plain one); reversed: bool [k].
    """

    query: str
    ref: str
    smap: object
    boxes: np.ndarray
    reversed: np.ndarray


def _eval_footage(manifest: dict) -> set[str]:
    """File names among a benchmark's references that belong to the shared
    corpus's evaluation families (any benchmark rendered from the "eval"
    split, or from a folder holding such files, is one)."""
    from vidtrace.bench.sources import split_families

    if manifest.get("split") == "train":
        return set()
    eval_files = {m for f in split_families(DEFAULT_VIDEOS, "eval") for m in f.members} \
        if Path(DEFAULT_VIDEOS).is_dir() else set()
    names = {r["file"] for r in manifest.get("references", [])}
    if not eval_files:  # the corpus is absent here: only a train-split benchmark is known to be safe
        return names
    return names & eval_files


def engine_maps(bench_dir: Path, log=print) -> list[EngineMap]:
    """Index the references of a ``vidtrace bench make --split train``
    benchmark with the default library, search every query with the default
    search parameters and keep each shortlisted pair's map with its boxes
    (from the manifest's segments). Cached in ``bench_dir/engine-maps.npz``."""
    import tempfile

    from vidtrace.library import Library, LibraryConfig
    from vidtrace.search import SearchParams
    from vidtrace.types import SimilarityMap

    bench_dir = Path(bench_dir)
    cache = bench_dir / "engine-maps.npz"
    if not cache.is_file():
        t0 = time.perf_counter()
        manifest = json.loads((bench_dir / "manifest.json").read_text())
        leaked = _eval_footage(manifest)
        if leaked:
            raise RuntimeError(f"{bench_dir}: references {sorted(leaked)[:3]} are evaluation footage of the shared "
                               "corpus; refusing to train on them")
        refs = [bench_dir / line.strip() if not Path(line.strip()).is_absolute() else Path(line.strip())
                for line in (bench_dir / "refs.txt").read_text().splitlines() if line.strip()]
        config, params = LibraryConfig(), SearchParams()
        with tempfile.TemporaryDirectory() as tmp:
            with Library.open(Path(tmp) / "lib", writable=True, create=True, config=config) as lib:
                lib.index_files([str(r) for r in refs])
            queries = extract_queries(sorted((bench_dir / "queries").glob("*.mp4")), config, params)
            with Library.open(Path(tmp) / "lib") as lib:
                found = search_maps(lib, queries, params)
        segs = {q["id"]: q["segments"] for q in manifest["queries"]}
        arrays: dict[str, list] = {k: [] for k in ("qi", "ri", "sim", "qt", "rt", "boxes", "rev")}
        meta = []
        for qid, rid, smap in found:
            mine = [g for g in segs[qid] if g["ref"] == rid and bool(g["flipped"]) == bool(smap.flipped)]
            meta.append([qid, rid, int(smap.flipped), len(smap.qi), len(smap.query_times), len(smap.ref_times),
                         len(mine)])
            for k, v in (("qi", smap.qi), ("ri", smap.ri), ("sim", smap.sim), ("qt", smap.query_times),
                         ("rt", smap.ref_times)):
                arrays[k].append(np.asarray(v))
            arrays["boxes"].append(np.array([[g["query_start"], g["ref_start"], g["query_end"], g["ref_end"]]
                                             for g in mine], np.float64).reshape(-1, 4))
            arrays["rev"].append(np.array([g["reversed"] for g in mine], bool))
        tmp_path = cache.with_suffix(".tmp.npz")
        np.savez(tmp_path, meta=np.array(json.dumps(meta)),
                 **{k: np.concatenate(v) if v else np.zeros(0) for k, v in arrays.items()})
        os.replace(tmp_path, cache)
        log(f"  engine maps of {bench_dir.name}: {len(meta)} maps ({time.perf_counter() - t0:.0f} s)")
    z = np.load(cache)
    out = []
    offs = {k: 0 for k in ("e", "q", "r", "b")}
    for qid, rid, flipped, ne, nq, nr, nb in json.loads(str(z["meta"])):
        e, q, r, b = offs["e"], offs["q"], offs["r"], offs["b"]
        smap = SimilarityMap(z["qt"][q:q + nq], z["rt"][r:r + nr], z["qi"][e:e + ne].astype(np.int64),
                             z["ri"][e:e + ne].astype(np.int64), z["sim"][e:e + ne].astype(np.float32), bool(flipped))
        out.append(EngineMap(qid, rid, smap, z["boxes"][b:b + nb], z["rev"][b:b + nb].astype(bool)))
        offs = {"e": e + ne, "q": q + nq, "r": r + nr, "b": b + nb}
    return out


def default_engine_bench() -> Path:
    """Where ``vidtrace train spd`` expects its rendered train benchmark."""
    return default_cache_dir() / "bench-train-s1729"


def make_engine_bench(out: Path, seed: int = 1729, queries: int = 120, negatives: int = 20, log=print) -> Path:
    """Render a train-split benchmark with :mod:`vidtrace.bench.make` (once)."""
    from vidtrace.bench.make import MakeOptions, make_benchmark

    if not (Path(out) / "manifest.json").is_file():
        log(f"  rendering a train-split benchmark into {out} (seed {seed}, {queries} queries) ...")
        make_benchmark(DEFAULT_VIDEOS, out, seed=seed, options=MakeOptions(split="train", queries=queries,
                                                                            negatives=negatives, workers=2))
    return Path(out)


# --------------------------------------------------------------------------- trainer command lines


def common_arguments(p, *, out: Path, steps: int, batch: int, lr: float, queries: int, threads: int = 2) -> None:
    """The options every trainer takes (data, output, schedule, seeds, device)."""
    p.add_argument("--videos", default=str(DEFAULT_VIDEOS), help="corpus folder (its 'train' families are used)")
    p.add_argument("--cache", default=None, help="cache folder for descriptors and maps "
                                                 "(default ~/.cache/vidtrace/mapdata)")
    p.add_argument("--out", default=str(out), help="ONNX file to write (.json and .npz next to it)")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=1729)
    p.add_argument("--data-seed", type=int, default=1729, help="seed of the synthetic training data")
    p.add_argument("--queries", type=int, default=queries, help="synthetic query programs")
    p.add_argument("--threads", type=int, default=threads, help="CPU threads")
    p.add_argument("--cpu", action="store_true", help="never use CUDA")


def add_trainer(train_subparsers, name: str, help_: str, add_arguments, train):
    """Register ``vidtrace train NAME``: options from add_arguments(parser),
    run by train(args)."""

    def run(args) -> int:
        train(args)
        return 0

    p = train_subparsers.add_parser(name, help=help_)
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def trainer_main(doc: str, add_arguments, train, argv=None) -> int:
    """``python -m vidtrace.train.NAME`` entry point."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_arguments(ap)
    train(ap.parse_args(argv))
    return 0


def save_state(net, path: Path) -> None:
    """A torch module's state dict as .npz (what joint training starts from)."""
    np.savez(path, **{k: v.detach().cpu().numpy() for k, v in net.state_dict().items()})


def command_line(name: str) -> str:
    """The ``vidtrace train NAME ...`` command being run (for the JSON)."""
    import sys

    argv = sys.argv[sys.argv.index(name):] if name in sys.argv else [name]
    return "vidtrace train " + " ".join(argv)


__all__ = [
    "DEFAULT_VIDEOS", "MapDataConfig", "MapDataset", "Query", "SourceVideo", "appearance_transform",
    "add_trainer", "build_dataset", "build_source", "build_source_cache", "choose_refs", "command_line",
    "common_arguments", "default_cache_dir", "make_query", "native_thumbs", "pair_map", "sample_times",
    "save_state", "source_files", "split_pairs", "trainer_main", "uniform_subset",
]
