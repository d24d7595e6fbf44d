"""ViSiL-style similarity: memory and time of blockwise Chamfer, and pair-level uAP of the scorers.

Two parts:

``memory``: frame-to-frame region Chamfer similarity of one long query
against one long reference (random unit region vectors), computed blockwise
(vidtrace.similarity). Reports wall time, the peak of Python-heap
allocations during the call (tracemalloc: numpy arrays are traced) and the
growth of the process's peak RSS, for the dense [Tq, Tr] output, the
streaming video-level score and the streaming top-k SimilarityMap::

    python benchmarks/bench_visil.py memory                 # 7200 x 7200 frames, R=10, D=64 and 512
    python benchmarks/bench_visil.py memory --frames 2000   # quicker

``eval``: pair-level micro AP (vidtrace.eval.metrics.pair_ap) on a
benchmark made by ``vidtrace bench make`` (DIR with refs.txt, queries/,
ground_truth.csv): every query is scored against every reference by
(a) Chamfer on one global descriptor per frame (PDQ hashes; the whole-frame
DCT region alone), (b) Chamfer on the 10 region descriptors, (c) the
trained comparator ("visil" scorer, onnxruntime)::

    python benchmarks/bench_visil.py eval BENCH_DIR [--fps 2]
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=np.float32)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x


_CASES = ("dense [Tq,Tr]", "video score", "top-10 map")


def memory_case(args) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    import json

    from vidtrace.similarity import (
        chamfer_frame_similarity,
        chamfer_video_similarity,
        similarity_map,
    )

    rng = np.random.default_rng(0)
    t, d = args.frames, args.dim
    q = _unit(rng, (t, args.regions, d))
    r = _unit(rng, (t, args.regions, d))
    times = np.arange(t, dtype=np.float64)
    fn = {
        "dense [Tq,Tr]": lambda: chamfer_frame_similarity(q, r, block=args.block),
        "video score": lambda: chamfer_video_similarity(q, r, block=args.block),
        "top-10 map": lambda: similarity_map(q, r, times, times, top_k=10, block=args.block),
    }[args.case]
    rss0 = _peak_rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    fn()
    secs = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"seconds": secs, "traced_mb": peak / 2**20, "rss_before_mb": rss0,
                      "rss_peak_mb": _peak_rss_mb(), "inputs_mb": (q.nbytes + r.nbytes) / 2**20}))


def memory(args) -> None:
    """Every (dims, output) case in its own process, so that peak RSS is per case."""
    import json
    import subprocess

    rows = []
    for d in args.dims:
        for case in _CASES:
            cmd = [sys.executable, __file__, "memory-case", "--frames", str(args.frames), "--regions",
                   str(args.regions), "--dim", str(d), "--block", str(args.block), "--case", case]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            rows.append((d, case, res))
            print(f"  done: D={d} {case} {res['seconds']:.1f} s", file=sys.stderr, flush=True)
    t = args.frames
    naive = t * t * args.regions * args.regions * 4 / 2**30
    print(f"\n{t} x {t} frames, R = {args.regions}, block {args.block} frames; a naive [Tq, Tr, R, R] float32 "
          f"tensor would take {naive:.1f} GiB\n")
    print("| D | output | seconds | traced peak (MiB) | process peak RSS (MiB) | of which inputs (MiB) |")
    print("|---:|---|---:|---:|---:|---:|")
    for d, case, res in rows:
        print(f"| {d} | {case} | {res['seconds']:.1f} | {res['traced_mb']:.0f} | {res['rss_peak_mb']:.0f} | "
              f"{res['inputs_mb']:.0f} |")


# --------------------------------------------------------------------------- uAP on a benchmark


def _features(path: str, extractors: dict, fps: float, max_size: int) -> dict:
    from vidtrace.decode import DecodeOptions, iter_frames
    from vidtrace.types import FrameFeatures

    frames, times = [], []
    for f in iter_frames(path, DecodeOptions(fps=fps, max_size=max_size, strict=False)):
        frames.append(f.rgb)
        times.append(f.timestamp)
    out = {}
    for name, ext in extractors.items():
        desc, quality = ext.extract(frames)
        out[name] = FrameFeatures(ext.name, ext.kind, np.asarray(times), quality, desc)
    return out


def _whole_frame(feats):
    from vidtrace.features.regions import as_regions
    from vidtrace.types import FrameFeatures

    desc = as_regions(feats.descriptors, 10)[:, 0]
    return FrameFeatures("regions-whole", "float", feats.timestamps, feats.quality, np.ascontiguousarray(desc))


def _load_cache(path: str | None) -> dict:
    """{video stem: {extractor: FrameFeatures}} from a cache written by _save_cache."""
    from vidtrace.types import FrameFeatures

    if not path or not Path(path).exists():
        return {}
    out: dict = {}
    with np.load(path) as data:
        for key in data.files:
            stem, ext, fld = key.split("|")
            out.setdefault(stem, {}).setdefault(ext, {})[fld] = data[key]
    kinds = {"pdq": "binary", "regions": "float"}
    return {stem: {ext: FrameFeatures(ext, kinds[ext], v["t"], v["q"], v["d"]) for ext, v in exts.items()}
            for stem, exts in out.items()}


def _save_cache(path: str, feats: dict) -> None:
    arrays = {}
    for stem, exts in feats.items():
        for ext, f in exts.items():
            arrays[f"{stem}|{ext}|t"], arrays[f"{stem}|{ext}|q"], arrays[f"{stem}|{ext}|d"] = \
                f.timestamps, f.quality, f.descriptors
    np.savez(path, **arrays)


def evaluate(args) -> None:
    from vidtrace.eval.metrics import pair_ap
    from vidtrace.features.pdq import PDQExtractor
    from vidtrace.features.regions import RegionExtractor
    from vidtrace.rescore import get_scorer

    bench = Path(args.bench)
    refs = [ln.strip() for ln in (bench / "refs.txt").read_text().splitlines() if ln.strip()]
    refs = [str(bench / r) if not Path(r).is_absolute() else r for r in refs]
    queries = sorted(str(p) for p in (bench / "queries").iterdir() if p.suffix in (".mp4", ".mkv", ".webm"))
    with open(bench / "ground_truth.csv", newline="") as fh:
        gt = {(row["query_id"], row["ref_id"]) for row in csv.DictReader(fh)}
    extractors = {"pdq": PDQExtractor(), "regions": RegionExtractor()}
    t0 = time.time()
    cached = _load_cache(args.cache)
    ref_f = {Path(p).stem: cached.get(Path(p).stem) or _features(p, extractors, args.fps, args.max_size)
             for p in refs}
    q_f = {Path(p).stem: cached.get(Path(p).stem) or _features(p, extractors, args.fps, args.max_size)
           for p in queries}
    if args.cache:
        _save_cache(args.cache, {**ref_f, **q_f})
    print(f"features of {len(ref_f)} references and {len(q_f)} queries in {time.time() - t0:.0f} s", file=sys.stderr)
    methods = {
        "(a) chamfer, PDQ per frame": ("pdq", lambda f: f, get_scorer("chamfer", min_quality=args.pdq_quality)),
        "(a) chamfer, whole-frame DCT": ("regions", _whole_frame, get_scorer("chamfer", regions=1)),
        "(b) chamfer, 10 DCT regions": ("regions", lambda f: f, get_scorer("chamfer")),
        "(b) chamfer sym, 10 regions": ("regions", lambda f: f, get_scorer("chamfer", symmetric=True)),
    }
    if not args.no_visil:
        methods["(c) visil comparator"] = ("regions", lambda f: f, get_scorer("visil", weights=args.weights))
    positives = sum(1 for q, _ in gt if q in q_f)
    print(f"\n{len(q_f)} queries x {len(ref_f)} references = {len(q_f) * len(ref_f)} pairs, {positives} positive\n")
    print("| method | pair uAP | seconds |")
    print("|---|---:|---:|")
    for label, (feat, view, scorer) in methods.items():
        t0 = time.time()
        scores = {(qid, rid): scorer.score(view(qf[feat]), view(rf[feat]))[0]
                  for qid, qf in q_f.items() for rid, rf in ref_f.items()}
        ap = pair_ap(gt, scores).ap
        print(f"| {label} | {100 * ap:.1f} | {time.time() - t0:.1f} |", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory", help="peak memory and time of blockwise Chamfer on a long pair")
    m.add_argument("--frames", type=int, default=7200, help="frames of query and reference (default 7200)")
    m.add_argument("--regions", type=int, default=10)
    m.add_argument("--dims", type=int, nargs="+", default=[64, 512])
    m.add_argument("--block", type=int, default=256)
    m.set_defaults(func=memory)
    c = sub.add_parser("memory-case")  # internal: one measurement in a fresh process
    c.add_argument("--frames", type=int, required=True)
    c.add_argument("--regions", type=int, required=True)
    c.add_argument("--dim", type=int, required=True)
    c.add_argument("--block", type=int, required=True)
    c.add_argument("--case", choices=_CASES, required=True)
    c.set_defaults(func=memory_case)
    e = sub.add_parser("eval", help="pair-level uAP of the scorers on a 'vidtrace bench make' folder")
    e.add_argument("bench")
    e.add_argument("--fps", type=float, default=2.0)
    e.add_argument("--max-size", type=int, default=256)
    e.add_argument("--pdq-quality", type=int, default=50, help="PDQ frames below this quality are ignored")
    e.add_argument("--weights", default=None, help="comparator.json (default: the shipped comparator)")
    e.add_argument("--no-visil", action="store_true", help="leave out the comparator")
    e.add_argument("--cache", help="npz file caching the frame features between runs")
    e.set_defaults(func=evaluate)
    args = parser.parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
