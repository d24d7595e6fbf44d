"""Search: per-frame kNN in the library index -> sparse similarity maps -> aligned matches.

As in SSAN section 3.4 / figure 5: every sampled query frame (and its
mirrored or cropped variants) is searched in the frame index; hits are
grouped by reference video into a sparse query x reference similarity map;
the best-supported pairs are shortlisted and aligned into segments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from vidtrace.decode import sample_times
from vidtrace.errors import ConfigError
from vidtrace.index.base import split_keys
from vidtrace.library import Library
from vidtrace.pipeline import ExtractedVideo, extract_video
from vidtrace.scoring import merge_segments, suppress_across_references, video_score
from vidtrace.types import FrameFeatures, Match, QueryResult, SimilarityMap


@dataclass(frozen=True)
class SearchParams:
    """Query-time settings.

    k: neighbours retrieved per query descriptor; max_distance: Hamming
    distance (bits of 256) above which a hit is ignored; sim_scale: a hit at
    distance d gets similarity max(0, 1 - d / sim_scale); min_sim: for float
    descriptors, the inner product under which a hit is ignored; variants: query-side
    variants ("flip": mirrored copies, "halves": side-by-side / stacked
    embeddings, "center": zoomed-out copies); max_candidates: reference
    videos aligned per query; aligner: registry name and params; scorer:
    optional re-scoring of each shortlisted pair (vidtrace.rescore: "chamfer",
    "visil") from the stored frame features: its video-level score becomes
    the match score, and each segment's score becomes the geometric mean of
    the aligner's and, with scorer_blend "window", the scorer's similarity
    inside the segment's box (window_score) or, with "pair", the scorer's
    video-level score of the pair (None: the scorer's own choice,
    Scorer.blend); the scorer sees the query at the library's sampling
    rate (decode.sample_times) when it needs it (Scorer.same_rate); with scorer_map its
    refined frame-to-frame map also replaces the kNN map for the aligner;
    cross_suppress: a segment covering the same query time as a better
    segment of another reference has its score multiplied by this (1 = off;
    vidtrace.scoring.suppress_across_references); min_score:
    matches below this calibrated score are not reported; query_fps:
    sampling rate of the query (denser than the library's, so that every
    indexed frame has a query frame close in time; None = the library's).
    """

    k: int = 64
    max_distance: int = 76
    sim_scale: float = 128.0
    min_sim: float = 0.5
    variants: tuple[str, ...] = ("flip", "halves", "center", "uncropped")
    query_fps: float | None = 8.0
    max_candidates: int = 50
    aligner: str = "tn"
    aligner_params: dict = field(default_factory=dict)
    scorer: str | None = None
    scorer_params: dict = field(default_factory=dict)
    scorer_map: bool = False
    scorer_blend: str | None = None
    cross_suppress: float = 1.0
    min_score: float = 0.3

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        if not 0 <= self.max_distance <= 256:
            raise ConfigError(f"max_distance must be within 0..256 bits, got {self.max_distance}")
        if self.max_candidates < 1:
            raise ConfigError(f"max_candidates must be >= 1, got {self.max_candidates}")
        if self.scorer_blend not in (None, "window", "pair"):
            raise ConfigError(f"scorer_blend must be 'window' or 'pair', got {self.scorer_blend!r}")
        if not 0.0 <= self.cross_suppress <= 1.0:
            raise ConfigError(f"cross_suppress must be within 0..1, got {self.cross_suppress}")
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"min_score must be within 0..1, got {self.min_score}")


@dataclass(frozen=True)
class Hits:
    """Deduplicated kNN hits of one query: int64 [K] video ids, bool [K]
    flipped, int64 [K] query frame indices, int64 [K] reference frame
    indices, float32 [K] similarities in [0, 1]."""

    video: np.ndarray
    flipped: np.ndarray
    qi: np.ndarray
    ri: np.ndarray
    sim: np.ndarray


def _descriptor_rows(query: ExtractedVideo, variants: tuple[str, ...], min_quality: int):
    """Yield (flipped, qi int64 [M], codes uint8 [M, bytes]) for every variant to search."""
    good = np.nonzero(query.features.quality >= min_quality)[0]
    yield False, good, query.features.descriptors[good]
    for name in variants:
        if name == "orig":
            continue
        codes = query.variants[name][good]
        qi = good
        if codes.ndim == 3:  # several crops per frame: [N, C, bytes]
            qi = np.repeat(good, codes.shape[1])
            codes = codes.reshape(-1, codes.shape[-1])
        yield name == "flip", qi, codes


def usable_variants(extractor, params: "SearchParams") -> tuple[str, ...]:
    """The requested query variants the extractor can compute ("orig" excluded)."""
    return tuple(v for v in params.variants if v != "orig" and v in extractor.query_variant_names)


def collect_hits(lib: Library, query: ExtractedVideo, params: SearchParams) -> Hits:
    """kNN-search every query descriptor and keep the best similarity per
    (video, flipped, query frame, reference frame)."""
    index = lib.index
    parts = []
    ext = lib.config.extractor()
    for flipped, qi, codes in _descriptor_rows(query, usable_variants(ext, params), ext.min_quality):
        if len(codes) == 0:
            continue
        dist, keys = index.search(ext.index_vectors(codes), min(params.k, max(1, len(index))))
        if index.metric == "hamming":
            ok = (keys >= 0) & (dist <= params.max_distance)
            sim_all = 1.0 - dist / params.sim_scale
        else:
            ok = (keys >= 0) & (dist >= params.min_sim)
            sim_all = dist
        rows, cols = np.nonzero(ok)
        vid, ri = split_keys(keys[rows, cols])
        sim = np.clip(sim_all[rows, cols], 0.0, 1.0).astype(np.float32)
        parts.append((vid, np.full(len(vid), flipped), qi[rows], ri, sim))
    if not parts:
        e = np.zeros(0, np.int64)
        return Hits(e, np.zeros(0, bool), e, e, np.zeros(0, np.float32))
    vid, flp, qi, ri, sim = (np.concatenate(x) for x in zip(*parts))
    # Keep the maximum similarity per (video, flipped, qi, ri): sort by key then by -sim.
    order = np.lexsort((-sim, ri, qi, flp, vid))
    vid, flp, qi, ri, sim = vid[order], flp[order], qi[order], ri[order], sim[order]
    first = np.ones(len(vid), dtype=bool)
    first[1:] = (vid[1:] != vid[:-1]) | (flp[1:] != flp[:-1]) | (qi[1:] != qi[:-1]) | (ri[1:] != ri[:-1])
    return Hits(vid[first], flp[first], qi[first], ri[first], sim[first])


def shortlist(hits: Hits, max_candidates: int) -> list[tuple[int, bool, np.ndarray]]:
    """Rank (video, flipped) groups by support -- the sum over query frames of
    the best similarity -- and return the top ones with their hit indices."""
    if len(hits.video) == 0:
        return []
    group = hits.video * 2 + hits.flipped.astype(np.int64)
    uniq, inv = np.unique(group, return_inverse=True)
    # best similarity per (group, query frame)
    gq = inv.astype(np.int64) * (int(hits.qi.max()) + 1) + hits.qi
    order = np.lexsort((-hits.sim, gq))
    firsts = np.ones(len(order), dtype=bool)
    firsts[1:] = gq[order][1:] != gq[order][:-1]
    best = order[firsts]
    support = np.bincount(inv[best], weights=hits.sim[best], minlength=len(uniq))
    top = np.argsort(-support, kind="stable")[:max_candidates]
    out = []
    for g in top:
        members = np.nonzero(inv == g)[0]
        out.append((int(uniq[g] // 2), bool(uniq[g] % 2), members))
    return out


def search_extracted(lib: Library, query: ExtractedVideo, params: SearchParams | None = None) -> QueryResult:
    """Find every indexed video holding a copy of some of the query's footage."""
    from vidtrace.align import get_aligner

    params = params or SearchParams()
    aligner = get_aligner(params.aligner, **params.aligner_params)
    scorer = None
    if params.scorer:
        from vidtrace.rescore import get_scorer

        scorer = get_scorer(params.scorer, **params.scorer_params)
    hits = collect_hits(lib, query, params)
    qtimes = query.features.timestamps
    per_video: dict[int, list] = {}
    pair_score: dict[int, float] = {}
    # A learned comparator sees sequences as it was trained: at the library's
    # sampling rate on both sides (the query is sampled denser for the kNN search).
    scorer_rows, blend = None, None
    if scorer is not None:
        blend = params.scorer_blend or scorer.blend
        scorer_rows = sample_times(qtimes, lib.config.fps) if scorer.same_rate else np.arange(len(qtimes))
    for vid, flipped, members in shortlist(hits, params.max_candidates):
        if scorer is not None:
            qf = query.features
            desc = query.variants["flip"] if flipped else qf.descriptors
            qfeats = FrameFeatures(qf.name, qf.kind, qf.timestamps[scorer_rows], qf.quality[scorer_rows],
                                   desc[scorer_rows])
            score, refined = scorer.score(qfeats, lib.frame_features(vid))
            pair_score[vid] = max(pair_score.get(vid, 0.0), score)
        if scorer is not None and params.scorer_map:
            smap = replace(refined, flipped=flipped)
        else:
            rtimes = lib.frame_times(vid)
            smap = SimilarityMap(qtimes, rtimes, hits.qi[members], hits.ri[members], hits.sim[members], flipped)
        segs = aligner.align(smap)
        if scorer is not None:
            segs = [replace(s, score=float(np.sqrt(s.score * (
                score if blend == "pair" else window_score(refined, s))))) for s in segs]
        if flipped:
            segs = [_as_flipped(s) for s in segs]
        per_video.setdefault(vid, []).extend(segs)
    merged = [(vid, s) for vid, segs in per_video.items() for s in merge_segments(segs)]
    per_video = {}
    for (vid, _), s in zip(merged, suppress_across_references(merged, params.cross_suppress)):
        per_video.setdefault(vid, []).append(s)
    matches = []
    for vid, segs in per_video.items():
        segs = [s for s in segs if s.score >= params.min_score]
        if not segs:
            continue
        rec = lib.video(vid)
        if rec is None:
            continue
        score = pair_score.get(vid, video_score(segs))
        matches.append(Match(rec.path, vid, score, tuple(segs)))
    matches.sort(key=lambda m: (-m.score, m.reference_id))
    return QueryResult(query.info.path, query.info.duration, tuple(matches))


def window_score(smap: SimilarityMap, seg) -> float:
    """Scorer similarity inside one segment's box: the mean over the query
    frames in [query_start, query_end) of their best similarity at reference
    times in [reference_start, reference_end) (0 for rows with none)."""
    rows = np.nonzero((smap.query_times >= seg.query_start) & (smap.query_times < seg.query_end))[0]
    if len(rows) == 0:
        return 0.0
    qt, rt = smap.query_times[smap.qi], smap.ref_times[smap.ri]
    inside = (qt >= seg.query_start) & (qt < seg.query_end) & (rt >= seg.reference_start) & (rt < seg.reference_end)
    best = np.zeros(len(smap.query_times), dtype=np.float64)
    np.maximum.at(best, smap.qi[inside], smap.sim[inside])
    return float(np.clip(best[rows].mean(), 0.0, 1.0))


def _as_flipped(seg):
    return replace(seg, flipped=True)


def search_file(lib: Library, path: str | os.PathLike, params: SearchParams | None = None) -> QueryResult:
    """Decode and describe `path` with the library's configuration, then search."""
    params = params or SearchParams()
    opts = lib.config.decode_options()
    if params.query_fps:
        opts = replace(opts, fps=max(params.query_fps, opts.fps))
    ext = lib.config.extractor()
    query = extract_video(path, ext, opts, variants=usable_variants(ext, params))
    return search_extracted(lib, query, params)

