"""Command-line interface: ``vidtrace index|query|compare|list|remove|demo|eval``.

Errors a user can act on print one line naming the file and the problem (no
traceback) and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from vidtrace.errors import ConfigError, VidtraceError


# ---------------------------------------------------------------- helpers
class Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.done = total, 0
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.t0 = time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        frac = self.done / max(self.total, 1)
        bar = "#" * int(frac * 24)
        msg = f"[{bar:<24}] {self.done}/{self.total} {time.perf_counter() - self.t0:6.1f}s {label}"
        if self.tty:
            sys.stderr.write("\r" + msg[:120].ljust(120))
            if self.done == self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def _search_params(args):
    from vidtrace.search import SearchParams

    extra = {}
    if args.variants is not None:
        extra["variants"] = tuple(v for v in args.variants.split(",") if v)
    if args.query_fps is not None:
        extra["query_fps"] = args.query_fps
    return SearchParams(k=args.k, max_distance=args.max_distance, max_candidates=args.max_candidates,
                        aligner=args.aligner, min_score=args.min_score, scorer=args.scorer,
                        scorer_map=args.scorer_map, scorer_blend=args.scorer_blend,
                        cross_suppress=args.cross_suppress, **extra)


def _add_search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aligner", default="tn", help="temporal aligner: tn (default), hv, dp, dtw, spd")
    p.add_argument("--scorer", default=None,
                   help="re-score shortlisted pairs from stored features: chamfer, or visil (the comparator trained "
                        "here; needs a library indexed with --feature regions)")
    p.add_argument("--scorer-map", action="store_true",
                   help="align on the scorer's refined frame-to-frame map instead of the kNN map")
    p.add_argument("--scorer-blend", choices=("window", "pair"), default=None,
                   help="fold the scorer into segment scores by its similarity inside each segment's box (window) or "
                        "its video-level score (pair); default: the scorer's own (chamfer: window, visil: pair)")
    p.add_argument("--variants", default=None,
                   help="query-side variants, comma-separated, from flip,halves,center,uncropped,vcrop,hcrop "
                        "(default: flip,halves,center,uncropped; '' for none)")
    p.add_argument("--query-fps", type=_positive_float, default=None,
                   help="query sampling rate in frames/s (default 8; denser than the library's)")
    p.add_argument("--k", type=int, default=64, help="neighbours per query frame (default 64)")
    p.add_argument("--max-distance", type=int, default=76, help="max Hamming distance of a frame hit (default 76)")
    p.add_argument("--max-candidates", type=int, default=50, help="reference videos aligned per query")
    p.add_argument("--min-score", type=float, default=0.3, help="smallest match score reported (0..1)")
    p.add_argument("--cross-suppress", type=float, default=1.0,
                   help="multiply by this (0..1) the score of a segment that covers the same query time as a "
                        "better segment of another reference (default 1: off)")


# ---------------------------------------------------------------- commands
def cmd_index(args) -> int:
    from vidtrace.decode import expand_paths
    from vidtrace.library import Library, LibraryConfig

    paths = expand_paths(args.paths)
    config = LibraryConfig(
        feature={"name": args.feature, "min_quality": args.min_quality}, fps=args.fps, max_size=args.max_size,
        keyframes={"name": args.keyframes}, index={"name": args.index})
    with Library.open(args.db, writable=True, create=True, config=config) as lib:
        if (args.fps, args.index, args.feature) != (lib.config.fps, lib.config.index["name"], lib.config.feature["name"]) \
                and args.explicit_config:
            print(f"note: {args.db} keeps its own configuration (fps={lib.config.fps}, "
                  f"feature={lib.config.feature['name']}, index={lib.config.index['name']})", file=sys.stderr)
        bar = Progress(len(paths), enabled=not args.quiet)
        t0 = time.perf_counter()
        results = lib.index_files(paths, workers=args.workers,
                                  on_result=lambda r: bar.step(f"{r.status:8s} {os.path.basename(r.path)}"))
        wall = time.perf_counter() - t0
        stats = lib.stats()
    indexed = [r for r in results if r.status == "indexed"]
    skipped = [r for r in results if r.status == "skipped"]
    failed = [r for r in results if r.status == "failed"]
    vsec = sum(r.duration for r in indexed)
    rows = [["indexed", str(len(indexed)), f"{vsec:.1f}", str(sum(r.frames for r in indexed))],
            ["skipped", str(len(skipped)), f"{sum(r.duration for r in skipped):.1f}", "-"],
            ["failed", str(len(failed)), "-", "-"]]
    print(_table(rows, ["files", "count", "video s", "frames"]))
    speed = f"{vsec / wall:.1f} video-s per wall-s" if wall > 0 and vsec else "-"
    print(f"library {args.db}: {stats['videos']} videos, {stats['frames']} frames, "
          f"{stats['bytes'] / 1e6:.2f} MB; this run {wall:.1f} s ({speed})")
    for r in skipped:
        if args.verbose:
            print(f"skipped {r.path}: {r.message}")
    for r in failed:
        print(f"error: {r.path}: {r.message}", file=sys.stderr)
    return 1 if failed else 0


def _print_result(res, args, query_id: str) -> None:
    from vidtrace.types import rows_from_results, write_match_csv

    if args.json:
        print(json.dumps(res.to_json(), indent=2))
        return
    if args.csv:
        sys.stdout.write(write_match_csv(rows_from_results([res], [query_id])))
        return
    if not res.matches:
        print(f"{res.query}: no copied footage found ({res.duration:.2f} s searched)")
        return
    rows = []
    for m in res.matches:
        for s in m.segments:
            flags = ",".join(f for f, on in (("reversed", s.reversed), ("flipped", s.flipped)) if on)
            rows.append([str(m.reference_id), m.reference, f"{m.score:.3f}",
                         f"{s.query_start:.2f}-{s.query_end:.2f}", f"{s.reference_start:.2f}-{s.reference_end:.2f}",
                         f"{s.score:.3f}", flags])
    print(f"{res.query} ({res.duration:.2f} s): {len(res.matches)} matching video(s)")
    print(_table(rows, ["id", "reference", "score", "query s", "reference s", "seg score", "flags"]))


def cmd_query(args) -> int:
    from vidtrace.library import Library
    from vidtrace.search import search_file

    params = _search_params(args)
    lib = Library.open(args.db)
    try:
        res = search_file(lib, args.video, params)
    finally:
        lib.close()
    _print_result(res, args, Path(args.video).stem)
    return 0


def cmd_compare(args) -> int:
    from vidtrace.compare import compare_files
    from vidtrace.library import LibraryConfig

    config = LibraryConfig(feature={"name": args.feature, "min_quality": args.min_quality}, fps=args.fps,
                           max_size=args.max_size)
    res = compare_files(args.a, args.b, config, _search_params(args))
    _print_result(res, args, Path(args.a).stem)
    return 0


def cmd_list(args) -> int:
    from vidtrace.library import Library

    with Library.open(args.db) as lib:
        videos = lib.videos()
        stats = lib.stats()
    if args.json:
        print(json.dumps([v.to_json() for v in videos], indent=2))
        return 0
    rows = [[str(v.id), v.path, f"{v.duration:.2f}", str(v.n_frames), str(v.n_indexed), v.status] for v in videos]
    print(_table(rows, ["id", "path", "duration s", "frames", "searchable", "status"]))
    print(f"{stats['videos']} videos, {stats['frames']} frames, {stats['bytes'] / 1e6:.2f} MB")
    return 0


def cmd_remove(args) -> int:
    from vidtrace.library import Library

    status = 0
    with Library.open(args.db, writable=True) as lib:
        ids = []
        for ref in args.refs:
            found = lib.find(ref)
            if not found:
                print(f"error: {ref}: not in library {args.db}", file=sys.stderr)
                status = 1
            ids.extend(v.id for v in found)
        n = lib.remove(sorted(set(ids))) if ids else 0
    print(f"removed {n} video(s) from {args.db}")
    return status


def cmd_demo(args) -> int:
    from vidtrace.demo import run_demo

    return run_demo(Path(args.out), seed=args.seed, quiet=args.quiet)


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from vidtrace import __version__

    parser = argparse.ArgumentParser(prog="vidtrace", description="Segment-level video copy detection and retrieval.")
    parser.add_argument("--version", action="version", version=f"vidtrace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add_feature_options(p):
        p.add_argument("--fps", type=_positive_float, default=2.0, help="frames sampled per second (default 2)")
        p.add_argument("--feature", default="pdq", help="frame descriptor (default: pdq)")
        p.add_argument("--min-quality", type=int, default=50,
                   help="frame quality (0-100) under which frames are stored but not searched")
        p.add_argument("--max-size", type=int, default=256, help="frames are resized to this longest side (px)")

    p = sub.add_parser("index", help="index video files or folders (recursively) into a library")
    p.add_argument("paths", nargs="+", help="video files or folders")
    p.add_argument("--db", required=True, help="library directory (created if missing)")
    add_feature_options(p)
    p.add_argument("--index", default="flat", help="index type: flat (exact, default) or hnsw (approximate)")
    p.add_argument("--keyframes", default="uniform",
                   help="keyframe selector: uniform (default), change, or ske (learned SSAN keyframes; needs --fps 8)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="files decoded in parallel (default: min(2, CPUs))")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="list skipped files")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("query", help="find indexed videos that hold copies of a query video's footage")
    p.add_argument("video")
    p.add_argument("--db", required=True)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--csv", action="store_true", help="print VSC2022 matching CSV rows")
    _add_search_options(p)
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("compare", help="compare two videos directly (no library)")
    p.add_argument("a", help="query video")
    p.add_argument("b", help="reference video")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", action="store_true")
    add_feature_options(p)
    _add_search_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("list", help="list the videos in a library")
    p.add_argument("--db", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("remove", help="remove videos (by id, path or content hash) from a library")
    p.add_argument("refs", nargs="+")
    p.add_argument("--db", required=True)
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("demo", help="generate a corpus, plant copies, index, query, and compare with the truth")
    p.add_argument("--out", default="demo-out", help="working directory (default: demo-out)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)

    from vidtrace.eval.report import add_eval_parser

    add_eval_parser(sub)
    _add_optional_groups(sub)
    return parser


def _add_optional_groups(sub) -> None:
    """Sub-commands whose modules register themselves: bench, models, train."""
    import importlib
    import importlib.util

    for module, func in (("vidtrace.bench.cli", "add_bench_parser"), ("vidtrace.models.cli", "add_models_parser")):
        if importlib.util.find_spec(module) is not None:
            getattr(importlib.import_module(module), func)(sub)
    trainers = [m for m in ("vidtrace.train.spd", "vidtrace.train.ske", "vidtrace.train.ssan", "vidtrace.train.s2vs")
                if importlib.util.find_spec(m) is not None]
    if trainers:
        p = sub.add_parser("train", help="train a learned model (needs the train extra: torch)")
        tsub = p.add_subparsers(dest="trainer", metavar="MODEL")
        tsub.required = True
        for m in trainers:
            mod = importlib.import_module(m)
            if hasattr(mod, "add_train_parser"):
                mod.add_train_parser(tsub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.explicit_config = any(a.startswith(("--fps", "--index", "--feature")) for a in argv)
    try:
        return int(args.func(args) or 0)
    except VidtraceError as exc:
        print(f"vidtrace: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidtrace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
