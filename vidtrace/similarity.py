"""Chamfer similarity between region descriptors (ViSiL section 4.2-4.3), numpy only.

Notation: a video is float32 [T, R, D] -- T frames, R region vectors of D
floats per frame (unit length, or shorter for uninformative regions); a
[T, D] array is a video with one region per frame. The frame-to-frame
similarity of query frame i and reference frame j is the Chamfer similarity
of their region sets (ViSiL eq. 4)::

    S[i, j] = 1/Rq * sum_o max_p <q[i, o], r[j, p]>

and its symmetric variant averages it with the same expression with the
roles of the two frames swapped. The video-level Chamfer similarity (eq. 2 on
S) is the mean over query frames of the best reference frame.

Everything is computed block by block over (query frames, reference frames):
a block of bq x br frames needs bq*R x br*R floats of region products, and no
[Tq, Tr, R, R] array ever exists, so a 2-hour query against a 2-hour
reference at 1 fps (7200 x 7200 frames, R = 10) runs in tens of megabytes of
workspace beyond the inputs and the [Tq, Tr] output (which the streaming
functions -- :func:`chamfer_video_similarity`, :func:`similarity_map` with
``top_k`` -- do not keep either). See benchmarks/bench_visil.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vidtrace.types import SimilarityMap

DEFAULT_BLOCK = 256
"""Frames per block side: the region-product workspace is (256 R)^2 floats (26 MB for R = 10)."""


def as_video(x: np.ndarray) -> np.ndarray:
    """float32 C-contiguous [T, R, D] view of [T, R, D] or [T, D] (R = 1)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, None, :]
    if x.ndim != 3:
        raise ValueError(f"expected video features [T, R, D] or [T, D], got shape {x.shape}")
    return np.ascontiguousarray(x)


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, n, max(1, int(size)))]


class _RefBlocks:
    """Reference blocks laid out region-major for the block product:
    block k is float32 [D, Rr * br] with column p * br + j = region p of frame j.
    Built once per block on first use (one extra copy of the reference)."""

    def __init__(self, ref: np.ndarray, block: int):
        self.ref = ref
        self.spans = _blocks(len(ref), block)
        self._cache: dict[int, np.ndarray] = {}

    def __getitem__(self, k: int) -> np.ndarray:
        got = self._cache.get(k)
        if got is None:
            a, b = self.spans[k]
            blk = self.ref[a:b]  # [br, Rr, D]
            got = np.ascontiguousarray(blk.transpose(2, 1, 0).reshape(blk.shape[2], -1))
            self._cache[k] = got
        return got


def _block_similarity(qblk: np.ndarray, rmat: np.ndarray, rr: int, symmetric: bool) -> np.ndarray:
    """Chamfer frame similarity of a query block [bq, Rq, D] against one
    prepared reference block (see _RefBlocks): float32 [bq, br]."""
    bq, rq, d = qblk.shape
    br = rmat.shape[1] // rr
    prod = (qblk.reshape(bq * rq, d) @ rmat).reshape(bq, rq, rr, br)
    # Running maxima over contiguous [.., br] slabs: ~3x faster than ndarray.max over a middle axis.
    best = prod[:, :, 0].copy()
    for p in range(1, rr):
        np.maximum(best, prod[:, :, p], out=best)
    s = best.mean(axis=1)  # max over reference regions, mean over query regions
    if symmetric:
        best_q = prod[:, 0].copy()
        for o in range(1, rq):
            np.maximum(best_q, prod[:, o], out=best_q)
        s = 0.5 * (s + best_q.mean(axis=1))
    return s.astype(np.float32, copy=False)


def iter_blocks(query: np.ndarray, ref: np.ndarray, *, symmetric: bool = False,
                block: int = DEFAULT_BLOCK) -> Iterator[tuple[int, int, int, int, np.ndarray]]:
    """Yield (q0, q1, r0, r1, S[q0:q1, r0:r1]) over all blocks, query blocks
    outermost (all reference blocks of one query strip come in a row).

    query [Tq, R, D] / ref [Tr, R', D] (or [T, D]); S float32 (see module docstring).
    """
    q, r = as_video(query), as_video(ref)
    if q.shape[2] != r.shape[2]:
        raise ValueError(f"query and reference dims differ: {q.shape[2]} vs {r.shape[2]}")
    if len(q) == 0 or len(r) == 0:
        return
    refs = _RefBlocks(r, block)
    for q0, q1 in _blocks(len(q), block):
        qblk = q[q0:q1]
        for k, (r0, r1) in enumerate(refs.spans):
            yield q0, q1, r0, r1, _block_similarity(qblk, refs[k], r.shape[1], symmetric)


def chamfer_frame_similarity(query: np.ndarray, ref: np.ndarray, *, symmetric: bool = False,
                             block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Frame-to-frame Chamfer similarity matrix float32 [Tq, Tr] in [-1, 1]
    (ViSiL eq. 5), computed blockwise."""
    q, r = as_video(query), as_video(ref)
    out = np.zeros((len(q), len(r)), dtype=np.float32)
    for q0, q1, r0, r1, s in iter_blocks(q, r, symmetric=symmetric, block=block):
        out[q0:q1, r0:r1] = s
    return out


def dense_frame_similarity(query: np.ndarray, ref: np.ndarray, *, symmetric: bool = False) -> np.ndarray:
    """The same as :func:`chamfer_frame_similarity` in one einsum over the
    full [Tq, Rq, Rr, Tr] tensor: a reference for tests, small inputs only."""
    q, r = as_video(query), as_video(ref)
    prod = np.einsum("iod,jpd->iopj", q.astype(np.float64), r.astype(np.float64))
    s = prod.max(axis=2).mean(axis=1)
    if symmetric:
        s = 0.5 * (s + prod.max(axis=1).mean(axis=1))
    return s.astype(np.float32)


def video_chamfer(sim: np.ndarray, *, symmetric: bool = False) -> float:
    """Video-level Chamfer similarity of a frame similarity matrix [Tq, Tr]:
    mean over query frames (rows) of the row maximum; symmetric: the average
    of that and the mean over reference frames of the column maximum.
    0.0 for an empty matrix."""
    s = np.asarray(sim)
    if s.size == 0:
        return 0.0
    cs = float(s.max(axis=1).mean())
    if symmetric:
        cs = 0.5 * (cs + float(s.max(axis=0).mean()))
    return cs


def chamfer_video_similarity(query: np.ndarray, ref: np.ndarray, *, symmetric: bool = False,
                             block: int = DEFAULT_BLOCK) -> float:
    """Video-level Chamfer similarity of two videos' features ([T, R, D] or
    [T, D]) without keeping the [Tq, Tr] matrix: `symmetric` applies to both
    the frame level and the video level (ViSiL_sym). 0.0 when either is empty."""
    q, r = as_video(query), as_video(ref)
    if len(q) == 0 or len(r) == 0:
        return 0.0
    row = np.full(len(q), -np.inf, dtype=np.float32)
    col = np.full(len(r), -np.inf, dtype=np.float32)
    for q0, q1, r0, r1, s in iter_blocks(q, r, symmetric=symmetric, block=block):
        np.maximum(row[q0:q1], s.max(axis=1), out=row[q0:q1])
        if symmetric:
            np.maximum(col[r0:r1], s.max(axis=0), out=col[r0:r1])
    cs = float(row.mean())
    return 0.5 * (cs + float(col.mean())) if symmetric else cs


def _merge_top_k(vals: np.ndarray, idx: np.ndarray, new_vals: np.ndarray, new_idx: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the k largest per row of two candidate sets [n, a] and [n, b]."""
    v = np.concatenate([vals, new_vals], axis=1)
    i = np.concatenate([idx, new_idx], axis=1)
    if v.shape[1] <= k:
        return v, i
    part = np.argpartition(-v, k - 1, axis=1)[:, :k]
    return np.take_along_axis(v, part, axis=1), np.take_along_axis(i, part, axis=1)


def sparsify(sim: np.ndarray, query_times: np.ndarray, ref_times: np.ndarray, *, top_k: int | None = None,
             threshold: float = 0.0, flipped: bool = False) -> SimilarityMap:
    """A dense [Nq, Nr] similarity matrix as a SimilarityMap: values clipped to
    [0, 1], entries strictly above `threshold`, at most `top_k` per query row
    (None: all)."""
    s = np.clip(np.asarray(sim, dtype=np.float32), 0.0, 1.0)
    if top_k is None or top_k >= s.shape[1]:
        return SimilarityMap.from_dense(s, query_times, ref_times, threshold=threshold, flipped=flipped)
    k = max(1, int(top_k))
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(s, part, axis=1)
    return _to_map(vals, part, query_times, ref_times, threshold, flipped)


def _to_map(vals: np.ndarray, idx: np.ndarray, query_times, ref_times, threshold: float,
            flipped: bool) -> SimilarityMap:
    rows = np.repeat(np.arange(vals.shape[0], dtype=np.int64), vals.shape[1])
    v, c = vals.ravel(), idx.ravel().astype(np.int64)
    keep = v > threshold
    rows, c, v = rows[keep], c[keep], v[keep]
    order = np.lexsort((c, rows))
    return SimilarityMap(np.asarray(query_times, dtype=np.float64), np.asarray(ref_times, dtype=np.float64),
                         rows[order], c[order], v[order].astype(np.float32), flipped)


def similarity_map(query: np.ndarray, ref: np.ndarray, query_times: np.ndarray, ref_times: np.ndarray, *,
                   top_k: int | None = 10, threshold: float = 0.0, symmetric: bool = False,
                   block: int = DEFAULT_BLOCK, flipped: bool = False) -> SimilarityMap:
    """Chamfer frame similarity of two videos as a sparse SimilarityMap for the
    aligners: values clipped to [0, 1]; at most `top_k` reference frames per
    query frame (None: every entry) and only entries above `threshold`.

    query [Tq, R, D], ref [Tr, R', D] (or [T, D]); query_times [Tq] /
    ref_times [Tr] in seconds. With top_k the memory is O(Tq * top_k) plus
    one block; without it, O(entries kept).
    """
    q, r = as_video(query), as_video(ref)
    if len(query_times) != len(q) or len(ref_times) != len(r):
        raise ValueError("times and features differ in length")
    n = len(q)
    if n == 0 or len(r) == 0:
        e = np.zeros(0, np.int64)
        return SimilarityMap(np.asarray(query_times, np.float64), np.asarray(ref_times, np.float64),
                             e, e, np.zeros(0, np.float32), flipped)
    if top_k is None:
        parts = []
        for q0, q1, r0, r1, s in iter_blocks(q, r, symmetric=symmetric, block=block):
            qi, ri = np.nonzero(s > threshold)
            parts.append((qi + q0, ri + r0, np.minimum(s[qi, ri], 1.0)))
        qi, ri, v = (np.concatenate(x) for x in zip(*parts))
        order = np.lexsort((ri, qi))
        return SimilarityMap(np.asarray(query_times, np.float64), np.asarray(ref_times, np.float64),
                             qi[order].astype(np.int64), ri[order].astype(np.int64),
                             v[order].astype(np.float32), flipped)
    k = max(1, int(top_k))
    vals = np.full((n, 0), -np.inf, dtype=np.float32)
    idx = np.zeros((n, 0), dtype=np.int64)
    current = -1
    out_v = np.full((n, min(k, len(r))), -np.inf, dtype=np.float32)
    out_i = np.zeros((n, min(k, len(r))), dtype=np.int64)
    for q0, q1, r0, r1, s in iter_blocks(q, r, symmetric=symmetric, block=block):
        if q0 != current:
            current = q0
            vals = np.full((q1 - q0, 0), -np.inf, dtype=np.float32)
            idx = np.zeros((q1 - q0, 0), dtype=np.int64)
        cols = np.broadcast_to(np.arange(r0, r1, dtype=np.int64), s.shape)
        vals, idx = _merge_top_k(vals, idx, s, cols, k)
        if r1 == len(r):
            out_v[q0:q1], out_i[q0:q1] = vals, idx
    return _to_map(np.clip(out_v, 0.0, 1.0), out_i, query_times, ref_times, threshold, flipped)
