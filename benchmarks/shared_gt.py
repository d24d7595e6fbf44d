"""Accuracy on the shared corpus's verified copy relations.

Indexes every video of ../shared/data/videos (or --videos DIR), queries every
query file of ground_truth.csv, and prints, per relation, the best segment's
temporal IoU on both axes; then the must-not-match check of MANIFEST.md
section 2.4 and a flipped copy made on the fly.

    python benchmarks/shared_gt.py [--videos DIR] [--db DIR] [--aligner tn] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = REPO.parent / "shared" / "data" / "videos"

# MANIFEST.md section 2.4: excerpts of the same film that share no footage.
MUST_NOT_MATCH = [["big_buck_bunny_0_30.webm", "bigbuckbunny.mp4", "video-1080p-60fps-2s.mp4",
                   "big_buck_bunny_432_433.webm"],
                  ["big_buck_bunny_0_30.webm", "luma.mp4", "video-1080p-60fps-2s.mp4", "big_buck_bunny_432_433.webm"]]
FLIP_SOURCE = "elf.mp4"


def make_flipped_copy(src: Path, out_dir: Path) -> Path:
    """A horizontally mirrored, re-encoded copy of `src` (first 6 s)."""
    import numpy as np

    from vidtrace.decode import DecodeOptions, iter_frames
    from vidtrace.types import Clip
    from vidtrace.videoio import write_video

    frames, times = [], []
    for f in iter_frames(src, DecodeOptions(fps=None, max_size=480)):
        if f.timestamp >= 6.0:
            break
        frames.append(f.rgb[:, ::-1])
        times.append(f.timestamp)
    out = out_dir / f"flipped-{src.stem}.mp4"
    write_video(out, Clip(np.stack(frames), np.array(times)), fps=30)
    return out


def main(argv=None) -> int:
    from vidtrace.eval.relations import judge, query_all, read_relations, unexpected_matches
    from vidtrace.library import Library
    from vidtrace.search import SearchParams, search_file

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    ap.add_argument("--db", type=Path, default=None, help="library dir (default: a temporary one)")
    ap.add_argument("--aligner", default="tn")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.videos / "ground_truth.csv").exists():
        print(f"{args.videos}: no ground_truth.csv; nothing to measure", file=sys.stderr)
        return 2
    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "lib"
    t0 = time.perf_counter()
    with Library.open(db, writable=True, create=True) as lib:
        lib.index_files([str(p) for p in sorted(args.videos.iterdir()) if p.suffix.lower() in
                         {".mp4", ".webm", ".mkv", ".avi", ".gif"}])
    t_index = time.perf_counter() - t0
    params = SearchParams(aligner=args.aligner)
    rels = read_relations(args.videos / "ground_truth.csv")
    lib = Library.open(db)
    names = {r.query for r in rels} | {n for g in MUST_NOT_MATCH for n in g}
    results, seconds = query_all(lib, args.videos, names, params)
    outcomes = [judge(r, results[r.query]) for r in rels]
    print(f"{'query':38s} {'reference':28s} {'IoU q':>6s} {'IoU r':>6s} {'score':>6s}  found")
    for o in outcomes:
        print(f"{o.relation.query[:38]:38s} {o.relation.reference[:28]:28s} {o.iou_query:6.2f} {o.iou_ref:6.2f} "
              f"{o.score:6.3f}  {'yes' if o.found else 'NO'}")
    bad = unexpected_matches(results, MUST_NOT_MATCH)
    flip_dir = Path(tmp.name) / "flip"
    flip_dir.mkdir()
    flipped = make_flipped_copy(args.videos / FLIP_SOURCE, flip_dir)
    fres = search_file(lib, str(flipped), params)
    flip_found = any(Path(m.reference).name == FLIP_SOURCE and any(s.flipped for s in m.segments)
                     for m in fres.matches)
    lib.close()
    n_found = sum(o.found for o in outcomes)
    lat = sorted(seconds.values())
    print(f"\nrelations found: {n_found}/{len(outcomes)} (IoU >= 0.8 on both axes)")
    print(f"must-not-match violations: {len(bad)} {bad if bad else ''}")
    print(f"flipped copy of {FLIP_SOURCE} found as flipped: {'yes' if flip_found else 'NO'}")
    print(f"indexing {t_index:.1f} s; query latency median {lat[len(lat) // 2]:.2f} s, max {lat[-1]:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "found": n_found, "relations": len(outcomes), "must_not_match_violations": bad,
            "flip_found": flip_found, "index_seconds": t_index,
            "outcomes": [{"query": o.relation.query, "reference": o.relation.reference, "iou_query": o.iou_query,
                          "iou_ref": o.iou_ref, "score": o.score, "found": o.found} for o in outcomes]}, indent=2))
    ok = n_found == len(outcomes) and not bad and flip_found
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
