"""One-to-one comparison of two videos, without a library (dense similarity maps)."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from vidtrace.pipeline import ExtractedVideo, extract_video
from vidtrace.scoring import merge_segments, video_score
from vidtrace.types import Match, QueryResult, SimilarityMap


def dense_maps(a: ExtractedVideo, b: ExtractedVideo, extractor, params) -> list[SimilarityMap]:
    """Similarity maps of query `a` against reference `b`: one for the frames
    as they are (with crop variants folded in by maximum) and one for the
    mirrored query when "flip" is among the variants."""
    from vidtrace.search import usable_variants

    good_a = a.features.quality >= extractor.min_quality
    good_b = b.features.quality >= extractor.min_quality
    ref = b.features.descriptors
    floor = 1.0 - params.max_distance / params.sim_scale if extractor.kind == "binary" else params.min_sim

    def sim_of(codes: np.ndarray) -> np.ndarray:
        s = extractor.similarity(codes, ref)
        s[s < floor] = 0.0
        s[~good_a] = 0.0
        s[:, ~good_b] = 0.0
        return s

    plain = sim_of(a.features.descriptors)
    variants = usable_variants(extractor, params)
    for name in variants:
        if name == "flip":
            continue
        codes = a.variants[name]
        if codes.ndim == 3 and extractor.kind == "binary":  # several crops per frame
            for c in range(codes.shape[1]):
                plain = np.maximum(plain, sim_of(codes[:, c]))
        else:
            plain = np.maximum(plain, sim_of(codes))
    qt, rt = a.features.timestamps, b.features.timestamps
    maps = [SimilarityMap.from_dense(plain, qt, rt)]
    if "flip" in variants:
        maps.append(SimilarityMap.from_dense(sim_of(a.variants["flip"]), qt, rt, flipped=True))
    return maps


def compare_files(path_a: str | os.PathLike, path_b: str | os.PathLike, config, params) -> QueryResult:
    """Where does query `path_a` copy footage of reference `path_b`?"""
    from vidtrace.align import get_aligner

    from vidtrace.search import usable_variants

    extractor = config.extractor()
    opts = config.decode_options()
    qopts = replace(opts, fps=max(params.query_fps, opts.fps)) if params.query_fps else opts
    a = extract_video(path_a, extractor, qopts, variants=usable_variants(extractor, params))
    b = extract_video(path_b, extractor, opts)
    aligner = get_aligner(params.aligner, **params.aligner_params)
    segs = []
    for smap in dense_maps(a, b, extractor, params):
        found = aligner.align(smap)
        segs.extend(replace(s, flipped=True) for s in found) if smap.flipped else segs.extend(found)
    segs = [s for s in merge_segments(segs) if s.score >= params.min_score]
    matches = (Match(os.path.abspath(str(path_b)), 0, video_score(segs), tuple(segs)),) if segs else ()
    return QueryResult(a.info.path, a.info.duration, matches)
