"""The ``vidtrace bench`` command: ``bench make`` builds a benchmark, ``bench run`` measures pipelines on it.

    vidtrace bench make --from VIDEOS --out DIR --seed N [--split eval|train] [--queries N] [--negatives N] ...
    vidtrace bench run --bench DIR [--config NAME=JSON ...] [--aligner tn,hv,dp,dtw] [--json OUT]
"""

from __future__ import annotations

import argparse
import sys


def _pair(kind: type, what: str):
    """argparse type: "MIN:MAX" (or one value for both) of `kind`."""

    def parse(text: str):
        lo, sep, hi = text.partition(":")
        try:
            low = kind(lo)
            high = kind(hi) if sep else low
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} as MIN:MAX, got {text!r}") from None
        return (low, high)

    return parse


def _fps_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frame rates like 24,25,30, got {text!r}") from None


def cmd_make(args: argparse.Namespace) -> int:
    """Run ``bench make``: print a summary; warn about transformations the benchmark does not cover."""
    from vidtrace.bench.make import MakeOptions, make_benchmark, say

    values = {k: getattr(args, k) for k in ("split", "queries", "negatives", "copy_seconds", "filler_seconds",
                                            "long_side", "holdout", "synth_filler", "refs", "crf", "workers")
              if getattr(args, k) is not None}
    if args.fps is not None:
        values["fps_choices"] = args.fps
    options = MakeOptions(**values)
    summary = make_benchmark(args.source, args.out, args.seed, options, progress=None if args.quiet else say)
    for w in summary.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if summary.missing:
        print(f"warning: not covered (too few queries?): {', '.join(summary.missing)}", file=sys.stderr)
    print(f"benchmark {summary.out}: {summary.references} references, {summary.queries} queries "
          f"({summary.query_seconds:.1f} s of video), {summary.gt_rows} ground-truth segments")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run ``bench run``: one table row per configuration, results JSON path at the end."""
    from vidtrace.bench.make import say
    from vidtrace.bench.run import expand_configs, parse_config, run_benchmark

    configs = [parse_config(c) for c in args.config or []]
    aligners = [a for a in (args.aligner or "").split(",") if a]
    configs = expand_configs(configs, aligners)
    doc = run_benchmark(args.bench, configs, json_out=args.json, workers=args.workers,
                        emit=lambda line: print(line, flush=True), progress=None if args.quiet else say)
    print(f"results: {doc['json']}", file=sys.stderr)
    return 1 if any("error" in r for r in doc["results"]) else 0


def add_bench_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``bench`` command (sub-commands make and run) to an argparse subparsers object."""
    parser = subparsers.add_parser("bench", help="build a copy-detection benchmark from real videos, or run one",
                                   description="Build a segment-level copy-detection benchmark (make) and "
                                               "measure pipeline configurations on it (run).")
    sub = parser.add_subparsers(dest="bench_command", metavar="make|run")
    sub.required = True

    p = sub.add_parser("make", help="write references, queries, ground truth and manifest",
                       description="Write a benchmark: references (family roots of the split), queries (partial "
                                   "copies with 0-2 transformations in unrelated footage, montages, negatives), "
                                   "VSC2022 ground truth and a JSON manifest. Same seed, same files.")
    p.add_argument("--from", dest="source", required=True, metavar="DIR", help="folder of source videos")
    p.add_argument("--out", required=True, metavar="DIR", help="new or empty folder for the benchmark")
    p.add_argument("--seed", type=int, required=True, help="seed of every random choice")
    p.add_argument("--split", choices=("eval", "train"), default=None, help="families used (default: eval)")
    p.add_argument("--queries", type=int, default=None, help="number of queries, negatives included (default 50)")
    p.add_argument("--negatives", type=int, default=None, help="queries with no copied footage (default 10)")
    p.add_argument("--copy-seconds", type=_pair(float, "seconds"), default=None, metavar="MIN:MAX",
                   help="length of a copied excerpt (default 2:8)")
    p.add_argument("--filler-seconds", type=_pair(float, "seconds"), default=None, metavar="MIN:MAX",
                   help="length of a filler stretch (default 1:5)")
    p.add_argument("--long-side", type=_pair(int, "pixels"), default=None, metavar="MIN:MAX",
                   help="longer side of a query in pixels (default 384:512)")
    p.add_argument("--fps", type=_fps_list, default=None, metavar="LIST", help="query frame rates (default 24,25,30)")
    p.add_argument("--holdout", type=float, default=None,
                   help="fraction of each similar-scene group kept out of the references as unrelated footage "
                        "(default 0.34)")
    p.add_argument("--synth-filler", type=float, default=None,
                   help="share of filler rendered synthetically (default 0.3)")
    p.add_argument("--refs", choices=("copy", "list"), default=None,
                   help="copy (hard-link when allowed) the references into DIR/references, or list their "
                        "absolute paths in DIR/refs.txt (default: copy)")
    p.add_argument("--crf", type=int, default=None, help="x264 CRF of the query files (default 20)")
    p.add_argument("--workers", type=int, default=None, help="queries rendered in parallel (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_make)

    p = sub.add_parser("run", help="index, query and score configurations; one table row each",
                       description="For each configuration: index the references into a fresh library, query "
                                   "every query, score with vidtrace eval; print one markdown table row.")
    p.add_argument("--bench", required=True, metavar="DIR", help="a folder made by `bench make`")
    p.add_argument("--config", action="append", metavar="NAME=JSON",
                   help="a configuration: LibraryConfig / SearchParams fields as JSON, e.g. "
                        "hnsw='{\"index\": \"hnsw\"}' (repeatable; default: the shipped pipeline)")
    p.add_argument("--aligner", default=None, metavar="LIST",
                   help="run each configuration once per aligner, e.g. tn,hv,dp,dtw")
    p.add_argument("--json", default=None, metavar="OUT",
                   help="results file (default: DIR/results/<UTC time>.json; predictions beside it)")
    p.add_argument("--workers", type=int, default=1, help="index worker processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_run)
    return parser
