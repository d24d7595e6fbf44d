"""Dynamic-programming alignment of diagonal blocks (Chou et al., TMM 2015; VCSL's ``dp``).

The map is put on a dense grid (pooled f x f when it has more than
``max_cells`` cells, which keeps long videos tractable; cells hold their best
entry's similarity) and a monotone-path programme runs over it:

    D[i, j] = max(D[i-1, j-1] + S[i, j],                      diagonal step
                  D[i-1, j] + straight_weight * S[i, j],      query-only step
                  D[i, j-1] + straight_weight * S[i, j])      reference-only step

A path may cross at most ``max_gap_s`` worth of consecutive empty cells;
beyond that it restarts (D = 0, no predecessor). Straight steps let a path
follow speeds other than 1 as staircases. The programme runs as a wavefront
over anti-diagonals (each one a contiguous slice of the grid's storage,
vectorised). Disjoint best paths are then taken best first
(:func:`~vidtrace.align.base.extract_paths`); each path's cells (and their
neighbours one column either side) give back their entries, reduced to the
best per query row and cut at gaps / speed breaks into chains, and the
cells within ``band_s`` of the path are consumed with it. Reversed copies:
the same on the mirrored view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidtrace.align.base import BaseAligner, Entries, Grid, extract_paths, register_aligner
from vidtrace.errors import ConfigError


def block_programme(grid: Grid, *, straight_weight: float, max_empty: int) -> tuple[np.ndarray, np.ndarray]:
    """Run the diagonal-block recurrence on ``grid``.

    Returns (D float32 [grid.size], move int8 [grid.size]): best path value
    ending at each cell and the step that reached it (0 diagonal, 1 from
    above, 2 from the left, -1 a path start). max_empty: most consecutive
    empty cells a path may cross. Padding cells hold D = 0 and an exhausted
    empty-run count, so a path can start at the border but never continue
    from the padding.
    """
    s_all = grid.sim
    up, left, diag = grid.offsets
    n = s_all.size
    dval = np.zeros(n, dtype=np.float32)
    run = np.full(n, max_empty + 1, dtype=np.int16)  # consecutive empty cells ending here
    for a, b in grid.diagonals():
        s = s_all[a:b]
        d_up, d_lf = dval[a - up:b - up], dval[a - left:b - left]
        c_diag = dval[a - diag:b - diag] + s
        c_side = np.maximum(d_up, d_lf) + straight_weight * s
        prev_run = np.where(c_diag >= c_side, run[a - diag:b - diag],
                            np.where(d_up >= d_lf, run[a - up:b - up], run[a - left:b - left]))
        r = np.where(s > 0, 0, np.minimum(prev_run + 1, max_empty + 1))
        run[a:b] = r
        dval[a:b] = np.where(r <= max_empty, np.maximum(c_diag, c_side), 0.0)  # too long a gap: restart
    # Moves, read back from the final values with the same tie-breaking.
    k = np.flatnonzero(run <= max_empty)
    k = k[(k >= diag)]
    s = s_all[k]
    d_up, d_lf = dval[k - up], dval[k - left]
    c_diag = dval[k - diag] + s
    c_side = np.maximum(d_up, d_lf) + straight_weight * s
    move = np.full(n, -1, dtype=np.int8)
    move[k] = np.where(c_diag >= c_side, 0, np.where(d_up >= d_lf, 1, 2))
    return dval, move


class MovePredecessors:
    """pred[k] of a grid programme's path, read from its moves on demand
    (-1 at a path start and never into the padding), so that no [size]
    int64 array is needed."""

    def __init__(self, grid: Grid, move: np.ndarray):
        up, left, diag = grid.offsets
        self.back = (diag, up, left)
        self.move = move
        self.height = grid.height

    def __getitem__(self, k: int) -> int:
        m = int(self.move[k])
        if m < 0:
            return -1
        p = int(k) - self.back[m]
        d, i = divmod(p, self.height)
        return -1 if i == 0 or d == i else p


@register_aligner
@dataclass(frozen=True)
class DPAligner(BaseAligner):
    """Diagonal-block dynamic-programming aligner. Parameters of
    :class:`BaseAligner`, plus

    straight_weight: share of a cell's similarity a query-only or
    reference-only step collects (Chou et al.: 0.5). max_cells: grid cells
    above which the map is pooled (memory and time grow with it).
    """

    name: ClassVar[str] = "dp"

    straight_weight: float = 0.5
    max_cells: int = 4_000_000

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.straight_weight <= 1.0:
            raise ConfigError(f"straight_weight must be in [0, 1], got {self.straight_weight}")
        if not isinstance(self.max_cells, int) or self.max_cells < 1:
            raise ConfigError(f"max_cells must be a positive integer, got {self.max_cells!r}")

    def _find_chains(self, view: Entries) -> list[np.ndarray]:
        grid = Grid.build(view, self.max_cells)
        cell_s = grid.f * min(view.step_q, view.step_r)
        max_empty = min(30_000, max(1, math.floor(self.max_gap_s / cell_s)))
        dval, move = block_programme(grid, straight_weight=self.straight_weight, max_empty=max_empty)
        pred = MovePredecessors(grid, move)
        blocked = np.zeros(dval.size, dtype=bool)
        widen = max(0, math.ceil(view.band_s / (grid.f * view.step_r) - 0.5))
        chains: list[np.ndarray] = []

        def accept(path: np.ndarray) -> bool:
            cells = path[grid.sim[path] > 0]
            if cells.size * grid.f < self.min_matches:  # cannot hold enough query rows
                return False
            pieces = self.split(view, grid.path_entries(view, cells))
            if not pieces:
                return False
            blocked[grid.widen(cells, widen)] = True
            chains.extend(pieces)
            return True

        matched = np.flatnonzero(grid.sim > 0)
        extract_paths(dval, pred, matched, blocked, accept, max_paths=self.chain_budget,
                      max_pops=20 * self.chain_budget + 200)
        return chains
