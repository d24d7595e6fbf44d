"""``vidtrace models list`` and ``vidtrace models download NAME... [--cache DIR]``.

Neither imports torch: listing and downloading weight files needs only the
standard library (vidtrace.models.weights).
"""

from __future__ import annotations

import argparse
import json
import sys

from vidtrace.errors import ModelError


def _size_text(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.1f} MB"


def _status(name: str, cache: str | None) -> tuple[str, str]:
    """(state, path): "cached" with the copy's path, or "missing" with where it would go."""
    from vidtrace.models.weights import cache_dir, cached_file, get_weights

    found = cached_file(name, cache)
    if found is not None:
        return "cached", str(found)
    return "missing", str(cache_dir(cache) / get_weights(name).filename)


def cmd_models_list(args) -> int:
    from vidtrace.cli import _table
    from vidtrace.models.weights import WEIGHTS

    rows = []
    for name in sorted(WEIGHTS):
        entry = WEIGHTS[name]
        state, where = _status(name, args.cache)
        rows.append({"name": name, "size": entry.size, "cached": state == "cached", "path": where,
                     "sha256": entry.sha256, "url": entry.url, "license": entry.license})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(_table([[r["name"], _size_text(r["size"]), "yes" if r["cached"] else "no", r["path"]] for r in rows],
                 ["name", "size", "cached", "path"]))
    return 0


class _Bar:
    """Download progress on stderr: a rewritten line on a terminal, nothing otherwise."""

    def __init__(self, name: str, enabled: bool):
        self.name = name
        self.enabled = enabled and sys.stderr.isatty()

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        of = f" / {total / 1e6:.1f}" if total else ""
        sys.stderr.write(f"\r{self.name}: {done / 1e6:.1f}{of} MB")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def cmd_models_download(args) -> int:
    from vidtrace.models.weights import WEIGHTS, fetch, get_weights

    names = sorted(WEIGHTS) if "all" in args.names else list(dict.fromkeys(args.names))
    entries = [get_weights(n) for n in names]  # unknown names fail before anything is downloaded
    failed = 0
    for entry in entries:
        bar = _Bar(entry.name, not args.quiet)
        try:
            where = fetch(entry.name, args.cache, force=args.force, progress=bar)
        except ModelError as exc:
            bar.close()
            print(f"vidtrace: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        bar.close()
        note = "" if entry.sha256 else " (no published checksum: digest recorded next to it)"
        print(f"{entry.name}: {where}{note}")
    return 1 if failed else 0


def add_models_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``models`` sub-command (list, download) to an argparse subparsers object."""
    parser = subparsers.add_parser("models", help="list and download the weight files of the deep features",
                                   description="Weight files of the optional deep features (not needed by PDQ).")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True
    cache_help = "cache directory (default: $VIDTRACE_CACHE or ~/.cache/vidtrace)"

    p = sub.add_parser("list", help="known weight files: size, whether cached, where")
    p.add_argument("--cache", default=None, metavar="DIR", help=cache_help)
    p.add_argument("--json", action="store_true", help="print JSON (with URL, SHA-256 and license)")
    p.set_defaults(func=cmd_models_list)

    p = sub.add_parser("download", help="download weight files into the cache and verify them")
    p.add_argument("names", nargs="+", metavar="NAME", help="weight file names (see `vidtrace models list`), or all")
    p.add_argument("--cache", default=None, metavar="DIR", help=cache_help)
    p.add_argument("--force", action="store_true", help="download again even when cached")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(func=cmd_models_download)
    return parser
