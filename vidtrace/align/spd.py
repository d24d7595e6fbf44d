"""SPD: similarity pattern detection (SSAN section 3.2) -- alignment as object detection.

A learned, anchor-free detector looks at the similarity map as an image and
predicts boxes ``[query start, reference start, query end, reference end]``
with a confidence each; every box is one copied segment and the best box
score is the video-level score. This module is the inference side and the
numpy geometry shared with training (``vidtrace.models.spd``,
``vidtrace.train.spd``); it imports neither torch nor anything that does:
the network runs through onnxruntime from ``models/weights/spd.onnx``.

Geometry (times in seconds, pixels in the map's time plane):

- the map is *rasterised* on a uniform time grid of ``pixel_s`` seconds per
  pixel on both axes (rows = query time, columns = reference time), whatever
  the sampling of either video (8 fps query, 2 fps reference, keyframes at
  irregular times ...): an entry at (query time t, reference time u) lands in
  pixel (floor((t - q0) / pixel_s), floor((u - r0) / pixel_s)) where q0, r0
  are the first sample times. Channel 0 holds the best similarity in the
  pixel, channel 1 whether the pixel holds a sampled (query, reference) pair
  at all (1) or nothing (0: no sample there, or padding). See :class:`Raster`.
- a box in pixels maps to seconds by ``t = q0 + y * pixel_s`` (query) and
  ``u = r0 + x * pixel_s`` (reference) -- an exact affine map in both
  directions (:func:`seconds_to_pixels`, :func:`pixels_to_seconds`), clipped
  to the map's extent (first sample to last sample + one sampling step).
- maps larger than one tile (``tile`` pixels, the size the network was
  trained on) are cut into overlapping square tiles (:func:`tile_starts`);
  tiles without any entry are skipped; boxes of neighbouring tiles that
  describe the same copy are merged (:func:`merge_collinear`).
- the network finds only *forward* patterns (reference time increasing with
  query time). Reversed copies are found on the reference-flipped raster
  (column x -> cols - x), whose boxes are mapped back and reported with
  ``reversed=True``; a box found in both directions (static footage looks
  the same both ways) is kept once, with its better score.

Box encoding (FCOS-style): an output cell (i, j) of a stride-``stride`` head
has its centre at ``((i + 0.5) * stride, (j + 0.5) * stride)`` pixels and
predicts the distances ``[cy - q_start, cx - r_start, q_end - cy,
r_end - cx]`` (pixels, all >= 0 for a cell inside its box):
:func:`encode_boxes` / :func:`decode_boxes`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from vidtrace.align.base import register_aligner, sampling_step
from vidtrace.errors import ConfigError
from vidtrace.types import Segment, SimilarityMap

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "spd.onnx"
_EPS = 1e-9


# --------------------------------------------------------------------------
# raster geometry


@dataclass(frozen=True)
class Raster:
    """Uniform pixel grid over one map's (query time x reference time) plane.

    q0, r0: seconds at the top edge of row 0 / left edge of column 0 (the
    first query / reference sample time); pixel_s: seconds per pixel on both
    axes; q_end, r_end: seconds where the map's extent ends (last sample time
    + one sampling step); rows, cols: pixels covering [q0, q_end) and
    [r0, r_end) (at least 1 each).
    """

    q0: float
    r0: float
    pixel_s: float
    q_end: float
    r_end: float
    rows: int
    cols: int

    @classmethod
    def for_times(cls, query_times: np.ndarray, ref_times: np.ndarray, pixel_s: float) -> "Raster":
        """The grid of a map whose samples are at ``query_times`` / ``ref_times``
        (float [Nq] / [Nr] seconds, non-decreasing, at least one each)."""
        if not pixel_s > 0:
            raise ConfigError(f"pixel_s must be > 0, got {pixel_s}")
        qt = np.asarray(query_times, dtype=np.float64).reshape(-1)
        rt = np.asarray(ref_times, dtype=np.float64).reshape(-1)
        if qt.size == 0 or rt.size == 0:
            raise ValueError("a raster needs at least one query and one reference time")
        sq = sampling_step(qt, fallback=sampling_step(rt, fallback=pixel_s))
        sr = sampling_step(rt, fallback=sq)
        q0, r0 = float(qt[0]), float(rt[0])
        q_end, r_end = float(qt[-1]) + sq, float(rt[-1]) + sr
        rows = max(1, math.ceil((q_end - q0) / pixel_s - 1e-9))
        cols = max(1, math.ceil((r_end - r0) / pixel_s - 1e-9))
        return cls(q0, r0, float(pixel_s), q_end, r_end, rows, cols)

    def rows_of(self, times: np.ndarray) -> np.ndarray:
        """int64 row of each query time (clipped to the grid)."""
        return np.clip(np.floor((np.asarray(times, np.float64) - self.q0) / self.pixel_s + 1e-9),
                       0, self.rows - 1).astype(np.int64)

    def cols_of(self, times: np.ndarray) -> np.ndarray:
        """int64 column of each reference time (clipped to the grid)."""
        return np.clip(np.floor((np.asarray(times, np.float64) - self.r0) / self.pixel_s + 1e-9),
                       0, self.cols - 1).astype(np.int64)


def seconds_to_pixels(boxes: np.ndarray, raster: Raster) -> np.ndarray:
    """float64 [K, 4] boxes ``[q_start, r_start, q_end, r_end]`` in seconds ->
    the same boxes in (continuous) raster pixels."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    origin = np.array([raster.q0, raster.r0, raster.q0, raster.r0])
    return (b - origin) / raster.pixel_s


def pixels_to_seconds(boxes: np.ndarray, raster: Raster, clip: bool = True) -> np.ndarray:
    """Inverse of :func:`seconds_to_pixels`; with ``clip``, each coordinate
    is clipped to the map's extent [q0, q_end] / [r0, r_end]."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    origin = np.array([raster.q0, raster.r0, raster.q0, raster.r0])
    out = origin + b * raster.pixel_s
    if clip:
        lo = np.array([raster.q0, raster.r0, raster.q0, raster.r0])
        hi = np.array([raster.q_end, raster.r_end, raster.q_end, raster.r_end])
        out = np.clip(out, lo, hi)
    return out


def flip_boxes(boxes: np.ndarray, cols: float) -> np.ndarray:
    """Boxes (pixels) mirrored on the reference axis of a raster ``cols`` wide:
    x -> cols - x (an involution: flipping twice gives the boxes back)."""
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack([b[:, 0], cols - b[:, 3], b[:, 2], cols - b[:, 1]], axis=1)


def rasterize(query_times: np.ndarray, ref_times: np.ndarray, qi: np.ndarray, ri: np.ndarray, sim: np.ndarray,
              raster: Raster, ref_weight: np.ndarray | None = None) -> np.ndarray:
    """float32 [2, rows, cols] image of a map (see the module docstring).

    qi, ri, sim: the map's entries (int [K], int [K], float [K]);
    ref_weight: optional float [Nr] weight of each reference sample in
    [0, 1] (SSAN eq. 5; 0 = not stored): entries and sampled-pair flags of
    a reference sample are multiplied by it before max-pooling into pixels.
    """
    img = np.zeros((2, raster.rows, raster.cols), dtype=np.float32)
    qt = np.asarray(query_times, dtype=np.float64)
    rt = np.asarray(ref_times, dtype=np.float64)
    w = np.ones(rt.size, np.float32) if ref_weight is None else np.asarray(ref_weight, np.float32).reshape(-1)
    row_has = np.zeros(raster.rows, dtype=np.float32)
    row_has[raster.rows_of(qt)] = 1.0
    col_has = np.zeros(raster.cols, dtype=np.float32)
    np.maximum.at(col_has, raster.cols_of(rt), w)
    img[1] = row_has[:, None] * col_has[None, :]
    qi = np.asarray(qi, dtype=np.int64).reshape(-1)
    ri = np.asarray(ri, dtype=np.int64).reshape(-1)
    if qi.size:
        val = np.clip(np.nan_to_num(np.asarray(sim, np.float32).reshape(-1), nan=0.0), 0.0, 1.0) * w[ri]
        np.maximum.at(img[0], (raster.rows_of(qt[qi]), raster.cols_of(rt[ri])), val)
    return img


def tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Start pixels of the tiles covering [0, n): one tile at 0 when n <= tile,
    else tiles every ``tile - overlap`` pixels, the last one ending at n."""
    if tile < 1 or not 0 <= overlap < tile:
        raise ConfigError(f"need tile >= 1 and 0 <= overlap < tile, got {tile}, {overlap}")
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    return sorted(set(starts))


# --------------------------------------------------------------------------
# box encoding


def cell_centers(h: int, w: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres (cy [h, 1], cx [1, w]) of a stride-``stride`` head's cells."""
    cy = (np.arange(h, dtype=np.float64)[:, None] + 0.5) * stride
    cx = (np.arange(w, dtype=np.float64)[None, :] + 0.5) * stride
    return cy, cx


def encode_boxes(boxes: np.ndarray, cy: np.ndarray, cx: np.ndarray) -> np.ndarray:
    """Distances float64 [..., 4] = [cy - q0, cx - r0, q1 - cy, r1 - cx] from
    cell centres (broadcast shapes ``cy``, ``cx``) to boxes [..., 4] (pixels)."""
    b = np.asarray(boxes, dtype=np.float64)
    return np.stack([cy - b[..., 0], cx - b[..., 1], b[..., 2] - cy, b[..., 3] - cx], axis=-1)


def decode_boxes(dist: np.ndarray, cy: np.ndarray, cx: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_boxes`: boxes [..., 4] = [cy - d0, cx - d1, cy + d2, cx + d3]."""
    d = np.asarray(dist, dtype=np.float64)
    return np.stack([cy - d[..., 0], cx - d[..., 1], cy + d[..., 2], cx + d[..., 3]], axis=-1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU float64 [A, B] of boxes [A, 4] and [B, 4] (any units)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ih = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iw = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ih * iw
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, _EPS), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices (int64, best score first) kept by greedy non-maximum suppression."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[box_iou(b[i:i + 1], b[rest])[0] <= iou]
    return np.array(keep, dtype=np.int64)


def collinear(a: np.ndarray, b: np.ndarray) -> float:
    """How well two forward boxes (pixels) continue one copy, in [0, 1]: over
    the query time they share, the overlap of the reference intervals their
    diagonals map it onto, over the shorter of the two (0 when they share
    no query time)."""
    q0, q1 = max(a[0], b[0]), min(a[2], b[2])
    if q1 <= q0:
        return 0.0

    def image(box):
        span = max(box[2] - box[0], _EPS)
        f0, f1 = (q0 - box[0]) / span, (q1 - box[0]) / span
        return box[1] + f0 * (box[3] - box[1]), box[1] + f1 * (box[3] - box[1])

    a0, a1 = image(a)
    b0, b1 = image(b)
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    return float(min(1.0, inter / max(min(a1 - a0, b1 - b0), _EPS)))


def merge_collinear(boxes: np.ndarray, scores: np.ndarray, min_overlap: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Union of forward boxes (pixels) that describe the same copy.

    Two boxes are the same copy when :func:`collinear` exceeds
    ``min_overlap`` -- the pieces of one long copy that neighbouring tiles
    each saw in part. Best score first; a merged box is the union of its
    pieces with the best piece's score.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    kept_b: list[np.ndarray] = []
    kept_s: list[float] = []
    for i in order.tolist():
        b = np.asarray(boxes[i], dtype=np.float64)
        for k, kb in enumerate(kept_b):
            if collinear(b, kb) > min_overlap:
                kept_b[k] = np.array([min(kb[0], b[0]), min(kb[1], b[1]), max(kb[2], b[2]), max(kb[3], b[3])])
                break
        else:
            kept_b.append(b)
            kept_s.append(float(scores[i]))
    if not kept_b:
        return np.zeros((0, 4)), np.zeros(0)
    return np.stack(kept_b), np.array(kept_s)


# --------------------------------------------------------------------------
# shipped model


@dataclass(frozen=True)
class SPDModelInfo:
    """What the network expects, from the JSON next to its ONNX file.

    pixel_s: seconds per raster pixel; tile: square input size (pixels) it
    was trained on; stride: output cells per input pixel; overlap: pixels
    shared by neighbouring tiles at inference; extra: the rest of the JSON
    (training command, data, seed ...).
    """

    pixel_s: float
    tile: int
    stride: int
    overlap: int
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, onnx_path: str | Path) -> "SPDModelInfo":
        path = Path(onnx_path).with_suffix(".json")
        if not path.is_file():
            raise ConfigError(f"{path}: missing (the SPD model's description must sit next to its ONNX file)")
        meta = json.loads(path.read_text())
        geo = meta["geometry"]
        return cls(float(geo["pixel_s"]), int(geo["tile"]), int(geo["stride"]), int(geo["overlap"]), meta)


def _ort_session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


@dataclass
class _Runtime:
    info: SPDModelInfo
    session: object


def detect_tiles(images: np.ndarray, run, stride: int, min_score: float,
                 top_k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Run the network on tiles float32 [B, 2, T, T] and decode each tile's
    candidate boxes: a list of (boxes float64 [k, 4] in tile pixels, scores
    float64 [k]) with score >= ``min_score``, at most ``top_k`` per tile.

    run(images) -> (cls logits [B, 1, h, w], distances [B, 4, h, w]).
    """
    logits, dist = run(images)
    out = []
    h, w = logits.shape[-2:]
    cy, cx = cell_centers(h, w, stride)
    for b in range(images.shape[0]):
        score = 1.0 / (1.0 + np.exp(-logits[b, 0].astype(np.float64)))
        flat = score.reshape(-1)
        cand = np.flatnonzero(flat >= min_score)
        if cand.size > top_k:
            cand = cand[np.argsort(-flat[cand], kind="stable")[:top_k]]
        d = np.moveaxis(dist[b], 0, -1).reshape(-1, 4)[cand]
        ii, jj = np.divmod(cand, w)
        boxes = decode_boxes(d, cy[ii, 0], cx[0, jj])
        out.append((boxes, flat[cand]))
    return out


@register_aligner
@dataclass(frozen=True)
class SPDAligner:
    """Similarity pattern detection aligner (learned; runs with onnxruntime).

    model: path of the ONNX network (its JSON description next to it);
    None = the shipped ``vidtrace/models/weights/spd.onnx``. min_score:
    boxes below are dropped; nms_iou: box IoU above which the weaker of two
    boxes is a duplicate; max_segments: most segments returned;
    detect_reversed: also run on the reference-flipped map (reversed
    copies); overlap: pixels shared by neighbouring tiles (None: the
    model's); top_k: candidate cells decoded per tile and direction;
    min_extent_s: shortest extent (seconds, both axes) of a returned
    segment -- a box is widened to it around its centre within the map;
    threads: onnxruntime intra-op threads.
    """

    name: ClassVar[str] = "spd"

    model: str | None = None
    min_score: float = 0.05
    nms_iou: float = 0.4
    max_segments: int = 10
    detect_reversed: bool = True
    overlap: int | None = None
    top_k: int = 50
    min_extent_s: float = 0.25
    threads: int = 1
    _runtime: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"min_score must be in [0, 1], got {self.min_score}")
        if not 0.0 <= self.nms_iou <= 1.0:
            raise ConfigError(f"nms_iou must be in [0, 1], got {self.nms_iou}")
        if not isinstance(self.max_segments, int) or self.max_segments < 1:
            raise ConfigError(f"max_segments must be an integer >= 1, got {self.max_segments!r}")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise ConfigError(f"top_k must be an integer >= 1, got {self.top_k!r}")
        if not self.min_extent_s >= 0:
            raise ConfigError(f"min_extent_s must be >= 0, got {self.min_extent_s}")

        path = Path(self.model) if self.model else DEFAULT_MODEL
        if not path.is_file():
            raise ConfigError(f"SPD model {path} not found (train one with `vidtrace train spd`)")

    # ------------------------------------------------------------------ runtime
    def runtime(self) -> _Runtime:
        """The loaded network (once per aligner object)."""
        rt = self._runtime.get("rt")
        if rt is None:
            path = Path(self.model) if self.model else DEFAULT_MODEL
            rt = _Runtime(SPDModelInfo.load(path), _ort_session(path, self.threads))
            self._runtime["rt"] = rt
        return rt

    def _run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sess = self.runtime().session
        logits, dist = sess.run(None, {sess.get_inputs()[0].name: images.astype(np.float32)})
        return logits, dist

    # ------------------------------------------------------------------ detection
    def detect(self, smap: SimilarityMap) -> list[tuple[np.ndarray, float, bool]]:
        """Boxes of one map: a list of (box float64 [4] in raster pixels of the
        unflipped map, score, reversed), best first, duplicates removed."""
        info = self.runtime().info
        if len(smap.query_times) == 0 or len(smap.ref_times) == 0 or np.asarray(smap.qi).size == 0:
            return []
        raster = Raster.for_times(smap.query_times, smap.ref_times, info.pixel_s)
        img = rasterize(smap.query_times, smap.ref_times, smap.qi, smap.ri, smap.sim, raster)
        return detect_raster(img, self._run, info, overlap=info.overlap if self.overlap is None else self.overlap,
                             min_score=self.min_score, nms_iou=self.nms_iou, top_k=self.top_k,
                             detect_reversed=self.detect_reversed, max_boxes=self.max_segments)

    def align(self, smap: SimilarityMap) -> list[Segment]:
        """Copied segments between the map's query and reference, best first."""
        found = self.detect(smap)
        if not found:
            return []
        raster = Raster.for_times(smap.query_times, smap.ref_times, self.runtime().info.pixel_s)
        out = []
        for box, score, rev in found:
            s = pixels_to_seconds(box[None], raster)[0]
            q0, q1 = _widen(s[0], s[2], self.min_extent_s, raster.q0, raster.q_end)
            r0, r1 = _widen(s[1], s[3], self.min_extent_s, raster.r0, raster.r_end)
            out.append(Segment(q0, q1, r0, r1, float(np.clip(score, 0.0, 1.0)), reversed=rev,
                               flipped=bool(smap.flipped)))
        return out


def _widen(a: float, b: float, min_len: float, lo: float, hi: float) -> tuple[float, float]:
    """Interval [a, b] widened around its centre to at least ``min_len`` (and
    to a positive length), kept within [lo, hi] where possible."""
    length = max(b - a, min_len, 1e-6)
    if b - a >= length:
        return float(a), float(b)
    c = 0.5 * (a + b)
    a2, b2 = c - 0.5 * length, c + 0.5 * length
    if a2 < lo:
        a2, b2 = lo, lo + length
    if b2 > hi:
        a2, b2 = max(lo, hi - length), hi
    if b2 - a2 <= 0:
        b2 = a2 + 1e-6
    return float(a2), float(b2)


def detect_raster(img: np.ndarray, run, info: SPDModelInfo, *, overlap: int, min_score: float, nms_iou: float,
                  top_k: int, detect_reversed: bool, max_boxes: int) -> list[tuple[np.ndarray, float, bool]]:
    """Detection on one rasterised map float32 [2, rows, cols]: tiles (both
    directions) in one batch, decoding, cross-tile merging, NMS within and
    across directions. Returns (box [4] pixels of the unflipped raster,
    score, reversed) best first, at most ``max_boxes``."""
    _, rows, cols = img.shape
    t = info.tile
    views = [(False, img)]
    if detect_reversed:
        views.append((True, img[:, :, ::-1]))
    batch, where = [], []
    for rev, view in views:
        for y in tile_starts(rows, t, overlap):
            for x in tile_starts(cols, t, overlap):
                crop = view[:, y:y + t, x:x + t]
                if not np.any(crop[0] > 0):
                    continue
                pad = np.zeros((2, t, t), dtype=np.float32)
                pad[:, :crop.shape[1], :crop.shape[2]] = crop
                batch.append(pad)
                where.append((rev, y, x))
    if not batch:
        return []
    decoded = detect_tiles(np.stack(batch), run, info.stride, min_score, top_k)
    per_dir: dict[bool, list] = {False: [], True: []}
    multi = {False: 0, True: 0}
    for (rev, y, x), (boxes, scores) in zip(where, decoded):
        if boxes.size == 0:
            continue
        boxes = boxes + np.array([y, x, y, x], dtype=np.float64)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, rows)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, cols)
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        per_dir[rev].append((boxes[ok], scores[ok]))
        multi[rev] += 1
    found = []
    for rev, parts in per_dir.items():
        if not parts:
            continue
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        keep = nms(boxes, scores, nms_iou)
        boxes, scores = boxes[keep], scores[keep]
        if multi[rev] > 1:
            boxes, scores = merge_collinear(boxes, scores)
            keep = nms(boxes, scores, nms_iou)
            boxes, scores = boxes[keep], scores[keep]
        if rev:
            boxes = flip_boxes(boxes, cols)
        found += [(b, float(s), rev) for b, s in zip(boxes, scores)]
    found.sort(key=lambda f: (-f[1], f[2]))
    if detect_reversed and found:
        b = np.stack([f[0] for f in found])
        keep = nms(b, np.array([f[1] for f in found]), nms_iou)
        found = [found[i] for i in keep]
    return found[:max_boxes]
