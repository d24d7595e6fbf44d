"""DTW-style global monotone alignment (VCSL's ``dtw``), restricted to the map's support.

Classical DTW forces one path from corner to corner and pays for every cell
it crosses, so on a partial copy it prefers the main diagonal over a copy
far from it. Here the path gains each supported cell's similarity when it
steps onto it diagonally and crosses empty cells for free (a similarity-
weighted longest common subsequence, i.e. subsequence DTW on the sparse
support):

    G[i, j] = max(G[i-1, j-1] + S[i, j], G[i-1, j], G[i, j-1])

on the (pooled, see :class:`~vidtrace.align.base.Grid`) dense grid, as a
vectorised anti-diagonal wavefront. The best global path is traced back from
the best cell, its supported cells give back their entries (best per query
row) and the path is cut wherever it jumps more than ``max_gap_s`` or leaves
the speed range -- VCSL's ``cut_path``. Copies that cross that path
(non-monotone order) are found by further passes with the consumed cells
emptied, up to ``max_passes``. Reversed copies: the same on the mirrored view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidtrace.align.base import BaseAligner, Entries, Grid, best_per_row, register_aligner
from vidtrace.errors import ConfigError


def monotone_programme(grid: Grid, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-weighted LCS over ``grid`` with cell similarities ``sim``
    (float [cells], padding 0). Returns (G float64 [cells], move int8 [cells]:
    0 diagonal, 1 from above, 2 from the left, -1 in the padding)."""
    s_all = sim.astype(np.float64)
    width = grid.width
    g = np.zeros(s_all.size)
    move = np.full(s_all.size, -1, dtype=np.int8)
    for start, stop, step in grid.diagonals():
        c_diag = g[start - width - 1:stop - width - 1:step] + s_all[start:stop:step]
        c_top = g[start - width:stop - width:step]
        c_left = g[start - 1:stop - 1:step]
        best = c_diag.copy()
        mv = np.zeros(best.size, dtype=np.int8)
        for code, cand in ((1, c_top), (2, c_left)):
            better = cand > best
            best[better] = cand[better]
            mv[better] = code
        g[start:stop:step] = best
        move[start:stop:step] = mv
    return g, move


def trace_back(grid: Grid, move: np.ndarray, end: int) -> np.ndarray:
    """Cells of the path ending at ``end`` (flat index), from its start. int64 [L]."""
    width = grid.width
    back = (width + 1, width, 1)
    cells = []
    k = end
    while k // width >= 1 and k % width >= 1:
        cells.append(k)
        k -= back[move[k]]
    return np.array(cells[::-1], dtype=np.int64)


@register_aligner
@dataclass(frozen=True)
class DTWAligner(BaseAligner):
    """Global monotone (subsequence-DTW) aligner. Parameters of
    :class:`BaseAligner`, plus

    max_passes: global paths traced per direction (each pass empties the
    cells the previous ones consumed). max_cells: grid cells above which
    the map is pooled.
    """

    name: ClassVar[str] = "dtw"

    max_passes: int = 3
    max_cells: int = 4_000_000

    def __post_init__(self) -> None:
        super().__post_init__()
        for label in ("max_passes", "max_cells"):
            v = getattr(self, label)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{label} must be a positive integer, got {v!r}")

    def _find_chains(self, view: Entries) -> list[np.ndarray]:
        grid = Grid.build(view, self.max_cells)
        sim = grid.sim.copy()
        widen = max(0, math.ceil(view.band_s / (grid.f * view.step_r) - 0.5))
        chains: list[np.ndarray] = []
        for _ in range(self.max_passes):
            if not (sim > 0).any() or len(chains) >= self.chain_budget:
                break
            g, move = monotone_programme(grid, sim)
            path = trace_back(grid, move, int(np.argmax(g)))
            cells = path[sim[path] > 0]
            pieces = self.split(view, best_per_row(view, grid.entries_in(cells)))
            if not pieces:
                break
            chains.extend(pieces)
            sim[grid.widen(cells, widen)] = 0.0
        return chains
