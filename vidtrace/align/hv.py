"""Temporal Hough voting alignment (Douze et al., TMM 2010; VCSL's ``hv``).

Every entry votes, weighted by its similarity, for the offset
``o = r - a * q`` of the line it would lie on for each speed ``a`` of a
geometric grid over [min_speed, max_speed] (always containing 1). Peaks of
the smoothed offset histograms, strongest first, are turned into copies:
the unused entries within ``band_s`` of the peak's line are refined by
re-fitting the line robustly and re-collecting (so speeds between grid
values and long copies are followed exactly), reduced to the best entry per
query row and cut at gaps longer than ``max_gap_s``. Reversed copies are
found by voting again on the view with the reference axis mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidtrace.align.base import BaseAligner, Entries, best_per_row, fit_line, register_aligner
from vidtrace.errors import ConfigError


def speed_grid(min_speed: float, max_speed: float, n: int) -> np.ndarray:
    """``n`` speeds spaced geometrically over [min_speed, max_speed], the one
    nearest 1 replaced by exactly 1. float64 [n]."""
    if n == 1 or min_speed == max_speed:
        return np.array([1.0 if min_speed <= 1.0 <= max_speed else min_speed])
    grid = np.geomspace(min_speed, max_speed, n)
    if min_speed <= 1.0 <= max_speed:
        grid[np.argmin(np.abs(np.log(grid)))] = 1.0
    return grid


def offset_peaks(view: Entries, speeds: np.ndarray, bin_s: float, max_peaks: int) -> list[tuple[float, float, float]]:
    """Strongest local maxima of the similarity-weighted offset histograms.

    For each speed a: histogram of ``rt - a * qt`` in bins of bin_s / 2,
    smoothed over 3 bins. Returns up to ``max_peaks`` (votes, speed, offset
    in seconds), strongest first.
    """
    half = bin_s / 2.0
    found: list[tuple[float, float, float]] = []
    for a in speeds.tolist():
        off = view.rt - a * view.qt
        o0 = float(off.min())
        hist = np.bincount(((off - o0) / half).astype(np.int64), weights=view.sim)
        padded = np.r_[0.0, hist, 0.0]
        smooth = padded[:-2] + padded[1:-1] + padded[2:]
        sp = np.r_[-1.0, smooth, -1.0]
        is_peak = (smooth > 0) & (smooth >= sp[:-2]) & (smooth > sp[2:])
        bins = np.flatnonzero(is_peak)
        if bins.size > max_peaks:
            bins = bins[np.argpartition(-smooth[bins], max_peaks - 1)[:max_peaks]]
        found.extend(zip(smooth[bins].tolist(), [a] * bins.size, (o0 + (bins + 0.5) * half).tolist()))
    found.sort(key=lambda t: -t[0])
    return found[:max_peaks]


@register_aligner
@dataclass(frozen=True)
class HVAligner(BaseAligner):
    """Temporal Hough voting aligner. Parameters of :class:`BaseAligner`, plus

    bin_s: width (s) of an offset vote bin; None: two sampling steps (the
    coarser axis's). n_speeds: speeds voted for (geometric grid over
    [min_speed, max_speed]). max_peaks: histogram peaks examined per
    direction. refine_iters: line re-fit / re-collect rounds per peak.
    """

    name: ClassVar[str] = "hv"

    bin_s: float | None = None
    n_speeds: int = 13
    max_peaks: int = 64
    refine_iters: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bin_s is not None and not self.bin_s > 0:
            raise ConfigError(f"bin_s must be > 0 or None, got {self.bin_s}")
        for label in ("n_speeds", "max_peaks"):
            v = getattr(self, label)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{label} must be an integer >= 1, got {v!r}")
        if not isinstance(self.refine_iters, int) or self.refine_iters < 0:
            raise ConfigError(f"refine_iters must be an integer >= 0, got {self.refine_iters!r}")

    def _find_chains(self, view: Entries) -> list[np.ndarray]:
        bin_s = self.bin_s if self.bin_s is not None else 2.0 * max(view.step_q, view.step_r)
        band = max(view.band_s, 0.5 * bin_s)
        speeds = speed_grid(self.min_speed, self.max_speed, self.n_speeds)
        used = np.zeros(len(view), dtype=bool)
        chains: list[np.ndarray] = []
        for _, a, off in offset_peaks(view, speeds, bin_s, self.max_peaks):
            if len(chains) >= self.chain_budget:
                break
            reach = band + view.slack
            sel = np.flatnonzero(~used & (np.abs(view.rt - (a * view.qt + off)) <= reach))
            if sel.size < self.min_matches:
                continue
            for _ in range(self.refine_iters):
                a2, b2 = fit_line(view.qt[sel], view.rt[sel], view.sim[sel], min_slope=self.min_speed,
                                  max_slope=self.max_speed, scale_floor=0.5 * view.step_r)
                again = np.flatnonzero(~used & (np.abs(view.rt - (a2 * view.qt + b2)) <= reach))
                if again.size < self.min_matches or np.array_equal(again, sel):
                    break
                sel = again
            used[sel] = True
            chains.extend(self.split(view, best_per_row(view, sel)))
        return chains
