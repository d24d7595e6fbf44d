"""Scoring: merge overlapping segments and turn segment scores into a video score."""

from __future__ import annotations

from typing import Sequence

from vidtrace.types import Segment


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def segment_iou_2d(a: Segment, b: Segment) -> float:
    """Box IoU of two segments in the (query time, reference time) plane.

    IoU = |A ∩ B| / (|A| + |B| - |A ∩ B|), areas in seconds².
    """
    inter = _overlap(a.query_start, a.query_end, b.query_start, b.query_end) * \
        _overlap(a.reference_start, a.reference_end, b.reference_start, b.reference_end)
    area = lambda s: (s.query_end - s.query_start) * (s.reference_end - s.reference_start)  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def merge_segments(segments: Sequence[Segment], iou: float = 0.3) -> list[Segment]:
    """Greedy non-maximum suppression: keep the best-scoring segment of every
    group whose boxes overlap with IoU >= `iou`; result sorted by query start."""
    kept: list[Segment] = []
    for s in sorted(segments, key=lambda s: -s.score):
        if all(segment_iou_2d(s, k) < iou for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: (s.query_start, s.reference_start))


def video_score(segments: Sequence[Segment]) -> float:
    """Video-level score = the best segment's score (0 when there is none)."""
    return max((s.score for s in segments), default=0.0)


def suppress_across_references(segments: Sequence[tuple[object, Segment]], factor: float,
                               min_overlap: float = 0.5) -> list[Segment]:
    """Cross-reference suppression for one query.

    segments: (reference key, Segment) pairs of every reference matched by
    the query. Visiting them by descending score, a segment whose query
    interval lies, for at least `min_overlap` of its own length, inside the
    query interval of a kept, higher-scored segment of another reference has
    its score multiplied by `factor` (0 <= factor <= 1; 1 changes nothing):
    one moment of the query is rarely a copy of two different references, so
    the weaker claim is most likely a look-alike (same room, same studio).
    Returns the segments in input order; nothing is dropped.
    """
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"factor must be within 0..1, got {factor}")
    out = [s for _, s in segments]
    if factor == 1.0:
        return out
    kept: list[tuple[object, Segment]] = []
    for i in sorted(range(len(out)), key=lambda i: -out[i].score):
        ref, s = segments[i]
        length = max(s.query_end - s.query_start, 1e-9)
        if any(r != ref and _overlap(s.query_start, s.query_end, k.query_start, k.query_end) >= min_overlap * length
               for r, k in kept):
            out[i] = Segment(s.query_start, s.query_end, s.reference_start, s.reference_end, s.score * factor,
                             s.reversed, s.flipped)
        else:
            kept.append((ref, s))
    return out
