"""Synthetic similarity maps with known copied segments, for the aligner tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidtrace.types import Segment, SimilarityMap


@dataclass(frozen=True)
class Planted:
    """A copy: query [q0, q0 + length) plays reference [r0, r0 + speed * length)
    (backwards when reversed) -- seconds."""

    q0: float
    r0: float
    length: float
    speed: float = 1.0
    reversed: bool = False
    peak: float = 0.9

    @property
    def q1(self) -> float:
        return self.q0 + self.length

    @property
    def r1(self) -> float:
        return self.r0 + self.speed * self.length

    def content_time(self, t: np.ndarray) -> np.ndarray:
        """Reference time shown at query time t (inside the copy)."""
        if self.reversed:
            return self.r1 - self.speed * (t - self.q0)
        return self.r0 + self.speed * (t - self.q0)


def make_map(planted, *, q_dur: float, r_dur: float, fps_q: float = 1.0, fps_r: float = 1.0,
             neighbours: int = 2, noise_per_row: float = 0.0, noise_sim: tuple[float, float] = (0.2, 0.6),
             seed: int = 0, dense: bool = False, q_t0: float = 0.0, r_t0: float = 0.0) -> SimilarityMap:
    """Sparse kNN-like map: for each planted copy and each query sample inside it,
    the reference samples within ``neighbours`` of the shown content get a
    similarity falling off with their distance to it (peak ``peak``); plus
    ``noise_per_row`` random entries per query row on average. dense: return
    the full matrix (noise floor everywhere) as a dense map instead."""
    rng = np.random.default_rng(seed)
    qt = q_t0 + np.arange(int(round(q_dur * fps_q))) / fps_q
    rt = r_t0 + np.arange(int(round(r_dur * fps_r))) / fps_r
    nq, nr = qt.size, rt.size
    m = np.zeros((nq, nr), dtype=np.float32)
    step_r = 1.0 / fps_r
    for p in planted:
        rows = np.flatnonzero((qt >= p.q0 - 1e-9) & (qt < p.q1 - 1e-9))
        for i in rows:
            x = float(p.content_time(qt[i]))
            j = int(np.round((x - r_t0) / step_r))
            for d in range(-neighbours, neighbours + 1):
                jj = j + d
                if 0 <= jj < nr:
                    s = p.peak * np.exp(-0.5 * ((rt[jj] - x) / (0.7 * step_r)) ** 2)
                    m[i, jj] = max(m[i, jj], s)
    if dense:
        floor = rng.uniform(0.0, 0.1, size=m.shape).astype(np.float32)
        return SimilarityMap.from_dense(np.maximum(m, floor), qt, rt, threshold=0.0)
    if noise_per_row > 0:
        k = rng.poisson(noise_per_row * nq)
        qi = rng.integers(0, nq, size=k)
        ri = rng.integers(0, nr, size=k)
        vals = rng.uniform(*noise_sim, size=k).astype(np.float32)
        m[qi, ri] = np.maximum(m[qi, ri], vals)
    return SimilarityMap.from_dense(m, qt, rt, threshold=0.0)


def keyframe_map(planted, *, q_dur: float, r_dur: float, gaps=(0.5, 1.0, 1.5, 2.0), nearest: int = 3,
                 noise_per_row: float = 1.0, seed: int = 0) -> SimilarityMap:
    """Map between keyframe-sampled videos: both keep frames at irregular
    times (gaps drawn from ``gaps`` seconds, like a change-based selector
    with a 2 s ceiling); each copied query keyframe matches the ``nearest``
    reference keyframes to the content it shows, weaker the farther they
    are; plus random weak entries."""
    rng = np.random.default_rng(seed)

    def times(dur):
        t = np.cumsum(rng.choice(gaps, size=int(dur / min(gaps)) + 1))
        return t[t < dur]

    qt, rt = times(q_dur), times(r_dur)
    rows, cols, sims = [], [], []
    for p in planted:
        for i in np.flatnonzero((qt >= p.q0) & (qt < p.q1)):
            x = float(p.content_time(qt[i]))
            for j in np.argsort(np.abs(rt - x))[:nearest]:
                rows.append(i)
                cols.append(j)
                sims.append(p.peak * np.exp(-0.5 * ((rt[j] - x) / 0.7) ** 2))
    k = rng.poisson(noise_per_row * qt.size)
    rows += rng.integers(0, qt.size, k).tolist()
    cols += rng.integers(0, rt.size, k).tolist()
    sims += rng.uniform(0.1, 0.5, k).tolist()
    key = np.array(rows, dtype=np.int64) * rt.size + np.array(cols, dtype=np.int64)
    _, first = np.unique(key, return_index=True)
    return SimilarityMap(qt, rt, np.array(rows, dtype=np.int64)[first], np.array(cols, dtype=np.int64)[first],
                         np.array(sims, dtype=np.float32)[first])


def iou_1d(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = max(a1, b1) - min(a0, b0)
    return inter / union if union > 0 else 0.0


def ious(seg: Segment, p: Planted) -> tuple[float, float]:
    """(query IoU, reference IoU) of a found segment with a planted copy."""
    return (iou_1d(seg.query_start, seg.query_end, p.q0, p.q1),
            iou_1d(seg.reference_start, seg.reference_end, p.r0, p.r1))


def best_match(segments, p: Planted) -> tuple[float, float]:
    """IoUs of the segment that best matches ``p`` (by the smaller IoU); (0, 0) if none."""
    best = (0.0, 0.0)
    for s in segments:
        pair = ious(s, p)
        if min(pair) > min(best):
            best = pair
    return best
