"""Engine speed and size: decode-only vs indexing throughput, query latency, bytes per frame.

Corpora:
- "shared": every video of ../shared/data/videos (77 short real clips);
- "long720p": one long 1280x720 H.264 file made by looping the shared
  Big Buck Bunny 720p excerpt (``--long-minutes``, default 5), written to a
  temporary folder (never committed).

Speeds are given per CPU-second (user + system time of this process and its
children, so decoder threads count) and per wall-second. Prints a markdown
table; ``--json OUT`` keeps the numbers.

    python benchmarks/bench_engine.py [--corpus shared,long720p] [--long-minutes 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "videos"
EXTS = {".mp4", ".webm", ".mkv", ".avi", ".gif"}


def cpu_seconds() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Timer:
    def __enter__(self):
        self.w0, self.c0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w0
        self.cpu = cpu_seconds() - self.c0


def make_long_video(out: Path, minutes: float) -> Path:
    """Loop the shared 720p excerpt into one long H.264 file."""
    import numpy as np

    from vidtrace.decode import DecodeOptions, iter_frames
    from vidtrace.videoio import write_video

    src = SHARED / "big_buck_bunny_0_30.webm"
    frames = np.stack([f.rgb for f in iter_frames(src, DecodeOptions(fps=None, max_size=0))])
    n = int(minutes * 60 * 24)
    reps = (frames[i % len(frames)] for i in range(n))
    path = out / f"long-{minutes:g}min-720p.mp4"
    write_video(path, reps, fps=24.0, options={"preset": "ultrafast"})
    return path


def bench_corpus(name: str, files: list[str], workdir: Path) -> dict:
    from vidtrace.decode import decode_throughput_frames, probe
    from vidtrace.library import Library

    duration = sum(probe(f).duration for f in files)
    with Timer() as dec:
        frames = sum(decode_throughput_frames(f) for f in files)
    db = workdir / f"lib-{name}"
    with Timer() as idx:
        with Library.open(db, writable=True, create=True) as lib:
            res = lib.index_files(files, workers=1)
    assert all(r.status == "indexed" for r in res), [r for r in res if r.status != "indexed"]
    with Library.open(db) as lib:
        st = lib.stats()
    return {
        "corpus": name, "files": len(files), "video_s": duration, "decoded_frames": frames,
        "decode_cpu_s": dec.cpu, "decode_wall_s": dec.wall, "index_cpu_s": idx.cpu, "index_wall_s": idx.wall,
        "decode_vs_per_cpu_s": duration / dec.cpu, "index_vs_per_cpu_s": duration / idx.cpu,
        "index_vs_per_wall_s": duration / idx.wall, "fraction_of_decode": dec.cpu / idx.cpu,
        "stored_frames": st["frames"], "bytes": st["bytes"], "bytes_per_frame": st["bytes_per_frame"],
        "db": str(db),
    }


def bench_queries(db: str, queries: list[str]) -> dict:
    from vidtrace.library import Library
    from vidtrace.search import search_file

    lat = []
    with Library.open(db) as lib:
        lib.index  # load once, as a service would
        for q in queries:
            t0 = time.perf_counter()
            search_file(lib, q)
            lat.append(time.perf_counter() - t0)
    lat.sort()
    pick = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))]  # noqa: E731
    return {"queries": len(lat), "p50_s": pick(0.5), "p95_s": pick(0.95), "max_s": lat[-1]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="shared,long720p")
    ap.add_argument("--long-minutes", type=float, default=5.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"{SHARED} not present; nothing to measure", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in args.corpus.split(","):
            if name == "shared":
                files = sorted(str(p) for p in SHARED.iterdir() if p.suffix.lower() in EXTS)
                row = bench_corpus(name, files, work)
                import csv

                qs = sorted({r["query"] for r in csv.DictReader(open(SHARED / "ground_truth.csv"))})
                row.update(bench_queries(row["db"], [str(SHARED / q) for q in qs]))
            elif name == "long720p":
                path = make_long_video(work, args.long_minutes)
                row = bench_corpus(name, [str(path)], work)
                # a 20-second excerpt of the same footage as query
                row.update(bench_queries(row["db"], [str(SHARED / "example2.mp4"), str(SHARED / "bigbuckbunny.mp4")]))
            else:
                raise SystemExit(f"unknown corpus {name!r}")
            rows.append(row)
    hdr = ("| corpus | files | video s | decode-only video-s/CPU-s | indexing video-s/CPU-s | indexing video-s/wall-s "
           "| indexing / decode-only | query p50 s | query p95 s | bytes per stored frame |")
    print(hdr)
    print("|---" * 10 + "|")
    for r in rows:
        print(f"| {r['corpus']} | {r['files']} | {r['video_s']:.0f} | {r['decode_vs_per_cpu_s']:.1f} | "
              f"{r['index_vs_per_cpu_s']:.1f} | {r['index_vs_per_wall_s']:.1f} | {r['fraction_of_decode']:.2f} | "
              f"{r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['bytes_per_frame']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
