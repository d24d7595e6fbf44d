"""Aligner interface, registry and the helpers every aligner shares.

An aligner turns one :class:`~vidtrace.types.SimilarityMap` (frame-to-frame
similarities between a query and a reference) into copied segments
(:class:`~vidtrace.types.Segment`, seconds on both axes).

:class:`BaseAligner` runs the part that is the same for every method:

1. *entries*: the map's entries with ``sim >= min_sim``, at most ``top_k``
   per query row, sorted by (query time, reference time) -- an
   :class:`Entries` view;
2. for each direction (forward, and reversed when ``detect_reversed``) the
   method's ``_find_chains(view)`` returns chains, arrays of entry positions
   in the view ordered by query time; the reversed view is the forward one
   with the reference axis mirrored (``rt = -reference time``), so every
   method only ever looks for copies whose reference time increases;
3. each chain loses loose ends (:func:`trim_chain`), gains the query rows
   its path stepped over just before and after it, and becomes a Segment
   (:func:`segment_from_matches`: query extent from the matched samples,
   reference extent from a robust line fit through sub-sample refined
   reference times, score from mean similarity, density and a saturating
   length factor);
4. filters (``min_matches``, ``min_length_s``, ``min_score``), duplicate
   removal (:func:`segment_overlap` above ``max_overlap``) and the cap
   ``max_segments``; segments come back best score first.

Shared machinery for the methods: :func:`fit_line`, :func:`split_chain`,
:func:`best_per_row`, :func:`trim_chain`, :func:`extract_paths` (greedy,
lazily re-scored extraction of disjoint best paths from a DAG dynamic
programme) and :class:`Grid` (entries pooled on a padded dense grid stored
by anti-diagonals, for wavefront dynamic programmes).
"""

from __future__ import annotations

import dataclasses
import heapq
import importlib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Protocol, runtime_checkable

import numpy as np

from vidtrace.errors import ConfigError
from vidtrace.types import Segment, SimilarityMap

_EPS = 1e-9


# --------------------------------------------------------------------------
# interface and registry


@runtime_checkable
class Aligner(Protocol):
    """Anything that turns a similarity map into copied segments.

    name: registry key; align(smap) returns segments (seconds, start < end on
    both axes, score in [0, 1]) best first, and never modifies ``smap``.
    """

    name: str

    def align(self, smap: SimilarityMap) -> list[Segment]: ...


ALIGNERS: dict[str, type] = {}


def register_aligner(cls: type) -> type:
    """Class decorator: register an aligner class under its ``name``."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} has no string 'name' to register under")
    key = name.lower()
    if ALIGNERS.get(key, cls) is not cls:
        raise ValueError(f"aligner name {key!r} is already taken by {ALIGNERS[key].__name__}")
    ALIGNERS[key] = cls
    return cls


def get_aligner(name: str, **params) -> Aligner:
    """Build the aligner registered as ``name`` with ``params``.

    A name not registered yet is looked for in module ``vidtrace.align.<name>``
    (aligners with heavy optional dependencies live there and register on
    import). Raises ConfigError for an unknown name (listing the valid ones),
    an unknown parameter (listing the valid ones) or a nonsense value.
    """
    key = str(name).strip().lower()
    cls = ALIGNERS.get(key) or _import_aligner(key)
    if cls is None:
        raise ConfigError(f"unknown aligner {name!r}; valid names: {', '.join(sorted(ALIGNERS)) or '(none)'}")
    if dataclasses.is_dataclass(cls):
        valid = sorted(f.name for f in dataclasses.fields(cls) if f.init)
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ConfigError(f"aligner {key!r}: unknown parameter(s) {', '.join(unknown)}; "
                              f"valid parameters: {', '.join(valid)}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"aligner {key!r}: {exc}") from None


def _import_aligner(key: str) -> type | None:
    """Import ``vidtrace.align.<key>`` (a module that registers itself but
    that the package does not import up front) and look ``key`` up again."""
    if not key.replace("_", "").isalnum() or not key.isascii():
        return None
    module = f"vidtrace.align.{key}"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None
    return ALIGNERS.get(key)


# --------------------------------------------------------------------------
# small numeric helpers


def sampling_step(times: np.ndarray, fallback: float = 1.0) -> float:
    """Median positive gap (s) between consecutive sample times; ``fallback``
    when there is none (fewer than two distinct times)."""
    d = np.diff(np.asarray(times, dtype=np.float64))
    d = d[d > 0]
    return float(np.median(d)) if d.size else float(fallback)


def sample_slack(times: np.ndarray, step: float) -> np.ndarray:
    """How much longer than a regular ``step`` each sample's neighbourhood
    is: max(0, longer of its two gaps - step), float64 [N] seconds. Zero for
    uniform sampling; with keyframes (irregular samples standing for
    static stretches) a match's true time may be off by that much."""
    t = np.asarray(times, dtype=np.float64)
    if t.size < 2:
        return np.zeros(t.size)
    gaps = np.diff(t)
    longer = np.maximum(np.r_[gaps[:1], gaps], np.r_[gaps, gaps[-1:]])
    return np.maximum(longer - step, 0.0)


def _weighted_mean(v: np.ndarray, w: np.ndarray) -> float:
    sw = float(w.sum())
    return float((w * v).sum() / sw) if sw > 0 else float(np.median(v))


def fit_line(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, sign: int = 1,
             min_slope: float = 0.5, max_slope: float = 2.0, scale_floor: float = 0.0,
             iters: int = 4) -> tuple[float, float]:
    """Robust weighted fit of ``y = a * x + b``.

    x, y: float [n] (seconds); w: float [n] non-negative weights (default 1).
    Weighted least squares followed by ``iters`` rounds of Tukey-biweight
    reweighting (scale: 1.4826 * MAD of the residuals, at least
    ``scale_floor`` seconds -- pass about half a sampling step so that
    quantisation is not mistaken for outliers). The slope is forced to have
    the sign ``sign`` and a magnitude in [min_slope, max_slope]; with fewer
    than two distinct x it is ``sign * 1`` (clamped likewise). The intercept
    is the robustly weighted mean of ``y - a * x``. Returns (a, b).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w0 = np.ones_like(x) if w is None else np.clip(np.asarray(w, dtype=np.float64), 1e-6, None)
    if x.size == 0:
        raise ValueError("fit_line needs at least one point")
    x0 = float(x.mean())
    xc = x - x0
    rw = w0
    a = float(sign)
    if x.size >= 2 and float(np.ptp(xc)) > 0:
        for it in range(iters + 1):
            sw = rw.sum()
            mx = (rw * xc).sum() / sw
            my = (rw * y).sum() / sw
            vx = (rw * (xc - mx) ** 2).sum()
            if vx <= 0:
                break
            a = float((rw * (xc - mx) * (y - my)).sum() / vx)
            if it == iters:
                break
            res = y - my - a * (xc - mx)
            mad = 1.4826 * float(np.median(np.abs(res - np.median(res))))
            u = res / (4.685 * max(mad, scale_floor, 1e-9))
            new = w0 * np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
            if np.count_nonzero(new) < 2:
                break
            rw = new
    a = float(sign) * float(np.clip(sign * a, min_slope, max_slope))
    b = _weighted_mean(y - a * xc, rw) - a * x0
    return a, b


def best_per_row(view: "Entries", positions: np.ndarray) -> np.ndarray:
    """Of ``positions`` (entries of ``view``), keep the most similar entry of
    each query row; int64 [m] positions ordered by (query time, reference time)."""
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size == 0:
        return positions
    order = np.lexsort((-view.sim[positions], view.qi[positions]))
    p = positions[order]
    first = np.r_[True, view.qi[p][1:] != view.qi[p][:-1]]
    return np.sort(p[first])  # view order is (qt, rt) order


def split_chain(view: "Entries", chain: np.ndarray, *, max_gap_s: float, min_speed: float,
                max_speed: float, jitter_s: float) -> list[np.ndarray]:
    """Cut a chain (entry positions ordered by query time) where two
    consecutive entries are more than ``max_gap_s`` apart on either axis or
    their local speed leaves [min_speed, max_speed] by more than
    ``jitter_s`` plus both entries' slack (seconds of reference time).
    Returns the pieces (int64 arrays)."""
    chain = np.asarray(chain, dtype=np.int64)
    if chain.size < 2:
        return [chain] if chain.size else []
    dq = np.diff(view.qt[chain])
    dr = np.diff(view.rt[chain])
    tol = jitter_s + view.slack[chain][1:] + view.slack[chain][:-1] + _EPS
    bad = ((dq > max_gap_s + _EPS) | (np.abs(dr) > max_gap_s + _EPS)
           | (dr < min_speed * dq - tol) | (dr > max_speed * dq + tol))
    cuts = np.flatnonzero(bad) + 1
    return [c for c in np.split(chain, cuts) if c.size]


def trim_chain(view: "Entries", chain: np.ndarray, *, weak: float = 0.8, feeble: float = 0.5,
               min_keep: int = 2) -> np.ndarray:
    """Drop the ends of a chain that do not belong to it.

    Repeatedly: the longest leading (trailing) part that ends (starts) at a
    gap -- a jump of at least 3 query rows and twice the chain's median
    row step -- and whose mean similarity is below ``weak`` x the
    rest's upper quartile goes, as long as these parts add up to at most
    max(2, n / 4) entries; so does a single end entry that is below
    ``feeble`` x the chain's upper-quartile similarity, or off the chain's
    robust line by more than 0.75 reference steps (plus its slack) while
    either below ``weak`` x the upper quartile or cut off by a gap. At
    least ``min_keep`` entries stay. Such ends are usually unrelated
    entries that happened to lie near the path's extension.
    """
    chain = np.asarray(chain, dtype=np.int64)
    if chain.size <= min_keep:
        return chain
    qt_all, rt_all, s_all = view.qt[chain], view.rt[chain], view.sim[chain]
    rows = view.qi[chain]
    budget = max(2, chain.size // 4)
    lo, hi = 0, chain.size
    while hi - lo > min_keep:
        sims, n = s_all[lo:hi], hi - lo
        a_fit, b_fit = fit_line(qt_all[lo:hi], rt_all[lo:hi], sims, min_slope=0.0, max_slope=np.inf,
                                scale_floor=0.5 * view.step_r)
        off = np.abs(rt_all - (a_fit * qt_all + b_fit)) > 0.75 * view.step_r + view.slack[chain]
        jump = np.abs(np.diff(rows[lo:hi]))
        gap = jump >= max(3.0, 2.0 * float(np.median(jump)))
        starts = (np.flatnonzero(gap) + 1).tolist()
        heads = [g for g in starts if g <= budget and n - g >= min_keep
                 and sims[:g].mean() < weak * np.percentile(sims[g:], 75)]
        if heads:
            budget -= max(heads)
            lo += max(heads)
            continue
        tails = [g for g in starts if n - g <= budget and g >= min_keep
                 and sims[g:].mean() < weak * np.percentile(sims[:g], 75)]
        if tails:
            budget -= n - min(tails)
            hi = lo + min(tails)
            continue
        upper = float(np.percentile(sims, 75))

        def loose(k: int, cut: bool) -> bool:
            s = s_all[k]
            return s < feeble * upper or (off[k] and (s < weak * upper or cut))

        if loose(lo, bool(gap[0])):
            lo += 1
        elif loose(hi - 1, bool(gap[-1])):
            hi -= 1
        else:
            break
    return chain[lo:hi]


def trim_holds(view: "Entries", chain: np.ndarray, max_hold_s: float) -> np.ndarray:
    """Shorten a run of entries at either end of a chain that stays on one
    reference sample for more than ``max_hold_s`` seconds of query time.

    A denser query than reference legitimately maps several query samples to
    one reference sample, but a long such run at an end means the query goes
    on (or started) with similar-looking footage that the reference does not
    have -- a still or slowly changing shot past the copy's end."""
    chain = np.asarray(chain, dtype=np.int64)
    if chain.size < 2:
        return chain
    ri, qt = view.ri[chain], view.qt[chain]
    lo, hi = 0, chain.size
    run_end = int(np.flatnonzero(np.r_[ri[1:] != ri[0], True])[0])  # last index of the leading run
    if qt[run_end] - qt[0] > max_hold_s:
        lo = int(np.searchsorted(qt, qt[run_end] - max_hold_s, "left"))
    run_start = int(np.flatnonzero(np.r_[True, ri[:-1] != ri[-1]])[-1])  # first index of the trailing run
    if qt[-1] - qt[run_start] > max_hold_s:
        hi = int(np.searchsorted(qt, qt[run_start] + max_hold_s, "right"))
    return chain[lo:max(hi, lo + 1)]


# --------------------------------------------------------------------------
# map entries


@dataclass(frozen=True)
class Entries:
    """The usable entries of one map in one orientation, sorted by (qt, rt).

    qi, ri: int64 [K] row / column of each entry (in a reversed view ``ri``
    counts from the reference's last sample, ``nr - 1 - column``);
    qt, rt: float64 [K] seconds (``rt`` is minus the reference time in a
    reversed view, so that a copy's ``rt`` increases with ``qt`` in both);
    sim: float64 [K] similarity in [0, 1];
    pos: int64 [K] index of each entry in the forward view;
    nq, nr: map shape; step_q, step_r: sampling steps (s);
    jitter_s: tolerated timing error between two matches (s);
    band_s: half-width (s of reference time) of the band around a found
    chain whose entries are consumed with it; reversed: orientation;
    slack: float64 [K] extra timing error (s of reference time) an entry
    may carry because its samples stand for longer than a regular step
    (:func:`sample_slack` of the reference, plus max_speed x that of the
    query; all zero for uniform sampling).
    """

    qi: np.ndarray
    ri: np.ndarray
    qt: np.ndarray
    rt: np.ndarray
    sim: np.ndarray
    pos: np.ndarray
    nq: int
    nr: int
    step_q: float
    step_r: float
    jitter_s: float
    band_s: float
    reversed: bool
    slack: np.ndarray

    def __len__(self) -> int:
        return int(self.qi.size)

    def mirrored(self) -> "Entries":
        """The same entries with the reference axis mirrored (reversed view)."""
        ri = self.nr - 1 - self.ri
        rt = -self.rt
        order = np.lexsort((rt, self.qt))
        return dataclasses.replace(self, qi=self.qi[order], ri=ri[order], qt=self.qt[order], rt=rt[order],
                                   sim=self.sim[order], pos=self.pos[order], reversed=not self.reversed,
                                   slack=self.slack[order])

    def band_mask(self, chain: np.ndarray) -> tuple[int, np.ndarray]:
        """Entries within ``band_s`` of the chain's piecewise-linear path over
        its query extent. Returns (offset, bool mask) for the view slice
        [offset, offset + len(mask))."""
        q = self.qt[chain]
        r = self.rt[chain]
        lo = int(np.searchsorted(self.qt, q[0] - _EPS, "left"))
        hi = int(np.searchsorted(self.qt, q[-1] + _EPS, "right"))
        expect = np.interp(self.qt[lo:hi], q, r)
        return lo, np.abs(self.rt[lo:hi] - expect) <= self.band_s + _EPS


class _Lookup:
    """Similarity of any (row, column) of a map: 0 where it has no entry."""

    def __init__(self, qi: np.ndarray, ri: np.ndarray, sim: np.ndarray, nr: int):
        keys = qi.astype(np.int64) * nr + ri.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.sim = sim[order].astype(np.float64)
        self.nr = nr

    def __call__(self, qi: np.ndarray, ri: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(qi), dtype=np.float64)
        inside = (ri >= 0) & (ri < self.nr)
        if not self.keys.size or not inside.any():
            return out
        k = qi[inside].astype(np.int64) * self.nr + ri[inside].astype(np.int64)
        at = np.minimum(np.searchsorted(self.keys, k), self.keys.size - 1)
        hit = self.keys[at] == k
        vals = np.where(hit, self.sim[at], 0.0)
        out[inside] = vals
        return out


def _checked(smap: SimilarityMap) -> tuple[np.ndarray, ...]:
    """Validated float64 times, int64 indices and float64 sims of a map (new arrays)."""
    qtimes = np.array(smap.query_times, dtype=np.float64, copy=True).reshape(-1)
    rtimes = np.array(smap.ref_times, dtype=np.float64, copy=True).reshape(-1)
    arrays = []
    for label in ("qi", "ri"):
        a = np.asarray(getattr(smap, label))
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"SimilarityMap.{label} must hold integers, got {a.dtype}")
        arrays.append(np.array(a, dtype=np.int64, copy=True).reshape(-1))
    qi, ri = arrays
    sim = np.array(smap.sim, dtype=np.float64, copy=True).reshape(-1)
    if not (qi.size == ri.size == sim.size):
        raise ValueError(f"SimilarityMap qi/ri/sim lengths differ: {qi.size}, {ri.size}, {sim.size}")
    if qi.size and (qi.min() < 0 or qi.max() >= qtimes.size or ri.min() < 0 or ri.max() >= rtimes.size):
        raise ValueError("SimilarityMap indices fall outside query_times / ref_times")
    for label, t in (("query_times", qtimes), ("ref_times", rtimes)):
        if t.size > 1 and np.any(np.diff(t) < 0):
            raise ValueError(f"SimilarityMap.{label} must be non-decreasing")
        if not np.all(np.isfinite(t)):
            raise ValueError(f"SimilarityMap.{label} must be finite")
    return qtimes, rtimes, qi, ri, sim


@dataclass(frozen=True)
class _Context:
    """Everything about one map that segment building needs (forward order)."""

    query_times: np.ndarray
    ref_times: np.ndarray
    step_q: float
    step_r: float
    fwd: Entries
    rt_fine: np.ndarray  # float64 [K] sub-sample refined reference time of each forward entry
    flipped: bool
    possible: int  # most distinct matches a copy between these two videos can have


def _build_context(smap: SimilarityMap, p: "BaseAligner") -> _Context:
    qtimes, rtimes, qi, ri, sim = _checked(smap)
    nq, nr = qtimes.size, rtimes.size
    step_q = sampling_step(qtimes, fallback=sampling_step(rtimes))
    step_r = sampling_step(rtimes, fallback=step_q)
    lookup = _Lookup(qi, ri, np.nan_to_num(sim, nan=0.0), nr)
    keep = np.isfinite(sim) & (sim > 0) & (sim >= p.min_sim)
    qi, ri, sim = qi[keep], ri[keep], np.clip(sim[keep], 0.0, 1.0)
    if p.top_k is not None and qi.size:
        order = np.lexsort((-sim, qi))
        q_sorted = qi[order]
        idx = np.arange(order.size)
        row_first = np.maximum.accumulate(np.where(np.r_[True, q_sorted[1:] != q_sorted[:-1]], idx, 0))
        sel = order[(idx - row_first) < p.top_k]
        qi, ri, sim = qi[sel], ri[sel], sim[sel]
    qt, rt = qtimes[qi], rtimes[ri]
    order = np.lexsort((rt, qt))
    qi, ri, sim, qt, rt = qi[order], ri[order], sim[order], qt[order], rt[order]
    jitter = step_r if p.jitter_s is None else float(p.jitter_s)
    band = 2.5 * step_r if p.band_s is None else float(p.band_s)
    slack = sample_slack(rtimes, step_r)[ri] + p.max_speed * sample_slack(qtimes, step_q)[qi]
    fwd = Entries(qi, ri, qt, rt, sim, np.arange(qi.size, dtype=np.int64), nq, nr, step_q, step_r,
                  jitter, band, False, slack)
    return _Context(qtimes, rtimes, step_q, step_r, fwd,
                    _refine_ref_times(lookup, qi, ri, rt, rtimes), bool(smap.flipped),
                    possible_matches(qtimes, rtimes, step_q, step_r))


def possible_matches(query_times: np.ndarray, ref_times: np.ndarray, step_q: float, step_r: float) -> int:
    """Most distinct matched samples (on the sparser axis) a copy between the
    two videos can have: the samples of the shorter one, counted at the
    sparser sampling step (>= 1)."""
    if query_times.size == 0 or ref_times.size == 0:
        return 1
    dur = min(float(query_times[-1] - query_times[0]) + step_q, float(ref_times[-1] - ref_times[0]) + step_r)
    return max(1, int(dur / max(step_q, step_r) + 1e-6))


def _refine_ref_times(lookup: _Lookup, qi: np.ndarray, ri: np.ndarray, rt: np.ndarray,
                      rtimes: np.ndarray) -> np.ndarray:
    """Sub-sample reference time of each entry: peak of the Gaussian (a
    parabola in log-similarity) through the similarities of (row, column - 1),
    (row, column), (row, column + 1) when both neighbours are in the map and
    the entry is their peak; unchanged otherwise. float64 [K] seconds."""
    if rt.size == 0 or rtimes.size < 3:
        return rt.copy()
    s0 = lookup(qi, ri)
    sm = lookup(qi, ri - 1)
    sp = lookup(qi, ri + 1)
    ok = (sm > 0) & (sp > 0) & (s0 >= sm) & (s0 >= sp)
    lm, l0, lp = (np.log(np.where(ok, v, 1.0)) for v in (sm, s0, sp))
    den = lm - 2.0 * l0 + lp
    ok &= den < -1e-6
    delta = np.zeros_like(rt)
    delta[ok] = np.clip(0.5 * (lm[ok] - lp[ok]) / den[ok], -0.5, 0.5)
    lo = rtimes[np.clip(ri - 1, 0, rtimes.size - 1)]
    hi = rtimes[np.clip(ri + 1, 0, rtimes.size - 1)]
    local = np.where(delta < 0, rt - lo, hi - rt)
    return rt + delta * local


# --------------------------------------------------------------------------
# chain -> segment


def _chain_segment(ctx: _Context, pos: np.ndarray, reversed_: bool, p: "BaseAligner") -> tuple[Segment, int]:
    """Segment for the forward entries ``pos`` (extended by :func:`_extend_ends`)
    and the number of distinct matches behind it."""
    fwd = ctx.fwd
    pos = _extend_ends(ctx, pos, reversed_, p)
    return segment_from_matches(
        fwd.qt[pos], ctx.rt_fine[pos], fwd.sim[pos], fwd.qi[pos], fwd.ri[pos], reversed_,
        query_times=ctx.query_times, ref_times=ctx.ref_times, step_q=ctx.step_q, step_r=ctx.step_r,
        min_speed=p.min_speed, max_speed=p.max_speed, score_matches=p.score_matches, flipped=ctx.flipped,
        cells=p.cell_extent)


def _extend_ends(ctx: _Context, pos: np.ndarray, reversed_: bool, p: "BaseAligner", rows: int = 2) -> np.ndarray:
    """Add to a chain the query rows just before its first and after its last
    match (up to ``rows`` each way, stopping at the first row without one)
    that hold an entry on the chain's fitted line (within half a reference
    step plus the entry's slack) at least half as similar as the chain's
    median. Paths whose reference time must strictly increase step over such
    rows below speed 1. Returns forward positions in query-time order."""
    fwd = ctx.fwd
    if pos.size < 2:
        return pos
    qt, rt = fwd.qt[pos], ctx.rt_fine[pos]
    a, b = fit_line(qt, rt, fwd.sim[pos], sign=-1 if reversed_ else 1, min_slope=p.min_speed,
                    max_slope=p.max_speed, scale_floor=0.5 * ctx.step_r)
    first, last = int(fwd.qi[pos].min()), int(fwd.qi[pos].max())
    t_lo = ctx.query_times[max(0, first - rows)]
    t_hi = ctx.query_times[min(ctx.query_times.size - 1, last + rows)]
    cand = np.arange(int(np.searchsorted(fwd.qt, t_lo, "left")), int(np.searchsorted(fwd.qt, t_hi, "right")))
    cand = cand[((fwd.qi[cand] < first) | (fwd.qi[cand] > last))
                & (fwd.sim[cand] >= 0.5 * float(np.median(fwd.sim[pos])))
                & (np.abs(ctx.rt_fine[cand] - (a * fwd.qt[cand] + b)) <= 0.5 * ctx.step_r + fwd.slack[cand] + 1e-6)]
    present = set(fwd.qi[cand].tolist())
    keep = []
    for row, step in ((first - 1, -1), (last + 1, 1)):
        while row in present and abs(row - (first if step < 0 else last)) <= rows:
            keep.append(row)
            row += step
    if not keep:
        return pos
    extra = cand[np.isin(fwd.qi[cand], keep)]
    extra = extra[np.lexsort((-fwd.sim[extra], fwd.qi[extra]))]
    extra = extra[np.r_[True, fwd.qi[extra][1:] != fwd.qi[extra][:-1]]]  # the most similar of each row
    return np.sort(np.r_[pos, extra])


def segment_from_matches(qt: np.ndarray, rt: np.ndarray, sim: np.ndarray, qi: np.ndarray, ri: np.ndarray,
                         reversed_: bool, *, query_times: np.ndarray, ref_times: np.ndarray, step_q: float,
                         step_r: float, min_speed: float = 0.5, max_speed: float = 2.0,
                         score_matches: float = 4.0, flipped: bool = False,
                         cells: bool = True) -> tuple[Segment, int]:
    """Turn matched samples into a Segment (the maths behind every aligner).

    qt, rt: float64 [n] seconds of the matches (``rt`` may be sub-sample
    refined); sim: [n] their similarities; qi, ri: int [n] their sample
    indices (to count distinct matches); reversed_: the reference runs
    backwards. Query extent: [first matched query time, last + step_q).
    Reference extent: image of the query extent under the robust line fit
    ``r = a * q + b`` (slope sign from ``reversed_``, |a| within
    [min_speed, max_speed]), clipped to [ref_times[0], ref_times[-1] +
    step_r]. Score: mean similarity x density (distinct matches / samples
    inside the extent on the sparser axis, at most 1) x (1 - exp(-matches /
    score_matches)). Returns (segment, distinct matches).
    """
    qs = float(qt.min())
    qe = float(qt.max()) + step_q
    a, b = fit_line(qt, rt, sim, sign=-1 if reversed_ else 1, min_slope=min_speed, max_slope=max_speed,
                    scale_floor=0.5 * step_r)
    r_lo = float(ref_times[0]) if ref_times.size else 0.0
    r_hi = (float(ref_times[-1]) if ref_times.size else 0.0) + step_r
    q_lo = float(query_times[0]) if query_times.size else qs
    q_hi = (float(query_times[-1]) if query_times.size else qe - step_q) + step_q
    ends = sorted((a * qs + b, a * qe + b))
    if reversed_:
        # Frame times are frame starts: the query cell [q, q + step_q) of a
        # backwards copy shows reference content up to line(q) + one query
        # step of reference time, so the content interval sits that much later.
        ends = [e + abs(a) * step_q for e in ends]
    # Each matched sample stands for a cell of time on its axis; a
    # sparsely sampled axis's cells can reach past the other axis's extent
    # (e.g. a 2 fps reference against an 8 fps query whose last frames found
    # no match), so the extent is the union of both, mapped through the line.
    # Sampling takes the first frame of each step-long bucket, so a reference
    # sample stands for [t, t + step).
    cell_lo, cell_hi = float(rt.min()), float(rt.max()) + step_r
    ext_lo, ext_hi = ends
    if cells and ref_times.size:
        # Where it matters and is safe: for copies shorter than two reference
        # steps (a line through a few samples says little about their ends),
        # and at the reference's first / last sample (the video itself bounds
        # the copy). Elsewhere a matched neighbouring sample would stretch a
        # segment past the copy.
        short = ends[1] - ends[0] < 2.0 * step_r
        if short or cell_lo <= float(ref_times[0]) + 1e-9:
            ext_lo = min(ext_lo, cell_lo)
        if short or float(rt.max()) >= float(ref_times[-1]) - 1e-9:
            ext_hi = max(ext_hi, cell_hi)
    rs, re = max(ext_lo, r_lo), min(ext_hi, r_hi)
    if re - rs < 1e-6:  # the line left the reference: fall back to the matched samples
        rs, re = max(cell_lo, r_lo), min(cell_hi, r_hi)
        if re - rs < 1e-6:
            rs, re = cell_lo, cell_lo + step_r
    elif cells:
        q_img = sorted(((rs - b) / a, (re - b) / a))
        qs, qe = max(min(qs, q_img[0]), q_lo), min(max(qe, q_img[1]), q_hi)
    n_eff = int(min(np.unique(qi).size, np.unique(ri).size))
    span_q = np.searchsorted(query_times, qe - 1e-9) - np.searchsorted(query_times, qs - 1e-9)
    span_r = np.searchsorted(ref_times, re - 1e-9) - np.searchsorted(ref_times, rs - 1e-9)
    span = max(1, int(min(span_q, span_r)))
    density = min(1.0, n_eff / span)
    # Short videos offer few samples: the length factor saturates on what is possible.
    possible = possible_matches(query_times, ref_times, step_q, step_r)
    length = 1.0 - math.exp(-n_eff / max(min(score_matches, possible), 1e-9))
    score = float(np.clip(float(np.mean(sim)) * density * length, 0.0, 1.0))
    seg = Segment(qs, qe, float(rs), float(re), score, reversed=bool(reversed_), flipped=bool(flipped))
    return seg, n_eff


def chain_to_segment(smap: SimilarityMap, qi: np.ndarray, ri: np.ndarray, *, reversed: bool | None = None,
                     min_speed: float = 0.5, max_speed: float = 2.0, score_matches: float = 4.0,
                     subsample: bool = True) -> Segment:
    """Segment (seconds) for a chain of matched (qi, ri) index pairs of ``smap``.

    qi, ri: int [n] row / column indices of the chain (similarities are
    looked up in the map; pairs absent from it count as 0). reversed: the
    reference runs backwards (None: decided by the sign of the least-squares
    slope). subsample: refine each match's reference time by a parabolic fit
    through its neighbouring columns' similarities. See
    :func:`segment_from_matches` for the extent and score maths.
    """
    qtimes, rtimes, mqi, mri, msim = _checked(smap)
    qi = np.asarray(qi, dtype=np.int64).reshape(-1)
    ri = np.asarray(ri, dtype=np.int64).reshape(-1)
    if qi.size == 0 or qi.size != ri.size:
        raise ValueError("chain_to_segment needs one or more (qi, ri) pairs of equal length")
    lookup = _Lookup(mqi, mri, np.nan_to_num(msim, nan=0.0), rtimes.size)
    step_q = sampling_step(qtimes, fallback=sampling_step(rtimes))
    step_r = sampling_step(rtimes, fallback=step_q)
    qt, rt = qtimes[qi], rtimes[ri]
    if subsample:
        rt = _refine_ref_times(lookup, qi, ri, rt, rtimes)
    if reversed is None:
        reversed = bool(qi.size > 1 and np.ptp(qt) > 0 and np.polyfit(qt, rt, 1)[0] < 0)
    seg, _ = segment_from_matches(qt, rt, np.clip(lookup(qi, ri), 0.0, 1.0), qi, ri, reversed,
                                  query_times=qtimes, ref_times=rtimes, step_q=step_q, step_r=step_r,
                                  min_speed=min_speed, max_speed=max_speed, score_matches=score_matches,
                                  flipped=bool(smap.flipped))
    return seg


def _ref_image(s: Segment, q0: float, q1: float) -> tuple[float, float]:
    """Reference interval that segment ``s`` maps query [q0, q1) onto."""
    span = s.query_end - s.query_start
    f0, f1 = (q0 - s.query_start) / span, (q1 - s.query_start) / span
    if s.reversed:
        f0, f1 = 1.0 - f1, 1.0 - f0
    rl = s.reference_end - s.reference_start
    return s.reference_start + f0 * rl, s.reference_start + f1 * rl


def segment_overlap(a: Segment, b: Segment) -> float:
    """How much two segments describe the same copy, in [0, 1].

    (shared query time / shorter query extent) x (overlap of the reference
    intervals each segment maps that shared query time onto / the shorter
    of the two). Parallel near-duplicates and small segments lying on a
    bigger one's path score near 1; segments on different paths score 0.
    """
    q0, q1 = max(a.query_start, b.query_start), min(a.query_end, b.query_end)
    if q1 <= q0:
        return 0.0
    fq = (q1 - q0) / max(min(a.query_end - a.query_start, b.query_end - b.query_start), _EPS)
    a0, a1 = _ref_image(a, q0, q1)
    b0, b1 = _ref_image(b, q0, q1)
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    fr = inter / max(min(a1 - a0, b1 - b0), _EPS)
    return float(min(1.0, fq * min(1.0, fr)))


# --------------------------------------------------------------------------
# path extraction


def extract_paths(score: np.ndarray, pred: np.ndarray, candidates: np.ndarray, blocked: np.ndarray,
                  accept: Callable[[np.ndarray], bool], *, max_paths: int, max_pops: int) -> int:
    """Greedy extraction of node-disjoint best paths from one DAG dynamic programme.

    score: float [N] value of the best path ending at each node, cumulative
    along ``pred`` (score[k] = own gain + score[pred[k]] - edge costs);
    pred: int [N] predecessor of each node on that path, -1 at a start;
    candidates: int [M] nodes that may end a path; blocked: bool [N],
    updated in place -- a path stops before a blocked node; accept(path)
    gets int [L] nodes from start to end, blocks what it consumes and says
    whether it kept the path (a refused path's end node is blocked).

    Candidates are tried best first. A path truncated by nodes blocked since
    its score was computed is re-queued with its true, lower value (score at
    its end minus score at the blocked node), so the result approximates
    recomputing the programme after each extraction at a fraction of the
    cost. Stops after ``max_paths`` kept paths or ``max_pops`` tries (blocked
    candidates, skipped at once, do not count).
    Returns the number of kept paths.
    """
    cand = np.asarray(candidates, dtype=np.int64)
    heap = list(zip((-score[cand]).tolist(), cand.tolist()))
    heapq.heapify(heap)
    kept = pops = 0
    while heap and kept < max_paths and pops < max_pops:
        neg, end = heapq.heappop(heap)
        if blocked[end]:
            continue
        pops += 1
        path = [end]
        k = int(pred[end])
        while k >= 0 and not blocked[k]:
            path.append(k)
            k = int(pred[k])
        value = float(score[end]) - (float(score[k]) if k >= 0 else 0.0)
        if value < -neg - 1e-9 * (1.0 + abs(neg)):
            heapq.heappush(heap, (-value, end))
            continue
        if accept(np.array(path[::-1], dtype=np.int64)):
            kept += 1
        else:
            blocked[end] = True
    return kept


# --------------------------------------------------------------------------
# pooled dense grid for wavefront dynamic programmes


@dataclass(frozen=True)
class Grid:
    """Entries of a view pooled onto a padded dense grid, stored by anti-diagonals.

    f: pooling factor (each cell covers f x f samples); n1, n2: interior
    shape (ceil(nq / f), ceil(nr / f)); row 0 and column 0 are padding.
    Cell (i, j) lives at index ``(i + j) * height + i`` (height = n1 + 1) of
    arrays with ``size = (n1 + n2 + 1) * height`` elements, so each
    anti-diagonal is one contiguous slice and a wavefront programme reads
    and writes whole slices; indices that are no cell are never read. The
    cell above, to the left and above-left of index k are at k - UP,
    k - LEFT, k - DIAG (see :meth:`offsets`).
    sim: float32 [size] best similarity of the cell's entries (0: none);
    cell: int64 [K] cell of each view entry; by_cell: int64 [K] entries
    sorted by cell; cell_sorted: int64 [K] their cells.
    """

    f: int
    n1: int
    n2: int
    height: int
    sim: np.ndarray
    cell: np.ndarray
    by_cell: np.ndarray
    cell_sorted: np.ndarray

    @classmethod
    def build(cls, view: Entries, max_cells: int) -> "Grid":
        f = max(1, math.ceil(math.sqrt(view.nq * view.nr / max(1, max_cells))))
        n1, n2 = -(-view.nq // f), -(-view.nr // f)
        height = n1 + 1
        i, j = view.qi // f + 1, view.ri // f + 1
        cell = (i + j) * height + i
        sim = np.zeros((n1 + n2 + 1) * height, dtype=np.float32)
        order = np.lexsort((view.sim, cell))  # last entry of each cell has its best similarity
        c = cell[order]
        last = np.r_[c[1:] != c[:-1], True] if c.size else np.zeros(0, dtype=bool)
        sim[c[last]] = view.sim[order][last]
        by_cell = np.argsort(cell, kind="stable")
        return cls(f, n1, n2, height, sim, cell, by_cell, cell[by_cell])

    @property
    def offsets(self) -> tuple[int, int, int]:
        """(UP, LEFT, DIAG): index distance to the cell above, to the left, above-left."""
        return self.height + 1, self.height, 2 * self.height + 1

    def ij(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of each index."""
        d, i = np.divmod(np.asarray(cells, dtype=np.int64), self.height)
        return i, d - i

    def diagonals(self) -> list[tuple[int, int]]:
        """Interior anti-diagonals in wavefront order, as (start, stop) index ranges."""
        out = []
        for d in range(2, self.n1 + self.n2 + 1):
            i0, i1 = max(1, d - self.n2), min(self.n1, d - 1)
            out.append((d * self.height + i0, d * self.height + i1 + 1))
        return out

    def padding(self) -> np.ndarray:
        """bool [size]: the index is padding (row 0 or column 0) or no cell."""
        i, j = self.ij(np.arange(self.sim.size))
        return (i == 0) | (j <= 0) | (j > self.n2)

    def entries_in(self, cells: np.ndarray) -> np.ndarray:
        """View positions of the entries in ``cells`` (int64 [m], unordered)."""
        cells = np.unique(np.asarray(cells, dtype=np.int64))
        lo = np.searchsorted(self.cell_sorted, cells, "left")
        hi = np.searchsorted(self.cell_sorted, cells, "right")
        n = hi - lo
        if not n.sum():
            return np.zeros(0, dtype=np.int64)
        starts = np.repeat(lo - np.cumsum(np.r_[0, n[:-1]]), n)
        return self.by_cell[starts + np.arange(int(n.sum()))]

    def path_entries(self, view: Entries, cells: np.ndarray) -> np.ndarray:
        """The chain a grid path stands for: the most similar entry of each
        query row among the entries in ``cells`` and their neighbours one
        column either side (a pooled path's staircase can pass next to the
        cell holding a row's true match). int64 positions in query-time order."""
        return best_per_row(view, self.entries_in(self.widen(cells, 1)))

    def widen(self, cells: np.ndarray, half: int) -> np.ndarray:
        """``cells`` and their neighbours up to ``half`` columns away in the same row."""
        i, j = self.ij(cells)
        shifts = np.arange(-half, half + 1)
        jj = np.clip(j[:, None] + shifts[None, :], 1, self.n2)
        return ((i[:, None] + jj) * self.height + i[:, None]).ravel()


# --------------------------------------------------------------------------
# base class


@dataclass(frozen=True)
class BaseAligner(ABC):
    """Common parameters and pipeline of the classical aligners (times in seconds).

    min_sim: entries below are ignored. top_k: at most this many entries
    (the most similar) per query row; None keeps all (slow on dense maps).
    min_speed, max_speed: range of reference seconds per query second a copy
    may play at. max_gap_s: longest run of query or reference time a copy
    may go without a match. jitter_s: timing error tolerated between two
    matches (None: one reference sampling step). band_s: half-width of the
    band of reference time around a found chain whose entries are consumed
    with it (None: 2.5 reference steps). detect_reversed: also look for
    copies whose reference plays backwards. min_matches: fewest distinct
    matched samples a segment needs. min_length_s: shortest segment (on both
    axes). min_score: lowest segment score kept. max_segments: most segments
    returned. max_overlap: a segment whose :func:`segment_overlap` with a
    better one exceeds this is a duplicate. score_matches: distinct matches
    at which the score's length factor reaches 1 - 1/e. trim_weak: a chain end
    cut off by a gap is dropped when its mean similarity is below this
    fraction of the rest's upper quartile (:func:`trim_chain`). cell_extent:
    a matched reference sample stands for its whole sampling step when the
    segment's extent is computed (:func:`segment_from_matches`).
    """

    name: ClassVar[str] = ""

    min_sim: float = 0.0
    top_k: int | None = 5
    min_speed: float = 0.5
    max_speed: float = 2.0
    max_gap_s: float = 5.0
    jitter_s: float | None = None
    band_s: float | None = None
    detect_reversed: bool = True
    min_matches: int = 3
    min_length_s: float = 0.0
    min_score: float = 0.0
    max_segments: int = 10
    max_overlap: float = 0.5
    score_matches: float = 4.0
    trim_weak: float = 0.5
    cell_extent: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_sim <= 1.0:
            raise ConfigError(f"min_sim must be in [0, 1], got {self.min_sim}")
        if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 1):
            raise ConfigError(f"top_k must be a positive integer or None, got {self.top_k!r}")
        if not 0.0 < self.min_speed <= 1.0 <= self.max_speed:
            raise ConfigError(f"need 0 < min_speed <= 1 <= max_speed, got {self.min_speed}, {self.max_speed}")
        if not self.max_gap_s > 0:
            raise ConfigError(f"max_gap_s must be > 0, got {self.max_gap_s}")
        for label in ("jitter_s", "band_s"):
            v = getattr(self, label)
            if v is not None and not v >= 0:
                raise ConfigError(f"{label} must be >= 0 or None, got {v}")
        if not isinstance(self.min_matches, int) or self.min_matches < 1:
            raise ConfigError(f"min_matches must be an integer >= 1, got {self.min_matches!r}")
        if not self.min_length_s >= 0:
            raise ConfigError(f"min_length_s must be >= 0, got {self.min_length_s}")
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"min_score must be in [0, 1], got {self.min_score}")
        if not isinstance(self.max_segments, int) or self.max_segments < 1:
            raise ConfigError(f"max_segments must be an integer >= 1, got {self.max_segments!r}")
        if not 0.0 <= self.max_overlap <= 1.0:
            raise ConfigError(f"max_overlap must be in [0, 1], got {self.max_overlap}")
        if not self.score_matches > 0:
            raise ConfigError(f"score_matches must be > 0, got {self.score_matches}")

    @property
    def chain_budget(self) -> int:
        """Most chains a method should return per direction."""
        return 3 * self.max_segments + 2

    def split(self, view: Entries, chain: np.ndarray) -> list[np.ndarray]:
        """:func:`split_chain` with this aligner's gap and speed limits,
        keeping pieces of at least ``min_matches`` entries."""
        pieces = split_chain(view, chain, max_gap_s=self.max_gap_s, min_speed=self.min_speed,
                             max_speed=self.max_speed, jitter_s=view.jitter_s)
        return [c for c in pieces if c.size >= self.min_matches]

    @abstractmethod
    def _find_chains(self, view: Entries) -> list[np.ndarray]:
        """Chains of ``view`` (int64 entry positions ordered by query time)
        along which the reference time increases, best first."""

    def align(self, smap: SimilarityMap) -> list[Segment]:
        """Copied segments between the map's query and reference, best first."""
        ctx = _build_context(smap, self)
        if len(ctx.fwd) == 0:
            return []
        views = [ctx.fwd, ctx.fwd.mirrored()] if self.detect_reversed else [ctx.fwd]
        found: list[Segment] = []
        for view in views:
            for chain in self._find_chains(view):
                chain = trim_chain(view, chain, weak=self.trim_weak)
                chain = trim_holds(view, chain, view.step_r / self.min_speed)
                if chain.size == 0:
                    continue
                seg, n_eff = _chain_segment(ctx, view.pos[chain], view.reversed, self)
                if view.reversed and n_eff < 2:
                    continue  # one match has no direction: it is reported forward
                # A short reference (or query) cannot offer min_matches distinct samples.
                needed = max(1, min(self.min_matches, ctx.possible))
                if (n_eff >= needed and seg.score >= self.min_score
                        and min(seg.query_end - seg.query_start,
                                seg.reference_end - seg.reference_start) >= self.min_length_s):
                    found.append(seg)
        return select_segments(found, self.max_overlap, self.max_segments)


def select_segments(segments: list[Segment], max_overlap: float, max_segments: int) -> list[Segment]:
    """Best-first, duplicate-free selection: a segment is dropped when its
    :func:`segment_overlap` with an already kept one exceeds ``max_overlap``."""
    ranked = sorted(segments, key=lambda s: (-s.score, -(s.query_end - s.query_start), s.query_start))
    kept: list[Segment] = []
    for s in ranked:
        if all(segment_overlap(s, k) <= max_overlap for k in kept):
            kept.append(s)
            if len(kept) >= max_segments:
                break
    return kept
