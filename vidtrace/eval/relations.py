"""Check a library's answers against a list of known copy relations.

Relations come in the shared corpus's ``ground_truth.csv`` form: one row per
(query file, reference file) with the copied query and reference intervals in
seconds and a time mapping ("reversed" in it marks a time-reversed copy). A
relation is *found* when the query's answer has a segment on that reference
whose temporal IoU with the truth is at least `min_iou` on both axes (and,
for reversed copies, which is flagged reversed).
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from vidtrace.types import QueryResult, Segment


@dataclass(frozen=True)
class Relation:
    """A known copy: query [query_start, query_end) <-> reference
    [ref_start, ref_end), seconds; reversed: the reference runs backwards."""

    query: str
    reference: str
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    reversed: bool = False
    note: str = ""


@dataclass(frozen=True)
class RelationOutcome:
    relation: Relation
    found: bool
    iou_query: float
    iou_ref: float
    segment: Segment | None
    score: float


def temporal_iou(a0: float, a1: float, b0: float, b1: float) -> float:
    """IoU of two intervals: |[a0,a1) ∩ [b0,b1)| / |[a0,a1) ∪ [b0,b1)| (seconds / seconds)."""
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = max(a1, b1) - min(a0, b0)
    return inter / union if union > 0 else 0.0


def read_relations(path: str | os.PathLike) -> list[Relation]:
    """Read ground_truth.csv (columns query, reference, query_start_s, query_end_s,
    ref_start_s, ref_end_s, time_mapping, transforms)."""
    out = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            rs, re_ = float(r["ref_start_s"]), float(r["ref_end_s"])
            out.append(Relation(r["query"], r["reference"], float(r["query_start_s"]), float(r["query_end_s"]),
                                min(rs, re_), max(rs, re_), "revers" in r.get("time_mapping", ""),
                                r.get("transforms", "")))
    return out


def judge(rel: Relation, result: QueryResult, min_iou: float = 0.8) -> RelationOutcome:
    """Best segment of `result` on rel.reference, and whether it passes."""
    best: tuple[float, Segment | None, float, float, float] = (-1.0, None, 0.0, 0.0, 0.0)
    for m in result.matches:
        if Path(m.reference).name != rel.reference:
            continue
        for s in m.segments:
            iq = temporal_iou(s.query_start, s.query_end, rel.query_start, rel.query_end)
            ir = temporal_iou(s.reference_start, s.reference_end, rel.ref_start, rel.ref_end)
            if rel.reversed != s.reversed:
                iq = ir = 0.0
            if min(iq, ir) > best[0]:
                best = (min(iq, ir), s, iq, ir, m.score)
    _, seg, iq, ir, score = best
    return RelationOutcome(rel, seg is not None and min(iq, ir) >= min_iou, iq, ir, seg, score)


def unexpected_matches(results: dict[str, QueryResult], groups: Sequence[Iterable[str]]) -> list[tuple[str, str]]:
    """(query, reference) pairs that matched although `groups` says they must
    not: every two files of one group that are not the same file."""
    bad = []
    for group in groups:
        names = set(group)
        for q in names:
            res = results.get(q)
            if res is None:
                continue
            for m in res.matches:
                ref = Path(m.reference).name
                if ref in names and ref != q:
                    bad.append((q, ref))
    return bad


def query_all(lib, video_dir: Path, names: Iterable[str], params) -> tuple[dict[str, QueryResult], dict[str, float]]:
    """Query each file name in `video_dir`; returns results and wall seconds per query."""
    from vidtrace.search import search_file

    results, seconds = {}, {}
    for name in sorted(set(names)):
        t0 = time.perf_counter()
        results[name] = search_file(lib, str(video_dir / name), params)
        seconds[name] = time.perf_counter() - t0
    return results, seconds
