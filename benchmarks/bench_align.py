"""Time the aligners on large kNN-like similarity maps.

    .venv/bin/python benchmarks/bench_align.py [--sizes 7200x7200,3600x3600] [--repeat 3]

Each map: query and reference sampled at --fps, about --per-row entries per
query row (a kNN search's hits): copied rows hold the true match and its
neighbouring frames, the other rows random hits. Planted copies: a long one
at speed 1, one at speed 1.25 and a reversed one. Prints, per map size and
aligner, the median time per pair, segments found and the worse of the two
temporal IoUs (query, reference) of each planted copy with its best segment.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidtrace.align import get_aligner  # noqa: E402
from vidtrace.types import SimilarityMap  # noqa: E402


def knn_map(nq: int, nr: int, fps: float, per_row: int, seed: int = 0):
    """Sparse map [nq x nr] with three planted copies; returns (map, copies)
    where copies are (q0, q1, r0, r1) boxes in seconds."""
    rng = np.random.default_rng(seed)
    qt = np.arange(nq) / fps
    rt = np.arange(nr) / fps
    dur_q, dur_r = nq / fps, nr / fps
    # (query start, length, reference start, speed, reversed) as fractions of the durations
    plan = [(0.05, 0.30, 0.40, 1.0, False), (0.45, 0.15, 0.05, 1.25, False), (0.75, 0.08, 0.80, 1.0, True)]
    rows, cols, sims, boxes = [], [], [], []
    copied = np.zeros(nq, dtype=bool)
    for fq, fl, fr, speed, rev in plan:
        q0, length, r0 = fq * dur_q, fl * min(dur_q, dur_r), fr * dur_r
        r1 = r0 + speed * length
        i = np.flatnonzero((qt >= q0) & (qt < q0 + length))
        x = (r1 - speed * (qt[i] - q0)) if rev else (r0 + speed * (qt[i] - q0))
        j = np.rint(x * fps).astype(np.int64)
        for d in range(-(per_row // 2), per_row - per_row // 2):
            jj = j + d
            ok = (jj >= 0) & (jj < nr)
            rows.append(i[ok])
            cols.append(jj[ok])
            sims.append(0.9 * np.exp(-0.5 * ((rt[jj[ok]] - x[ok]) * fps / 0.7) ** 2) + rng.uniform(0, 0.05, ok.sum()))
        copied[i] = True
        boxes.append((q0, q0 + length, r0, r1))
    free = np.flatnonzero(~copied)
    rows.append(np.repeat(free, per_row))
    cols.append(rng.integers(0, nr, size=free.size * per_row))
    sims.append(rng.uniform(0.3, 0.8, size=free.size * per_row))
    qi = np.concatenate(rows)
    ri = np.concatenate(cols)
    sim = np.clip(np.concatenate(sims), 0, 1).astype(np.float32)
    key = qi * nr + ri
    _, first = np.unique(key, return_index=True)
    smap = SimilarityMap(qt, rt, qi[first].astype(np.int64), ri[first].astype(np.int64), sim[first])
    return smap, boxes


def iou(a0, a1, b0, b1):
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    return inter / (max(a1, b1) - min(a0, b0))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="7200x7200,3600x3600,600x3600")
    ap.add_argument("--fps", type=float, default=1.0)
    ap.add_argument("--per-row", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--aligners", default="tn,hv,dp,dtw")
    args = ap.parse_args(argv)
    print(f"{'map':>11} {'entries':>8} {'aligner':>7} {'s/pair':>8} {'segs':>5}  worst IoU per planted copy")
    for size in args.sizes.split(","):
        nq, nr = (int(v) for v in size.lower().split("x"))
        smap, boxes = knn_map(nq, nr, args.fps, args.per_row)
        for name in args.aligners.split(","):
            aligner = get_aligner(name)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                segs = aligner.align(smap)
                times.append(time.perf_counter() - t0)
            found = []
            for q0, q1, r0, r1 in boxes:
                found.append(max((min(iou(s.query_start, s.query_end, q0, q1),
                                      iou(s.reference_start, s.reference_end, r0, r1)) for s in segs), default=0.0))
            print(f"{size:>11} {smap.qi.size:>8} {name:>7} {statistics.median(times):8.3f} {len(segs):>5}  "
                  + " ".join(f"{v:.3f}" for v in found))


if __name__ == "__main__":
    main()
