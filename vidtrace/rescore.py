"""Re-scoring of candidate (query, reference) pairs: a small family of scorers.

A scorer looks at the per-frame features of a query and of one reference
(region descriptors as stored by the library) and returns a video-level
score in [0, 1] plus a refined frame-to-frame SimilarityMap for the
aligners::

    from vidtrace.rescore import get_scorer
    scorer = get_scorer("visil")            # build once, reuse for every pair
    score, smap = scorer.score(query_feats, ref_feats)

Registered scorers:

- "chamfer": ViSiL_f -- the frame-to-frame region Chamfer similarity
  (:mod:`vidtrace.similarity`) and its video-level Chamfer (mean over query
  frames of the best reference frame). Works on any float features ([N, D]
  global descriptors: one region) and on binary PDQ hashes (similarity
  1 - Hamming / 128). numpy only.
- "visil": the comparator trained with S2VS on weights-free region
  descriptors (:mod:`vidtrace.train.s2vs`), shipped as ONNX
  (vidtrace/models/weights/comparator*.onnx) and run with onnxruntime --
  no torch. Region attention, blockwise Chamfer (numpy), then the video
  comparator on the [Tq, Tr] map in tiles (bounded memory for long videos),
  hard tanh, video-level Chamfer rescaled to [0, 1]. The map for the
  aligners is the comparator's full-size output ("full", default) or its
  pooled output upsampled 4x ("upsample"), clipped to [0, 1].

Features: FrameFeatures with descriptors float32 [N, R*D] ("regions"
layout, see vidtrace.features.regions) or [N, R, D]; `regions` gives R
(None: 10 for the "regions" extractor, else 1). Frames whose quality is
below `min_quality` are left out of both the score and the map.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from vidtrace.errors import ConfigError, ModelError
from vidtrace.types import FrameFeatures, SimilarityMap

SCORERS: dict[str, type] = {}

WEIGHTS_DIR = Path(__file__).resolve().parent / "models" / "weights"
"""Where the shipped comparator files live."""

_POOL = 4  # the comparator's total pooling factor per axis
_DENSE_LIMIT = 1 << 22  # frame pairs up to which a scorer keeps the whole [Tq, Tr] matrix (16 MiB)


@runtime_checkable
class Scorer(Protocol):
    """score(query, ref) -> (score in [0, 1], SimilarityMap in [0, 1] for the aligners).

    same_rate: the scorer needs the query sampled at the reference's rate
    (a network that learned temporal patterns at one rate); otherwise it
    gets every query frame. blend: how the engine folds the scorer into
    segment scores by default ("window": its map inside the segment's box;
    "pair": its video-level score), the better of the two on the benchmark.
    """

    name: str
    same_rate: bool
    blend: str

    def score(self, query: FrameFeatures, ref: FrameFeatures) -> tuple[float, SimilarityMap]: ...


def register_scorer(cls: type) -> type:
    """Class decorator: register a scorer class under its ``name``."""
    SCORERS[cls.name] = cls
    return cls


def get_scorer(name: str, **params) -> Scorer:
    """Build the scorer registered as `name`; ConfigError lists the valid names."""
    cls = SCORERS.get(str(name).strip().lower())
    if cls is None:
        raise ConfigError(f"unknown scorer {name!r}; choose one of: {', '.join(sorted(SCORERS))}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"scorer {name!r}: {exc}") from None


# --------------------------------------------------------------------------- features


def region_features(feats: FrameFeatures, regions: int | None = None, min_quality: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(float32 [T, R, D] region vectors, timestamps float64 [T]) of the frames
    with quality >= min_quality. Binary (packed-bit) descriptors become +-1/16
    vectors of 256 floats, whose inner product is 1 - Hamming / 128."""
    keep = np.asarray(feats.quality) >= min_quality
    desc = np.asarray(feats.descriptors)[keep]
    times = np.asarray(feats.timestamps, dtype=np.float64)[keep]
    if feats.kind == "binary":
        bits = np.unpackbits(desc.astype(np.uint8), axis=-1).astype(np.float32)
        vec = (2.0 * bits - 1.0) / np.sqrt(bits.shape[-1])
        return vec.reshape(len(vec), 1, -1), times
    desc = desc.astype(np.float32, copy=False)
    if desc.ndim == 3:
        return desc, times
    if regions is None:
        regions = 10 if feats.name == "regions" else 1
    if desc.shape[1] % regions:
        raise ConfigError(f"{feats.name} descriptors of width {desc.shape[1]} do not split into {regions} regions")
    return desc.reshape(len(desc), regions, -1), times


def _empty_map(qt: np.ndarray, rt: np.ndarray) -> SimilarityMap:
    e = np.zeros(0, np.int64)
    return SimilarityMap(qt, rt, e, e, np.zeros(0, np.float32))


def _filter(smap: SimilarityMap, min_sim: float) -> SimilarityMap:
    keep = smap.sim > min_sim
    return SimilarityMap(smap.query_times, smap.ref_times, smap.qi[keep], smap.ri[keep], smap.sim[keep],
                         smap.flipped)


# --------------------------------------------------------------------------- chamfer


@register_scorer
class ChamferScorer:
    """Video-level Chamfer similarity of region (or global) frame descriptors.

    regions: R (see region_features); min_quality: frames below are ignored;
    top_k: map entries kept per query frame; min_sim: map entries at or
    below are dropped (the score uses every frame); block: frames per block
    side of the Chamfer computation; symmetric: symmetric Chamfer at both levels.
    """

    name = "chamfer"
    same_rate = False  # frame-level: a denser query only gives each frame a closer match
    blend = "window"

    def __init__(self, regions: int | None = None, min_quality: int = 0, top_k: int = 10, min_sim: float = 0.3,
                 block: int = 256, symmetric: bool = False):
        self.regions = regions
        self.min_quality = int(min_quality)
        self.top_k = int(top_k)
        self.min_sim = float(min_sim)
        self.block = int(block)
        self.symmetric = bool(symmetric)

    def score(self, query: FrameFeatures, ref: FrameFeatures) -> tuple[float, SimilarityMap]:
        from vidtrace.similarity import (
            chamfer_frame_similarity,
            chamfer_video_similarity,
            similarity_map,
            sparsify,
            video_chamfer,
        )

        q, qt = region_features(query, self.regions, self.min_quality)
        r, rt = region_features(ref, self.regions, self.min_quality)
        if len(q) == 0 or len(r) == 0:
            return 0.0, _empty_map(qt, rt)
        if len(q) * len(r) <= _DENSE_LIMIT:  # small pair: one dense matrix is cheapest
            sim = np.clip(chamfer_frame_similarity(q, r, symmetric=self.symmetric, block=self.block), 0.0, 1.0)
            smap = sparsify(sim, qt, rt, top_k=self.top_k, threshold=self.min_sim)
            return float(video_chamfer(sim, symmetric=self.symmetric)), smap
        smap = similarity_map(q, r, qt, rt, top_k=self.top_k, threshold=0.0, symmetric=self.symmetric,
                              block=self.block)
        if self.symmetric:
            score = chamfer_video_similarity(q, r, symmetric=True, block=self.block)
        else:  # the row maxima are among each row's top-k entries (rows with none have maximum <= 0)
            best = np.zeros(len(q), np.float32)
            np.maximum.at(best, smap.qi, smap.sim)
            score = float(best.mean())
        return float(np.clip(score, 0.0, 1.0)), _filter(smap, self.min_sim)


# --------------------------------------------------------------------------- the trained comparator


def load_comparator_info(path: str | Path | None = None) -> tuple[Path, dict]:
    """(folder, parsed JSON) of a comparator export (default: the shipped one),
    with the ONNX files' SHA-256 checked."""
    json_path = Path(path) if path is not None else WEIGHTS_DIR / "comparator.json"
    if json_path.is_dir():
        json_path = json_path / "comparator.json"
    try:
        info = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{json_path}: comparator description not found") from None
    except ValueError as exc:
        raise ModelError(f"{json_path}: not valid JSON ({exc})") from None
    folder = json_path.parent
    for key, fname in info.get("files", {}).items():
        digest = hashlib.sha256((folder / fname).read_bytes()).hexdigest() if (folder / fname).exists() else None
        if digest is None:
            raise ModelError(f"{folder / fname}: comparator file missing")
        if digest != info.get("sha256", {}).get(key):
            raise ModelError(f"{folder / fname}: SHA-256 {digest} differs from {info['sha256'].get(key)} in {json_path}")
    return folder, info


class ComparatorRuntime:
    """The exported attention and comparator networks in onnxruntime sessions.

    attend(regions [T, R, D]) -> attention-weighted [T, R, D];
    refine(sim [X, Y]) -> (pooled [X // 4, Y // 4], full [X, Y]) after hard
    tanh, computed on tiles of `tile` x `tile` (plus a `margin` of context on
    inner sides, which makes tiles exactly equal to one whole-map run).
    """

    def __init__(self, path: str | Path | None = None, tile: int = 512, margin: int = 16, threads: int = 0):
        import onnxruntime as ort

        if tile % _POOL or margin % _POOL or margin < 12 or tile <= 2 * margin:
            raise ConfigError(f"comparator tiles: tile and margin must be multiples of {_POOL}, margin >= 12, "
                              f"tile > 2 * margin (got {tile}, {margin})")
        folder, self.info = load_comparator_info(path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        providers = ["CPUExecutionProvider"]
        files = self.info["files"]
        self._comparator = ort.InferenceSession(str(folder / files["comparator"]), opts, providers=providers)
        self._attention = (ort.InferenceSession(str(folder / files["attention"]), opts, providers=providers)
                           if "attention" in files else None)
        self.tile, self.margin = int(tile), int(margin)

    @property
    def dims(self) -> int:
        return int(self.info["config"]["dims"])

    def attend(self, regions: np.ndarray, chunk: int = 4096) -> np.ndarray:
        x = np.ascontiguousarray(regions, dtype=np.float32)
        if self._attention is None or len(x) == 0:
            return x
        parts = [self._attention.run(["weighted"], {"regions": x[a : a + chunk]})[0] for a in range(0, len(x), chunk)]
        return np.concatenate(parts)

    def _run(self, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pooled, full = self._comparator.run(["refined", "refined_full"], {"sim": sim[None, None].astype(np.float32)})
        return pooled[0, 0], full[0, 0]

    def refine(self, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.asarray(sim, dtype=np.float32)
        x, y = s.shape
        if x < _POOL or y < _POOL:
            raise ValueError(f"the comparator needs maps of at least {_POOL}x{_POOL}, got {x}x{y}")
        if x <= self.tile and y <= self.tile:
            return self._run(s)
        pooled = np.empty((x // _POOL, y // _POOL), np.float32)
        full = np.empty((x, y), np.float32)
        inner = self.tile - 2 * self.margin
        for a in range(0, x, inner):
            for b in range(0, y, inner):
                a0, b0 = max(0, a - self.margin), max(0, b - self.margin)
                a1, b1 = min(x, a + inner + self.margin), min(y, b + inner + self.margin)
                tp, tf = self._run(s[a0:a1, b0:b1])
                ea, eb = min(x, a + inner), min(y, b + inner)
                full[a:ea, b:eb] = tf[a - a0 : ea - a0, b - b0 : eb - b0]
                pa, pb = a // _POOL, b // _POOL  # a, a0 are multiples of 4: pooled cells align
                pea = x // _POOL if ea == x else ea // _POOL
                peb = y // _POOL if eb == y else eb // _POOL
                pooled[pa:pea, pb:peb] = tp[pa - a0 // _POOL : pea - a0 // _POOL, pb - b0 // _POOL : peb - b0 // _POOL]
        return pooled, full


def _tile_to(x: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Repeat a video [T, ...] until it has at least n frames (S2VS's handling
    of very short videos); returns (tiled, repeats)."""
    reps = 1
    while len(x) * reps < n:
        reps *= 2
    return (np.concatenate([x] * reps) if reps > 1 else x), reps


@register_scorer
class ViSiLScorer:
    """The S2VS-trained ViSiL comparator on region descriptors (onnxruntime).

    weights: a comparator.json (or its folder), None for the shipped one;
    regions / min_quality: as for "chamfer"; map_mode: "full" (the
    comparator's full-size output) or "upsample" (its pooled output
    repeated 4x); top_k / min_sim: map sparsity; tile / margin / threads:
    see ComparatorRuntime; block: Chamfer block size.
    """

    name = "visil"
    same_rate = True  # its temporal CNN learned diagonals of slope 1 at the library's rate
    blend = "pair"  # its video-level score ranks pairs; its map is no segment judge (README)

    def __init__(self, weights: str | Path | None = None, regions: int | None = None, min_quality: int = 0,
                 map_mode: str = "full", top_k: int = 10, min_sim: float = 0.3, tile: int = 512, margin: int = 16,
                 threads: int = 0, block: int = 256):
        if map_mode not in ("full", "upsample"):
            raise ConfigError(f"map_mode must be 'full' or 'upsample', got {map_mode!r}")
        self.runtime = ComparatorRuntime(weights, tile=tile, margin=margin, threads=threads)
        self.regions = regions
        self.min_quality = int(min_quality)
        self.map_mode = map_mode
        self.top_k = int(top_k)
        self.min_sim = float(min_sim)
        self.block = int(block)

    def refined(self, q: np.ndarray, r: np.ndarray) -> tuple[float, np.ndarray]:
        """Score in [0, 1] and refined map float32 [Tq, Tr] in [-1, 1] of region
        videos q [Tq, R, D], r [Tr, R', D] (attention not yet applied)."""
        from vidtrace.similarity import chamfer_frame_similarity

        if q.shape[-1] != self.runtime.dims or r.shape[-1] != self.runtime.dims:
            raise ConfigError(f"the comparator expects {self.runtime.dims}-d regions, got {q.shape[-1]} and "
                              f"{r.shape[-1]} (features from another extractor?)")
        tq, tr = len(q), len(r)
        qa, qrep = _tile_to(self.runtime.attend(q), _POOL)
        ra, rrep = _tile_to(self.runtime.attend(r), _POOL)
        sim = chamfer_frame_similarity(qa, ra, block=self.block)
        pooled, full = self.runtime.refine(sim)
        score = float(pooled.max(axis=1).mean()) / 2.0 + 0.5
        if self.map_mode == "upsample":  # each pooled cell covers 4 x 4 frames (the last ones the remainder)
            rows = np.minimum(np.arange(sim.shape[0]) // _POOL, pooled.shape[0] - 1)
            cols = np.minimum(np.arange(sim.shape[1]) // _POOL, pooled.shape[1] - 1)
            full = pooled[rows][:, cols]
        # fold tiled copies back onto the original frames
        full = full.reshape(qrep, tq, rrep, tr).max(axis=(0, 2))
        return float(np.clip(score, 0.0, 1.0)), full

    def score(self, query: FrameFeatures, ref: FrameFeatures) -> tuple[float, SimilarityMap]:
        from vidtrace.similarity import sparsify

        q, qt = region_features(query, self.regions, self.min_quality)
        r, rt = region_features(ref, self.regions, self.min_quality)
        if len(q) == 0 or len(r) == 0:
            return 0.0, _empty_map(qt, rt)
        score, full = self.refined(q, r)
        return score, sparsify(full, qt, rt, top_k=self.top_k, threshold=self.min_sim)
