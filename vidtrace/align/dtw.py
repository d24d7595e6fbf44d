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

from vidtrace.align.base import BaseAligner, Entries, Grid, register_aligner
from vidtrace.errors import ConfigError


def monotone_programme(grid: Grid, sim: np.ndarray) -> np.ndarray:
    """Similarity-weighted LCS over ``grid`` with cell similarities ``sim``
    (float32 [grid.size], padding 0): G float32 [grid.size]. The wavefront
    runs three in-place ufuncs per anti-diagonal; :func:`trace_back` reads
    the moves back from G."""
    s_all = np.asarray(sim, dtype=np.float32)
    up, left, diag = grid.offsets
    g = np.zeros(s_all.size, dtype=np.float32)
    for a, b in grid.diagonals():
        cur = g[a:b]
        np.add(g[a - diag:b - diag], s_all[a:b], out=cur)
        np.maximum(cur, g[a - up:b - up], out=cur)
        np.maximum(cur, g[a - left:b - left], out=cur)
    return g


def trace_back(grid: Grid, g: np.ndarray, sim: np.ndarray, end: int) -> np.ndarray:
    """Cells of the monotone path ending at index ``end``, from its start
    (int64 [L]): step back diagonally where that is how G was reached
    through a supported cell, else up where G came from above, else left."""
    up, left, diag = grid.offsets
    height = grid.height
    cells = []
    k = end
    while True:
        d, i = divmod(k, height)
        if i == 0 or d == i:  # padding row or column
            break
        cells.append(k)
        if sim[k] > 0 and g[k] == g[k - diag] + sim[k]:
            k -= diag
        elif g[k] == g[k - up]:
            k -= up
        else:
            k -= left
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
            g = monotone_programme(grid, sim)
            path = trace_back(grid, g, sim, int(np.argmax(g)))
            cells = path[sim[path] > 0]
            pieces = self.split(view, grid.path_entries(view, cells))
            if not pieces:
                break
            chains.extend(pieces)
            sim[grid.widen(cells, widen)] = 0.0
        return chains
