"""Shared helpers of the SSAN tests: an oracle "network" for straight copy lines."""

from __future__ import annotations

import numpy as np


def oracle_run(stride: int = 4, threshold: float = 0.5):
    """A stand-in for the SPD network: in each tile, the bounding box of the
    pixels above ``threshold`` is reported (logit +8 at the cell of its
    centre, -8 elsewhere) when they form a forward line (positive
    correlation of row and column), nothing otherwise."""

    def run(images: np.ndarray):
        b, _, h, w = images.shape
        logits = np.full((b, 1, h // stride, w // stride), -8.0, np.float32)
        dist = np.ones((b, 4, h // stride, w // stride), np.float32)
        for k in range(b):
            ys, xs = np.nonzero(images[k, 0] > threshold)
            if ys.size < 2 or np.ptp(ys) == 0 or np.ptp(xs) == 0 or np.corrcoef(ys, xs)[0, 1] < 0.5:
                continue
            y0, x0, y1, x1 = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
            i, j = int((y0 + y1) / 2 // stride), int((x0 + x1) / 2 // stride)
            cy, cx = (i + 0.5) * stride, (j + 0.5) * stride
            logits[k, 0, i, j] = 8.0
            dist[k, :, i, j] = [cy - y0, cx - x0, y1 - cy, x1 - cx]
        return logits, dist

    return run


def line_entries(qt: np.ndarray, rt: np.ndarray, q0: float, q1: float, r0: float, speed: float = 1.0,
                 reversed_: bool = False, sim: float = 0.9):
    """Entries (qi, ri, sim) of a copy: query [q0, q1) shows reference from r0
    at ``speed`` (backwards from r0 + speed * (q1 - q0) when reversed)."""
    qi, ri = [], []
    r1 = r0 + speed * (q1 - q0)
    for i in np.flatnonzero((qt >= q0) & (qt < q1)):
        x = r1 - speed * (qt[i] - q0) if reversed_ else r0 + speed * (qt[i] - q0)
        j = int(np.argmin(np.abs(rt - x)))
        qi.append(i)
        ri.append(j)
    qi, ri = np.array(qi, np.int64), np.array(ri, np.int64)
    key = np.unique(qi * len(rt) + ri)
    return key // len(rt), key % len(rt), np.full(key.size, sim, np.float32)
