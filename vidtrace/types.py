"""Small typed objects passed between pipeline stages.

Every time a user can see is in seconds (float). Arrays are numpy arrays whose
shapes, dtypes and units are given in each docstring. Objects are treated as
immutable: stages build new arrays instead of mutating the ones they receive.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video stream.

    path: the file as given; width/height: display size in pixels after
    applying rotation metadata; fps: average frame rate (frames per second,
    0.0 when unknown); duration: seconds (estimated from the container, or
    from the last frame when the container has none; 0.0 when unknown);
    rotation: clockwise display rotation in degrees (0, 90, 180, 270);
    codec / container: FFmpeg names.
    """

    path: str
    width: int
    height: int
    fps: float
    duration: float
    rotation: int
    codec: str
    container: str


@dataclass(frozen=True)
class Clip:
    """Decoded frames of (part of) a video.

    frames: uint8 [T, H, W, 3] RGB; timestamps: float64 [T], presentation
    time of each frame in seconds, non-decreasing.
    """

    frames: np.ndarray
    timestamps: np.ndarray

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise ValueError(f"Clip.frames must be [T, H, W, 3], got {self.frames.shape}")
        if self.frames.shape[0] != len(self.timestamps):
            raise ValueError("Clip.frames and Clip.timestamps differ in length")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one (last step repeated)."""
        if len(self) == 0:
            return 0.0
        if len(self) == 1:
            return 0.0
        step = float(np.median(np.diff(self.timestamps)))
        return float(self.timestamps[-1] - self.timestamps[0] + step)


@dataclass(frozen=True)
class FrameFeatures:
    """Per-frame descriptors of one video.

    timestamps: float64 [N] seconds; quality: int16 [N] in 0..100 (PDQ-style
    quality; frames below the extractor's threshold are kept here but not
    searched); descriptors: [N, D] -- uint8 [N, D/8] packed bits for binary
    features (PDQ: [N, 32]), float32 [N, D] L2-normalised for float features.
    kind: "binary" or "float"; name: the extractor that made them.
    thumbs: optional uint8 [N, s, s] grey thumbnails of the same frames (made
    only when a keyframe selector needs them, e.g. "ske"; never stored).
    """

    name: str
    kind: str
    timestamps: np.ndarray
    quality: np.ndarray
    descriptors: np.ndarray
    thumbs: np.ndarray | None = None

    def __len__(self) -> int:
        return int(len(self.timestamps))


@dataclass(frozen=True)
class Segment:
    """One copied segment: query [query_start, query_end) <-> reference
    [reference_start, reference_end), all in seconds with start < end on both
    axes. reversed: the reference plays backwards relative to the query.
    score: calibrated confidence in [0, 1].
    """

    query_start: float
    query_end: float
    reference_start: float
    reference_end: float
    score: float
    reversed: bool = False
    flipped: bool = False

    def to_json(self) -> dict:
        out = {
            "query_start": round(self.query_start, 3),
            "query_end": round(self.query_end, 3),
            "reference_start": round(self.reference_start, 3),
            "reference_end": round(self.reference_end, 3),
            "score": round(self.score, 4),
        }
        if self.reversed:
            out["reversed"] = True
        if self.flipped:
            out["flipped"] = True
        return out


@dataclass(frozen=True)
class Match:
    """All segments found between a query and one indexed reference.

    score: video-level calibrated score in [0, 1] (the best segment's score).
    """

    reference: str
    reference_id: int
    score: float
    segments: tuple[Segment, ...]

    def to_json(self) -> dict:
        return {
            "reference": self.reference,
            "reference_id": self.reference_id,
            "score": round(self.score, 4),
            "segments": [s.to_json() for s in self.segments],
        }


@dataclass(frozen=True)
class QueryResult:
    """Answer to one query video; matches sorted by score, best first."""

    query: str
    duration: float
    matches: tuple[Match, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "duration": round(self.duration, 3),
            "matches": [m.to_json() for m in self.matches],
        }


@dataclass(frozen=True)
class MatchRow:
    """One row of the VSC2022 matching-track CSV format (times in seconds).

    score is None for ground-truth files, which have no score column.
    """

    query_id: str
    ref_id: str
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    score: float | None = None


_ROW_FIELDS = [f.name for f in fields(MatchRow)]


def write_match_csv(rows: Iterable[MatchRow], path: str | Path | None = None, *, with_score: bool = True) -> str:
    """Write rows as VSC2022 CSV (header included); returns the text, and
    writes it to `path` when given."""
    buf = io.StringIO()
    cols = _ROW_FIELDS if with_score else _ROW_FIELDS[:-1]
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for r in rows:
        vals = [r.query_id, r.ref_id] + [f"{v:.3f}" for v in (r.query_start, r.query_end, r.ref_start, r.ref_end)]
        if with_score:
            vals.append("" if r.score is None else f"{r.score:.6f}")
        writer.writerow(vals)
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text)
    return text


def read_match_csv(path: str | Path) -> list[MatchRow]:
    """Read a VSC2022 matching CSV (with or without a score column)."""
    rows: list[MatchRow] = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(_ROW_FIELDS[:-1]) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: not a VSC2022 matching CSV (missing columns: {', '.join(sorted(missing))})")
        for rec in reader:
            score = rec.get("score")
            rows.append(
                MatchRow(
                    query_id=rec["query_id"],
                    ref_id=rec["ref_id"],
                    query_start=float(rec["query_start"]),
                    query_end=float(rec["query_end"]),
                    ref_start=float(rec["ref_start"]),
                    ref_end=float(rec["ref_end"]),
                    score=float(score) if score not in (None, "") else None,
                )
            )
    return rows


def rows_from_results(results: Sequence[QueryResult], query_ids: Sequence[str], ref_id_of=None) -> list[MatchRow]:
    """Flatten query results into VSC2022 rows; query ids given by the caller,
    reference ids derived from the reference path stem unless `ref_id_of` maps
    a Match to an id."""
    rows: list[MatchRow] = []
    for res, qid in zip(results, query_ids):
        for m in res.matches:
            rid = ref_id_of(m) if ref_id_of else Path(m.reference).stem
            for s in m.segments:
                rows.append(MatchRow(qid, rid, s.query_start, s.query_end, s.reference_start, s.reference_end, s.score))
    return rows


@dataclass(frozen=True)
class SimilarityMap:
    """Sparse (or dense) frame-to-frame similarity between a query and a reference.

    query_times: float64 [Nq] seconds of the query's sampled frames;
    ref_times: float64 [Nr] seconds of the reference's sampled frames;
    qi, ri: int64 [K] indices into query_times / ref_times of the known
    entries; sim: float32 [K] similarity of each entry in [0, 1] (1 =
    identical). Entries that are absent count as similarity 0. An (qi, ri)
    pair appears at most once. flipped: the entries come from the mirrored
    query (so every segment found on this map is a mirrored copy).
    """

    query_times: np.ndarray
    ref_times: np.ndarray
    qi: np.ndarray
    ri: np.ndarray
    sim: np.ndarray
    flipped: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return (int(len(self.query_times)), int(len(self.ref_times)))

    def dense(self) -> np.ndarray:
        """float32 [Nq, Nr] matrix with 0 where no entry is known."""
        out = np.zeros(self.shape, dtype=np.float32)
        out[self.qi, self.ri] = self.sim
        return out

    @classmethod
    def from_dense(cls, matrix: np.ndarray, query_times: np.ndarray, ref_times: np.ndarray,
                   threshold: float = 0.0, flipped: bool = False) -> "SimilarityMap":
        """Keep the entries of a dense [Nq, Nr] matrix strictly above `threshold`."""
        m = np.asarray(matrix, dtype=np.float32)
        qi, ri = np.nonzero(m > threshold)
        return cls(np.asarray(query_times, dtype=np.float64), np.asarray(ref_times, dtype=np.float64),
                   qi.astype(np.int64), ri.astype(np.int64), m[qi, ri].astype(np.float32), flipped)
