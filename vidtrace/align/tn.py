"""Temporal Network alignment (Tan et al., MM 2009; VCSL's ``tn``).

Nodes are map entries (at most ``top_k`` per query row); an edge links
(q1, r1) -> (q2, r2) when ``0 < q2 - q1 <= max_gap_s``,
``0 < r2 - r1 <= max_gap_s`` (seconds) and the local speed
(r2 - r1) / (q2 - q1) lies in [min_speed, max_speed] up to ``jitter_s``
seconds of timing error (plus the entries' slack under irregular sampling,
see :func:`~vidtrace.align.base.sample_slack`). A copy is a longest
weighted path: node gain = similarity, edge cost = ``gap_cost`` per
skipped sample. The reversed direction is the same search on the view whose
reference axis is mirrored, i.e. along edges where the reference time
decreases.

Edges are found for all entries at once (searchsorted windows over the
previous ``max_gap_s`` seconds, tested in vectorised chunks) and kept as
padded predecessor tables; the longest-path programme then walks the query
rows in time order, one small vectorised block per row that has incoming
edges. Several disjoint paths are taken best first with
:func:`~vidtrace.align.base.extract_paths` (instead of recomputing the
programme after removing each path's nodes, a path cut by removed nodes is
re-queued with its true remaining value), each consuming the entries in a
``band_s`` band around it so that parallel near-duplicate paths (kNN hits
on neighbouring frames) are not reported again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidtrace.align.base import BaseAligner, Entries, extract_paths, register_aligner
from vidtrace.errors import ConfigError


def network_edges(view: Entries, *, max_gap_s: float, min_speed: float, max_speed: float,
                  gap_cost: float, hold_steps: bool = True, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """All edges of the temporal network of ``view``, as padded tables.

    Returns (src int64 [K, E], cost float64 [K, E]): row k lists the
    predecessors of entry k (padding: index K) and the cost of each edge,
    ``gap_cost`` x skipped samples, skipped = min(row step, column step) - 1
    (0 between neighbouring samples at any allowed speed). hold_steps: also
    link entries on the same reference sample (a query sampled more densely
    than the reference shows each reference sample several times). The speed test
    tolerates ``jitter_s`` plus both entries' slack.
    Candidate pairs come from searchsorted windows over the previous
    ``max_gap_s`` seconds, tested ``chunk`` pairs at a time.
    """
    qt, rt = view.qt, view.rt
    k_all = qt.size
    row_start = np.searchsorted(qt, qt, "left")  # first entry of each entry's row
    lo = np.searchsorted(qt, qt - max_gap_s - 1e-9, "left")
    width = row_start - lo
    jit = view.jitter_s + 1e-9
    srcs, tgts, costs = [], [], []
    cum = np.cumsum(width)
    cuts = np.searchsorted(cum, np.arange(chunk, int(cum[-1]), chunk), "left") if k_all else []
    limits = np.unique(np.r_[0, cuts, k_all]).tolist()
    for t0, t1 in zip(limits[:-1], limits[1:]):
        w = width[t0:t1]
        if not w.sum():
            continue
        tgt = np.repeat(np.arange(t0, t1), w)
        src = np.arange(int(w.sum())) - np.repeat(np.cumsum(w) - w, w) + np.repeat(lo[t0:t1], w)
        dq = qt[tgt] - qt[src]
        dr = rt[tgt] - rt[src]
        tol = jit + view.slack[tgt] + view.slack[src]
        ok = ((dr >= -1e-9 if hold_steps else dr > 1e-9) & (dr <= max_gap_s + 1e-9) & (dr >= min_speed * dq - tol)
              & (dr <= max_speed * dq + tol))
        src, tgt = src[ok], tgt[ok]
        skipped = np.maximum(np.minimum(view.qi[tgt] - view.qi[src], view.ri[tgt] - view.ri[src]) - 1, 0)
        srcs.append(src)
        tgts.append(tgt)
        costs.append(gap_cost * skipped)
    src = np.concatenate(srcs) if srcs else np.zeros(0, dtype=np.int64)
    tgt = np.concatenate(tgts) if tgts else np.zeros(0, dtype=np.int64)
    cost = np.concatenate(costs) if costs else np.zeros(0)
    count = np.bincount(tgt, minlength=k_all)
    rank = np.arange(tgt.size) - np.repeat(np.cumsum(count) - count, count)
    src_table = np.full((k_all, max(1, int(count.max(initial=0)))), k_all, dtype=np.int64)
    cost_table = np.zeros(src_table.shape)
    src_table[tgt, rank] = src
    cost_table[tgt, rank] = cost
    return src_table, cost_table


def longest_paths(view: Entries, *, max_gap_s: float, min_speed: float, max_speed: float,
                  gap_cost: float, hold_steps: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Best path value ending at each entry of ``view`` and its predecessor.

    Returns (score float64 [K], pred int64 [K], -1 where a path starts).
    score[k] = sim[k] + max(0, max over edges j -> k of score[j] - cost(j, k))
    (see :func:`network_edges`). Rows (entries sharing a query time) are
    processed in time order; rows without incoming edges cost nothing.
    """
    k_all = len(view)
    score = np.r_[view.sim, -np.inf]  # slot K: the padding predecessor
    pred = np.full(k_all, -1, dtype=np.int64)
    if k_all == 0:
        return score[:k_all], pred
    src, cost = network_edges(view, max_gap_s=max_gap_s, min_speed=min_speed, max_speed=max_speed,
                              gap_cost=gap_cost, hold_steps=hold_steps)
    n_edges = (src < k_all).sum(axis=1)
    starts = np.flatnonzero(np.r_[True, view.qt[1:] != view.qt[:-1]])
    ends = np.r_[starts[1:], k_all]
    row_width = np.maximum.reduceat(n_edges, starts)
    rows = np.flatnonzero(row_width > 0)
    ar = np.arange(int(np.diff(np.r_[starts, k_all]).max()))
    for a, b, e in zip(starts[rows].tolist(), ends[rows].tolist(), row_width[rows].tolist()):
        blk = src[a:b, :e]
        val = score[blk] - cost[a:b, :e]
        j = val.argmax(axis=1)
        r = ar[:b - a]
        best = val[r, j]
        take = best > 0
        score[a:b] += np.where(take, best, 0.0)
        pred[a:b] = np.where(take, blk[r, j], -1)
    return score[:k_all], pred


@register_aligner
@dataclass(frozen=True)
class TNAligner(BaseAligner):
    """Temporal Network aligner. Parameters of :class:`BaseAligner`, plus

    gap_cost: similarity a path loses per skipped sample between two of its
    matches (discourages bridging gaps with unrelated entries); hold_steps:
    see :func:`network_edges`.
    """

    name: ClassVar[str] = "tn"

    gap_cost: float = 0.1
    hold_steps: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.gap_cost >= 0:
            raise ConfigError(f"gap_cost must be >= 0, got {self.gap_cost}")

    def _find_chains(self, view: Entries) -> list[np.ndarray]:
        score, pred = longest_paths(view, max_gap_s=self.max_gap_s, min_speed=self.min_speed,
                                    max_speed=self.max_speed, gap_cost=self.gap_cost, hold_steps=self.hold_steps)
        blocked = np.zeros(len(view), dtype=bool)
        chains: list[np.ndarray] = []

        def accept(path: np.ndarray) -> bool:
            if path.size < self.min_matches:
                return False
            lo, band = view.band_mask(path)
            blocked[lo:lo + band.size] |= band
            blocked[path] = True
            chains.append(path)
            return True

        # Only path ends can start a best path: nodes nobody continues from.
        has_next = np.zeros(len(view), dtype=bool)
        has_next[pred[pred >= 0]] = True
        ends = np.flatnonzero(~has_next)
        extract_paths(score, pred, ends, blocked, accept, max_paths=self.chain_budget,
                      max_pops=20 * self.chain_budget + 200)
        return chains
