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
